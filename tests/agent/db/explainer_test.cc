// Explaining slow statements (vitals/explain.h, agent/db/explainer.h) through the public API,
// with a plan source written here that answers what a test gives it and records what it was
// asked. The real PostgreSQL and SQLite sources are tested in tests/integration/.

#include "agent/db/explainer.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/root/agent_access.h"
#include "tests/support/agent_internals.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"
#include "vitals/db.h"
#include "vitals/explain.h"

namespace {

using vitals_test::SampleValue;

std::string SeqScanPlan(const std::string& table, const std::string& filter) {
  return "[{\"Plan\": {\"Node Type\": \"Seq Scan\", \"Relation Name\": \"" + table +
         "\", \"Alias\": \"" + table + "\", \"Plan Rows\": 1, \"Filter\": \"" + filter + "\"}}]";
}

class ScriptedSource : public vitals::PlanSource {
 public:
  explicit ScriptedSource(vitals::PlanFormat format = vitals::PlanFormat::kPostgresJson)
      : format_(format) {}

  vitals::PlanFormat format() const override { return format_; }

  absl::StatusOr<std::string> Explain(const std::string& statement,
                                      const std::vector<vitals::PlanParam>& params) override {
    std::unique_lock<std::mutex> lock(mu_);
    calls.push_back({statement, params, std::this_thread::get_id()});
    if (block) {
      entered = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return cancelled > 0; });
      return absl::DeadlineExceededError("canceling statement due to user request");
    }
    if (!error.ok()) return error;
    for (const auto& [prefix, plan] : plans) {
      if (statement.rfind(prefix, 0) == 0) return plan;
    }
    return absl::InvalidArgumentError("no plan scripted for " + statement);
  }

  absl::StatusOr<double> TableRows(const std::string& table) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = rows.find(table);
    if (it == rows.end()) return absl::NotFoundError("never analyzed");
    return it->second;
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++cancelled;
    cv_.notify_all();
  }

  int Cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled;
  }
  void Unblock() {
    std::lock_guard<std::mutex> lock(mu_);
    block = false;
  }

  void WaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered; });
  }

  struct Call {
    std::string statement;
    std::vector<vitals::PlanParam> params;
    std::thread::id thread;
  };
  std::vector<Call> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls;
  }

  // Set before the source is handed to the agent.
  std::map<std::string, std::string> plans;  // statement prefix -> plan
  std::map<std::string, double> rows;
  absl::Status error;
  bool block = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls;
  bool entered = false;
  int cancelled = 0;

 private:
  vitals::PlanFormat format_;
};

struct Fixture : vitals_test::ClockAndLog {
  Fixture() {
    options = Options();
    options.process_metrics = false;
    options.http_enabled = false;
    options.explain_threshold = absl::Milliseconds(10);
    options.explain_interval = absl::Minutes(5);
    options.explain_min_rows = 1000;
  }
  vitals::Options options;
};

const vitals::DbTarget kTarget("postgresql", "shop", "db.internal", 5432);

// A call of `sql` that takes `ms` on the fake clock, with what EXPLAIN needs.
void Call(Fixture& f, vitals::Agent& agent, const std::string& sql, double ms,
          const vitals::StatementParams& params = {}, const char* error = nullptr) {
  vitals::DbOperation op(agent, kTarget, sql);
  op.set_plan_input(sql, params);
  if (error != nullptr) op.set_error(error);
  f.clock.AdvanceMs(ms);
}

vitals::internal::Explainer& Explainer(vitals::Agent& agent) {
  return *vitals::internal::AgentAccess::Impl(agent).db()->explainer();
}

double Outcome(vitals::Agent& agent, const std::string& outcome) {
  return SampleValue(
      agent.RenderText(),
      "vitals_db_explains_total{db_system_name=\"postgresql\",outcome=\"" + outcome + "\"}");
}

const std::string kCandidates =
    "vitals_db_index_candidates_total{db_system_name=\"postgresql\",db_namespace=\"shop\","
    "db_collection_name=\"";

}  // namespace

TEST_CASE(
    "a slow call is explained once per interval, with its exact parameters, on the "
    "agent's thread",
    "[db][explain]") {
  Fixture f;
  vitals::Agent agent(f.options);
  auto source = std::make_unique<ScriptedSource>();
  source->plans["SELECT name FROM users"] = SeqScanPlan("users", "(email = $1)");
  source->rows["users"] = 50000;
  ScriptedSource* s = source.get();
  REQUIRE(agent.SetPlanSource(kTarget, std::move(source)).ok());

  const std::string sql = "SELECT name FROM users WHERE email = $1 AND blob = $2 AND x = $3";
  const std::string bytes("\0\x01\xff\"'\\\n", 7);
  const char* values[] = {"a@example.com", bytes.data(), nullptr};
  const int lengths[] = {0, 7, 0};
  const int formats[] = {0, 1, 0};
  const unsigned int types[] = {0, 17, 23};
  Call(f, agent, sql, 5, {3, values, lengths, formats, types});  // below the threshold
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(s->Calls().empty());
  Call(f, agent, sql, 20, {3, values, lengths, formats, types});
  REQUIRE(vitals_test::ExplainsSettled(agent));
  std::vector<ScriptedSource::Call> calls = s->Calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].statement == sql);
  CHECK(calls[0].thread != std::this_thread::get_id());
  REQUIRE(calls[0].params.size() == 3);
  CHECK(calls[0].params[0].value == "a@example.com");
  CHECK(!calls[0].params[0].binary);
  CHECK(calls[0].params[1].value == bytes);
  CHECK(calls[0].params[1].binary);
  CHECK(calls[0].params[1].type == 17);
  CHECK(calls[0].params[2].null);
  CHECK(calls[0].params[2].type == 23);

  // Within the interval: not again, however slow.
  for (int i = 0; i < 5; ++i) Call(f, agent, sql, 50, {3, values, lengths, formats, types});
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(s->Calls().size() == 1);
  f.clock.Advance(absl::ToInt64Nanoseconds(absl::Minutes(5)));
  Call(f, agent, sql, 50, {3, values, lengths, formats, types});
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(s->Calls().size() == 2);
  CHECK(Outcome(agent, "ok") == 2);
  // The plan is kept with the statement.
  const auto row = vitals_test::StatementRow(agent, "FROM users WHERE email", false);
  REQUIRE(row.plan != nullptr);
  CHECK(row.plan->top == "Seq Scan on users");
  CHECK(row.plan->error.empty());
  CHECK(row.plan->text == SeqScanPlan("users", "(email = $1)"));
}

TEST_CASE("a filtered full read of a large table is an index candidate, of a small one not",
          "[db][explain]") {
  Fixture f;
  vitals::Agent agent(f.options);
  auto source = std::make_unique<ScriptedSource>();
  source->plans["SELECT id FROM users"] =
      SeqScanPlan("users", "((email)::text = 'x'::text) AND (age > 3)");
  source->plans["SELECT id FROM tiny"] = SeqScanPlan("tiny", "(name = 'x'::text)");
  source->plans["SELECT id FROM fresh"] = SeqScanPlan("fresh", "(v = 1)");
  // "fresh" was never analyzed: the planner's estimate of the whole table is asked instead.
  source->plans["SELECT * FROM \"fresh\""] =
      "[{\"Plan\": {\"Node Type\": \"Seq Scan\", \"Relation Name\": \"fresh\", \"Plan Rows\": "
      "30000}}]";
  source->rows["users"] = 50000;
  source->rows["tiny"] = 10;
  ScriptedSource* s = source.get();
  REQUIRE(agent.SetPlanSource(kTarget, std::move(source)).ok());

  Call(f, agent, "SELECT id FROM users WHERE email = 'x' AND age > 3", 20);
  Call(f, agent, "SELECT id FROM tiny WHERE name = 'x'", 20);
  Call(f, agent, "SELECT id FROM fresh WHERE v = 1", 20);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  const std::string text = agent.RenderText();
  CHECK(SampleValue(text, kCandidates + "users\"}") == 1);
  CHECK(SampleValue(text, kCandidates + "fresh\"}") == 1);
  CHECK(text.find(kCandidates + "tiny\"}") == std::string::npos);

  const auto users = vitals_test::StatementRow(agent, "FROM users", false);
  REQUIRE(users.plan != nullptr);
  REQUIRE(users.plan->candidates.size() == 1);
  CHECK(users.plan->candidates[0].table == "users");
  CHECK(users.plan->candidates[0].columns == std::vector<std::string>{"email", "age"});
  CHECK(users.plan->candidates[0].table_rows == 50000);
  const auto fresh = vitals_test::StatementRow(agent, "FROM fresh", false);
  REQUIRE(fresh.plan != nullptr);
  REQUIRE(fresh.plan->candidates.size() == 1);
  CHECK(fresh.plan->candidates[0].table_rows == 30000);
  const auto tiny = vitals_test::StatementRow(agent, "FROM tiny", false);
  REQUIRE(tiny.plan != nullptr);
  CHECK(tiny.plan->top == "Seq Scan on tiny");
  CHECK(tiny.plan->candidates.empty());
  CHECK(
      f.sink->Contains("index candidate: `SELECT id FROM users WHERE email = ? AND age > ?` "
                       "reads all of users (about 50000 rows) to filter on email, age; an "
                       "index on users (email) would let it read only the rows it needs"));
  CHECK(!f.sink->Contains("reads all of tiny"));
  (void)s;
}

TEST_CASE(
    "SQLite plans: a full scan of a filtered statement is a candidate, an unfiltered one "
    "is what was asked for",
    "[db][explain]") {
  Fixture f;
  vitals::Agent agent(f.options);
  const vitals::DbTarget target("sqlite", "main");
  auto source = std::make_unique<ScriptedSource>(vitals::PlanFormat::kSqliteQueryPlan);
  source->plans["SELECT id FROM users WHERE"] = "SCAN users\n";
  source->plans["SELECT id FROM users ORDER"] = "SCAN users\nUSE TEMP B-TREE FOR ORDER BY\n";
  source->plans["SELECT id FROM orders"] = "SEARCH orders USING INDEX orders_user (user_id=?)\n";
  REQUIRE(agent.SetPlanSource(target, std::move(source)).ok());
  for (const char* sql :
       {"SELECT id FROM users WHERE email = ?", "SELECT id FROM users ORDER BY id",
        "SELECT id FROM orders WHERE user_id = ?"}) {
    vitals::DbOperation op(agent, target, sql);
    op.set_plan_input(sql);
    f.clock.AdvanceMs(20);
  }
  REQUIRE(vitals_test::ExplainsSettled(agent));
  const std::string text = agent.RenderText();
  CHECK(SampleValue(text,
                    "vitals_db_index_candidates_total{db_system_name=\"sqlite\",db_namespace="
                    "\"main\",db_collection_name=\"users\"}") == 1);
  CHECK(text.find("vitals_db_index_candidates_total{db_system_name=\"sqlite\",db_namespace="
                  "\"main\",db_collection_name=\"orders\"}") == std::string::npos);
  const auto users = vitals_test::StatementRow(agent, "FROM users WHERE", false);
  REQUIRE(users.plan != nullptr);
  REQUIRE(users.plan->candidates.size() == 1);
  CHECK(users.plan->candidates[0].table_rows == -1);  // SQLite has no estimate: not known
  CHECK(vitals_test::StatementRow(agent, "ORDER BY", false).plan->candidates.empty());
  CHECK(vitals_test::StatementRow(agent, "FROM orders", false).plan->top ==
        "SEARCH orders USING INDEX orders_user (user_id=?)");
}

TEST_CASE("a failing EXPLAIN is kept with the statement, counted, and logged once per target",
          "[db][explain]") {
  Fixture f;
  vitals::Agent agent(f.options);
  auto source = std::make_unique<ScriptedSource>();
  source->error = absl::DeadlineExceededError("canceling statement due to statement timeout");
  ScriptedSource* s = source.get();
  REQUIRE(agent.SetPlanSource(kTarget, std::move(source)).ok());
  for (int i = 0; i < 3; ++i) {
    for (int t = 0; t < 4; ++t) {
      Call(f, agent, "SELECT a FROM t" + std::to_string(t) + " WHERE b = 1", 20);
    }
    REQUIRE(vitals_test::ExplainsSettled(agent));
  }
  // Four statements, each tried once in its interval; one line for the target.
  CHECK(s->Calls().size() == 4);
  CHECK(Outcome(agent, "timeout") == 4);
  int lines = 0;
  for (const std::string& l : f.sink->lines()) {
    if (l.find("EXPLAIN of") != std::string::npos) ++lines;
  }
  CHECK(lines == 1);
  const auto row = vitals_test::StatementRow(agent, "FROM t2", false);
  REQUIRE(row.plan != nullptr);
  CHECK(row.plan->error == "canceling statement due to statement timeout");
  CHECK(row.plan->top.empty());
}

TEST_CASE(
    "what is not explained: fast, failed, without plan input, without a source, too "
    "large",
    "[db][explain]") {
  Fixture f;
  vitals::Agent agent(f.options);
  auto source = std::make_unique<ScriptedSource>();
  source->plans["SELECT"] = SeqScanPlan("t", "(a = 1)");
  ScriptedSource* s = source.get();
  REQUIRE(agent.SetPlanSource(kTarget, std::move(source)).ok());
  CHECK(agent.SetPlanSource(kTarget, std::make_unique<ScriptedSource>()).code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(agent.HasPlanSource(kTarget));
  CHECK(!agent.HasPlanSource(vitals::DbTarget("postgresql", "other", "db.internal", 5432)));

  Call(f, agent, "SELECT a FROM fast WHERE b = 1", 1);
  Call(f, agent, "SELECT a FROM failed WHERE b = 1", 50, {}, "57014");
  {
    vitals::DbOperation op(agent, kTarget, "SELECT a FROM no_input WHERE b = 1");
    f.clock.AdvanceMs(50);
  }
  {
    const vitals::DbTarget elsewhere("postgresql", "other", "db.internal", 5432);
    vitals::DbOperation op(agent, elsewhere, "SELECT a FROM elsewhere WHERE b = 1");
    op.set_plan_input("SELECT a FROM elsewhere WHERE b = 1");
    f.clock.AdvanceMs(50);
  }
  const std::string huge = "SELECT a FROM huge WHERE b = 1 /*" + std::string(1 << 20, 'x') + "*/";
  Call(f, agent, huge, 50);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(s->Calls().empty());
  CHECK(Outcome(agent, "skipped") == 2);  // the other target's call and the huge one
  CHECK(
      f.sink->Contains("slow statements on postgresql database other are not explained: no "
                       "plan source for it (vitals/explain.h)"));
  CHECK(f.sink->Contains("larger than 1 MiB"));

  vitals::Options off = f.options;
  off.explain_threshold = absl::ZeroDuration();
  vitals::Agent quiet(off);
  CHECK(quiet.SetPlanSource(kTarget, std::make_unique<ScriptedSource>()).code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(!quiet.HasPlanSource(kTarget));
}

TEST_CASE("the explain queue is bounded and Stop cancels the EXPLAIN in progress",
          "[db][explain]") {
  Fixture f;
  vitals::Agent agent(f.options);
  auto source = std::make_unique<ScriptedSource>();
  source->block = true;
  ScriptedSource* s = source.get();
  REQUIRE(agent.SetPlanSource(kTarget, std::move(source)).ok());
  Call(f, agent, "SELECT a FROM first WHERE b = 1", 20);
  s->WaitEntered();  // the thread holds the first job; the next ones queue
  const size_t queued = vitals::internal::Explainer::kMaxQueued;
  for (size_t i = 0; i < queued + 3; ++i) {
    Call(f, agent, "SELECT a FROM t" + std::to_string(i) + " WHERE b = 1", 20);
  }
  CHECK(Outcome(agent, "skipped") == 3);
  Explainer(agent).Stop();  // returns: the blocked EXPLAIN was cancelled, the queue dropped
  CHECK(s->Cancelled() == 1);
  CHECK(s->Calls().size() == 1);
  CHECK(Outcome(agent, "timeout") == 1);
  // The dropped statements are due again at once; a new call starts the thread again.
  s->Unblock();
  Call(f, agent, "SELECT a FROM t0 WHERE b = 1", 20);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(s->Calls().size() == 2);
}

TEST_CASE("slow calls of one statement from many threads at once queue one EXPLAIN",
          "[db][explain][concurrency]") {
  Fixture f;
  vitals::Agent agent(f.options);
  auto source = std::make_unique<ScriptedSource>();
  source->plans["SELECT"] = SeqScanPlan("t", "(a = 1)");
  source->rows["t"] = 5;  // known: no second EXPLAIN for the table's size
  ScriptedSource* s = source.get();
  REQUIRE(agent.SetPlanSource(kTarget, std::move(source)).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) Call(f, agent, "SELECT a FROM t WHERE b = 1", 20);
    });
  }
  for (std::thread& t : threads) t.join();
  REQUIRE(vitals_test::ExplainsSettled(agent));
  // 1,600 calls of 20 ms on the fake clock: 32 s, inside one 5-minute interval.
  CHECK(s->Calls().size() == 1);
  CHECK(Outcome(agent, "ok") == 1);
}

TEST_CASE("set_plan_input_copy keeps statement and parameters that go before the operation ends",
          "[db][explain]") {
  Fixture f;
  vitals::Agent agent(f.options);
  auto source = std::make_unique<ScriptedSource>();
  ScriptedSource* s = source.get();
  REQUIRE(agent.SetPlanSource(kTarget, std::move(source)).ok());
  {
    std::string sql = "SELECT name FROM users WHERE email = $1 AND blob = $2 AND x = $3";
    vitals::DbOperation op(agent, kTarget, sql);
    {
      // Built here and gone (and the statement overwritten) before the operation finishes:
      // under AddressSanitizer a view of them would be a use after free.
      std::vector<vitals::PlanParam> params(3);
      params[0].value = "a@example.com";
      params[1].value = std::string("\0\x01\xff", 3);
      params[1].binary = true;
      params[1].type = 17;
      params[2].null = true;
      params[2].type = 23;
      op.set_plan_input_copy(sql, std::move(params));
    }
    sql.assign(sql.size(), 'x');
    f.clock.AdvanceMs(20);
  }
  REQUIRE(vitals_test::ExplainsSettled(agent));
  const std::vector<ScriptedSource::Call> calls = s->Calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].statement == "SELECT name FROM users WHERE email = $1 AND blob = $2 AND x = $3");
  REQUIRE(calls[0].params.size() == 3);
  CHECK(calls[0].params[0].value == "a@example.com");
  CHECK(!calls[0].params[0].binary);
  CHECK(calls[0].params[1].value == std::string("\0\x01\xff", 3));
  CHECK(calls[0].params[1].binary);
  CHECK(calls[0].params[1].type == 17);
  CHECK(calls[0].params[2].null);
}
