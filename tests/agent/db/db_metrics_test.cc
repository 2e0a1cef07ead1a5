// Database call recording, per-request counting and N+1 detection, through the public API.

#include "agent/db/db_metrics.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/root/agent_access.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"
#include "vitals/db.h"

namespace {

using vitals_test::SampleValue;

struct Fixture : vitals_test::ClockAndLog {
  vitals::Options Opts() {
    vitals::Options o = Options();
    o.process_metrics = false;
    return o;
  }
};

const std::string kPerRequest = "http_server_request_db_queries";

// Runs one request on `route` that sends `per_statement[i]` calls of statement i.
void Request(vitals::Agent& agent, const std::string& route, const std::vector<int>& counts) {
  vitals::RequestScope scope(agent, "GET", route);
  for (size_t s = 0; s < counts.size(); ++s) {
    for (int i = 0; i < counts[s]; ++i) {
      agent.RecordDbOperation(
          "sqlite", "SELECT name FROM t" + std::to_string(s) + " WHERE id = " + std::to_string(i),
          absl::Microseconds(100));
    }
  }
}

TEST_CASE("calls are timed by system, operation and table, never by statement text", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  {
    vitals::DbOperation op(agent, "postgresql", "UPDATE accounts SET x = 1 WHERE id = 7");
    f.clock.AdvanceMs(3);
  }
  agent.RecordDbOperation("postgresql", "select * from users where id=1", absl::Milliseconds(20));
  agent.RecordDbOperation("postgresql", "select * from users where id=2", absl::Milliseconds(2));
  vitals::DbOperation cancelled(agent, "postgresql", "DELETE FROM x");
  cancelled.Cancel();
  const std::string body = agent.RenderText();
  const std::string users =
      "db_client_operation_duration_seconds_count{db_system_name=\"postgresql\",db_operation_name="
      "\"SELECT\",db_collection_name=\"users\",error_type=\"\",db_namespace=\"\",server_address="
      "\"\",server_port=\"\"}";
  CHECK(SampleValue(body, users) == 2);
  CHECK(SampleValue(body,
                    "db_client_operation_duration_seconds_sum{db_system_name=\"postgresql\",db_"
                    "operation_name=\"UPDATE\",db_collection_name=\"accounts\",error_type=\"\",db_"
                    "namespace=\"\",server_address=\"\",server_port=\"\"}") == Approx(0.003));
  // A cancelled operation counts nothing (its statement was resolved when it was made).
  CHECK(SampleValue(body,
                    "db_client_operation_duration_seconds_count{db_system_name=\"postgresql\",db_"
                    "operation_name=\"DELETE\",db_collection_name=\"x\",error_type=\"\",db_"
                    "namespace=\"\",server_address=\"\",server_port=\"\"}") <= 0);
  CHECK(body.find("id = ") == std::string::npos);  // no statement text anywhere
}

// The target labels of a call made without a DbTarget.
const std::string kNoTarget = ",db_namespace=\"\",server_address=\"\",server_port=\"\"";

TEST_CASE("a failed call is recorded with its error type, apart from the successful ones", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  {
    vitals::DbOperation op(agent, "postgresql", "INSERT INTO orders (id) VALUES (1)");
    f.clock.AdvanceMs(2);
    op.set_error("23505");  // unique_violation's SQLSTATE
    CHECK(op.failed());
  }
  { vitals::DbOperation op(agent, "postgresql", "INSERT INTO orders (id) VALUES (2)"); }
  agent.RecordDbOperation("postgresql", "INSERT INTO orders (id) VALUES (3)",
                          absl::Milliseconds(5000), "timeout");
  {
    vitals::DbOperation op(agent, "postgresql", "INSERT INTO orders (id) VALUES (4)");
    op.set_error("");  // failed, no type given
  }
  const std::string body = agent.RenderText();
  const std::string series =
      "db_client_operation_duration_seconds_count{db_system_name=\"postgresql\","
      "db_operation_name=\"INSERT\",db_collection_name=\"orders\",error_type=";
  CHECK(SampleValue(body, series + "\"\"" + kNoTarget + "}") == 1);
  CHECK(SampleValue(body, series + "\"23505\"" + kNoTarget + "}") == 1);
  CHECK(SampleValue(body, series + "\"timeout\"" + kNoTarget + "}") == 1);
  CHECK(SampleValue(body, series + "\"_OTHER\"" + kNoTarget + "}") == 1);
  CHECK(SampleValue(body,
                    "db_client_operation_duration_seconds_sum{db_system_name=\"postgresql\","
                    "db_operation_name=\"INSERT\",db_collection_name=\"orders\",error_type="
                    "\"23505\",db_namespace=\"\",server_address=\"\",server_port=\"\"}") ==
        Approx(0.002));
}

TEST_CASE("a call's target becomes its db_namespace, server_address and server_port labels",
          "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  const vitals::DbTarget primary("postgresql", "shop", "db-1.internal", 5432);
  const vitals::DbTarget replica("postgresql", "shop", "db-2.internal", 5433);
  { vitals::DbOperation op(agent, primary, "SELECT * FROM orders WHERE id = 1"); }
  { vitals::DbOperation op(agent, primary, "SELECT * FROM orders WHERE id = 2"); }
  {
    vitals::DbOperation op(agent, replica, "SELECT * FROM orders WHERE id = 3");
    op.set_error("57P01");  // admin_shutdown: the failed series keeps the target too
  }
  const std::string body = agent.RenderText();
  const std::string orders =
      "db_client_operation_duration_seconds_count{db_system_name=\"postgresql\","
      "db_operation_name=\"SELECT\",db_collection_name=\"orders\",error_type=";
  CHECK(SampleValue(body, orders + "\"\",db_namespace=\"shop\",server_address=\"db-1.internal\","
                                   "server_port=\"5432\"}") == 2);
  CHECK(SampleValue(body, orders +
                              "\"57P01\",db_namespace=\"shop\",server_address=\"db-2.internal\","
                              "server_port=\"5433\"}") == 1);
  // The same statement on two servers is one statement in the table.
  CHECK(body.find("server_address=\"db-2.internal\",server_port=\"5433\"}") != std::string::npos);
}

TEST_CASE("a DbOperation keeps nothing it does not own: temporaries for system and statement",
          "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  auto statement = [](int id) {
    return "SELECT name, email FROM customers WHERE id = " + std::to_string(id) +
           " AND deleted_at IS NULL";
  };
  {
    // Both strings die at the end of this full expression, before the operation ends; under
    // AddressSanitizer a read of either would be a use after free.
    vitals::DbOperation op(agent, std::string("post") + "gresql", statement(7));
    std::string scribble(200, 'x');  // reuses the freed storage, to make a stale read visible
    f.clock.AdvanceMs(4);
  }
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body,
                    "db_client_operation_duration_seconds_count{db_system_name=\"postgresql\","
                    "db_operation_name=\"SELECT\",db_collection_name=\"customers\",error_type="
                    "\"\",db_namespace=\"\",server_address=\"\",server_port=\"\"}") == 1);
  CHECK(body.find("db_operation_name=\"OTHER\"") == std::string::npos);
}

TEST_CASE("a negative duration counts as zero, never as a negative sum", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  agent.RecordDbOperation("sqlite", "SELECT 1 FROM t", absl::Milliseconds(-5));
  const std::string body = agent.RenderText();
  const std::string labels =
      "{db_system_name=\"sqlite\",db_operation_name=\"SELECT\",db_collection_name=\"t\","
      "error_type=\"\",db_namespace=\"\",server_address=\"\",server_port=\"\"";
  CHECK(SampleValue(body, "db_client_operation_duration_seconds_count" + labels + "}") == 1);
  CHECK(SampleValue(body, "db_client_operation_duration_seconds_sum" + labels + "}") == 0);
}

TEST_CASE("each request observes how many calls it made", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  Request(agent, "/a", {2, 1});
  Request(agent, "/a", {});
  agent.RecordDbOperation("sqlite", "SELECT 1", absl::Microseconds(5));  // outside any request
  const std::string body = agent.RenderText();
  const std::string a = "{http_request_method=\"GET\",http_route=\"/a\"";
  CHECK(SampleValue(body, kPerRequest + "_count" + a + "}") == 2);
  CHECK(SampleValue(body, kPerRequest + "_sum" + a + "}") == 3);
  CHECK(SampleValue(body, kPerRequest + "_bucket" + a + ",le=\"0\"}") == 1);
  CHECK(SampleValue(body, kPerRequest + "_bucket" + a + ",le=\"3\"}") == 2);
}

TEST_CASE("N+1: K-1 repeats are fine, K count exactly once per request", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());  // threshold 5
  Request(agent, "/fine", {4, 4, 4});
  Request(agent, "/loop", {5});
  Request(agent, "/many", {50, 7});  // two statements over the threshold: still one request
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body,
                    "vitals_db_n_plus_one_total{http_route=\"/fine\",db_collection_name=\"t0\"}") ==
        -1);
  CHECK(SampleValue(body,
                    "vitals_db_n_plus_one_total{http_route=\"/loop\",db_collection_name=\"t0\"}") ==
        1);
  CHECK(SampleValue(body,
                    "vitals_db_n_plus_one_total{http_route=\"/many\",db_collection_name=\"t0\"}") ==
        1);
  CHECK(SampleValue(body,
                    "vitals_db_n_plus_one_total{http_route=\"/many\",db_collection_name=\"t1\"}") ==
        -1);
  const auto lines = f.sink->lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] ==
        "WARNING N+1 queries: GET /loop ran `SELECT name FROM t0 WHERE id = ?` 5 times "
        "in one request; use one join or one IN (...) query");
  CHECK(lines[1].find("GET /many ran `SELECT name FROM t0 WHERE id = ?` 50 times") !=
        std::string::npos);
}

TEST_CASE("N+1 lines: one per route and statement a minute, with the count held back", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  for (int i = 0; i < 4; ++i) Request(agent, "/loop", {6});  // 0 s: logged, then 3 held back
  Request(agent, "/other", {6});                             // another route: its own line
  f.clock.AdvanceMs(59'000);
  Request(agent, "/loop", {6});  // 59 s: still held back
  f.clock.AdvanceMs(1'000);
  Request(agent, "/loop", {7});  // 60 s: logged, saying 4 were held back
  const auto lines = f.sink->lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("GET /loop ran") != std::string::npos);
  CHECK(lines[1].find("GET /other ran") != std::string::npos);
  CHECK(lines[2] ==
        "WARNING N+1 queries: GET /loop ran `SELECT name FROM t0 WHERE id = ?` 7 times in one "
        "request; use one join or one IN (...) query (4 more since the last such line)");
  CHECK(SampleValue(agent.RenderText(),
                    "vitals_db_n_plus_one_total{http_route=\"/loop\",db_collection_name=\"t0\"}") ==
        6);  // every detection is counted, logged or not
}

TEST_CASE("the N+1 threshold is an option", "[db]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.n_plus_one_threshold = 3;
  vitals::Agent agent(o);
  Request(agent, "/r", {3});
  CHECK(SampleValue(agent.RenderText(),
                    "vitals_db_n_plus_one_total{http_route=\"/r\",db_collection_name=\"t0\"}") ==
        1);
}

TEST_CASE("a request context carried to another thread counts there", "[db][concurrency]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  vitals::RequestContext stale;
  {
    vitals::RequestScope scope(agent, "GET", "/fanout");
    vitals::RequestContext ctx = vitals::RequestContext::Current();
    REQUIRE(ctx.active());
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t) {
      workers.emplace_back([&agent, ctx, t] {
        vitals::RequestContext::Bind bind(ctx);
        for (int i = 0; i < 2; ++i) {
          agent.RecordDbOperation("sqlite", "SELECT * FROM items WHERE id = " + std::to_string(t),
                                  absl::Microseconds(10));
        }
      });
    }
    for (auto& w : workers) w.join();
    // A thread without the context does not count for the request.
    std::thread([&agent] {
      CHECK_FALSE(vitals::RequestContext::Current().active());
      agent.RecordDbOperation("sqlite", "SELECT 1", absl::Microseconds(10));
    }).join();
    stale = ctx;
  }
  CHECK_FALSE(stale.active());  // its request ended
  {
    vitals::RequestContext::Bind bind(stale);  // safe: counts for nobody
    agent.RecordDbOperation("sqlite", "SELECT * FROM items WHERE id = 1", absl::Microseconds(1));
  }
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body,
                    kPerRequest + "_sum{http_request_method=\"GET\",http_route=\"/fanout\"}") == 6);
  // 6 calls of one statement across threads: an N+1 for that request.
  CHECK(SampleValue(
            body,
            "vitals_db_n_plus_one_total{http_route=\"/fanout\",db_collection_name=\"items\"}") ==
        1);
}

TEST_CASE("nested scopes: the inner request is current until it ends", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  {
    vitals::RequestScope outer(agent, "GET", "/outer");
    agent.RecordDbOperation("sqlite", "SELECT 1", absl::Microseconds(1));
    {
      vitals::RequestScope inner(agent, "GET", "/inner");
      agent.RecordDbOperation("sqlite", "SELECT 2", absl::Microseconds(1));
      agent.RecordDbOperation("sqlite", "SELECT 3", absl::Microseconds(1));
    }
    agent.RecordDbOperation("sqlite", "SELECT 4", absl::Microseconds(1));
  }
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body,
                    kPerRequest + "_sum{http_request_method=\"GET\",http_route=\"/outer\"}") == 2);
  CHECK(SampleValue(body,
                    kPerRequest + "_sum{http_request_method=\"GET\",http_route=\"/inner\"}") == 2);
}

TEST_CASE("bookkeeping per request is bounded whatever a request sends", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  {
    vitals::RequestScope scope(agent, "GET", "/huge");
    // 100,000 calls of 5,000 distinct statements, then one loop over a new statement.
    for (int i = 0; i < 100000; ++i) {
      agent.RecordDbOperation("sqlite", "SELECT * FROM t" + std::to_string(i % 5000),
                              absl::Nanoseconds(1));
    }
  }
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, kPerRequest + "_sum{http_request_method=\"GET\",http_route=\"/huge\"}") ==
        100000);
  // The statements past the per-request table are counted, not tracked; the first ones are.
  CHECK(SampleValue(body,
                    "vitals_db_n_plus_one_total{http_route=\"/huge\",db_collection_name=\"t0\"}") ==
        1);
  // The table label has one series per distinct table, bounded by the series limit.
  CHECK(vitals_test::CountLines(body, "db_client_operation_duration_seconds_count{") <= 2001);
}

TEST_CASE("pool metrics", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  vitals::DbPool pool = agent.Pool("main");
  pool.SetMax(8);
  pool.AddIdle(8);
  pool.AddIdle(-3);
  pool.AddUsed(3);
  pool.AddPending(2);
  pool.AddPending(-1);
  pool.RecordWait(absl::Milliseconds(4));
  pool.RecordWait(absl::Milliseconds(600));
  pool.RecordUse(absl::Microseconds(300));
  pool.RecordUse(absl::Milliseconds(20));
  pool.RecordUse(absl::Seconds(2));
  pool.RecordCreate(absl::Milliseconds(7));
  pool.Timeout();
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body,
                    "db_client_connections_usage{db_client_connection_pool_name=\"main\",db_client_"
                    "connection_state=\"idle\"}") == 5);
  CHECK(SampleValue(body,
                    "db_client_connections_usage{db_client_connection_pool_name=\"main\",db_client_"
                    "connection_state=\"used\"}") == 3);
  CHECK(SampleValue(body, "db_client_connection_max{db_client_connection_pool_name=\"main\"}") ==
        8);
  CHECK(SampleValue(
            body,
            "db_client_connection_pending_requests{db_client_connection_pool_name=\"main\"}") == 1);
  CHECK(SampleValue(body,
                    "db_client_connection_wait_time_seconds_count{db_client_connection_pool_name="
                    "\"main\"}") == 2);
  // Use time: 0.3 ms, 20 ms and 2 s; create time: 7 ms.
  CHECK(SampleValue(body,
                    "db_client_connection_use_time_seconds_count{db_client_connection_pool_name="
                    "\"main\"}") == 3);
  CHECK(SampleValue(body,
                    "db_client_connection_use_time_seconds_bucket{db_client_connection_pool_name="
                    "\"main\",le=\"0.0005\"}") == 1);
  CHECK(SampleValue(body,
                    "db_client_connection_use_time_seconds_bucket{db_client_connection_pool_name="
                    "\"main\",le=\"1\"}") == 2);
  CHECK(SampleValue(body,
                    "db_client_connection_use_time_seconds_sum{db_client_connection_pool_name="
                    "\"main\"}") == Approx(2.0203));
  CHECK(SampleValue(body,
                    "db_client_connection_create_time_seconds_sum{db_client_connection_pool_name="
                    "\"main\"}") == Approx(0.007));
  CHECK(SampleValue(
            body, "db_client_connection_timeouts_total{db_client_connection_pool_name=\"main\"}") ==
        1);
}

}  // namespace

namespace {

TEST_CASE("the statement table keeps calls, total and longest time per normalized statement",
          "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  for (int i = 0; i < 30; ++i) {  // literals differ, the normalized text does not
    agent.RecordDbOperation("sqlite", "SELECT name FROM users WHERE id = " + std::to_string(i),
                            absl::Milliseconds(1 + i % 3));  // 1, 2, 3 ms
  }
  agent.RecordDbOperation("sqlite", "UPDATE users SET name = 'x' WHERE id = 7",
                          absl::Milliseconds(200));
  agent.RecordDbOperation("postgresql", "SELECT name FROM users WHERE id = 1",
                          absl::Milliseconds(5));
  const auto& table = vitals::internal::AgentAccess::Impl(agent).db()->statements();
  CHECK(table.size() == 3);
  const auto top = table.Top(10);
  REQUIRE(top.size() == 3);
  // By total time: the update (200 ms), the 30 selects (60 ms), the other system's (5 ms).
  CHECK(top[0].text.rfind("UPDATE users SET name = ? WHERE id = ?", 0) == 0);
  CHECK(top[0].calls == 1);
  CHECK(top[0].max_seconds == Approx(0.2));
  CHECK(top[1].system == "sqlite");
  CHECK(top[1].table == "users");
  CHECK(top[1].text.find("SELECT") == 0);
  CHECK(top[1].text.find("7") == std::string::npos);
  CHECK(top[1].calls == 30);
  CHECK(top[1].total_seconds == Approx(0.060));
  CHECK(top[1].max_seconds == Approx(0.003));
  CHECK(top[2].system == "postgresql");
  CHECK(table.Top(1).size() == 1);
  // Never a label: the exposition has no statement text.
  CHECK(agent.RenderText().find("WHERE id") == std::string::npos);
}

TEST_CASE("the statement table is bounded: past its limit statements share one entry", "[db]") {
  vitals::internal::StatementTable table(3);
  std::vector<vitals::internal::StatementStats*> got;
  for (int i = 0; i < 10; ++i) {
    got.push_back(table.Find("sqlite", "SELECT * FROM t" + std::to_string(i), "t"));
    vitals::internal::StatementTable::Record(got.back(), 1'000'000);
  }
  CHECK(table.size() == 3);
  for (int i = 3; i < 10; ++i) CHECK(got[i] == got[3]);
  CHECK(got[3]->text == vitals::internal::StatementTable::kOtherText);
  CHECK(table.Find("sqlite", "SELECT * FROM t1", "t") == got[1]);  // kept ones still found
  const auto top = table.Top(100);
  REQUIRE(top.size() == 4);
  CHECK(top[0].text == vitals::internal::StatementTable::kOtherText);
  CHECK(top[0].calls == 7);
  // A text longer than the kept prefix is cut.
  vitals::internal::StatementTable wide(10);
  const std::string long_text(5000, 'x');
  CHECK(wide.Find("sqlite", long_text, "")->text.size() ==
        vitals::internal::StatementTable::kMaxStatementTextBytes);
}

TEST_CASE("statement stats from many threads are exact", "[db][concurrency]") {
  vitals::internal::StatementTable table(100);
  constexpr int kThreads = 4;
  constexpr int kCalls = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        auto* s = table.Find("sqlite", "SELECT " + std::to_string(i % 7), "");
        vitals::internal::StatementTable::Record(s, (t + 1) * 1000);
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto top = table.Top(100);
  REQUIRE(top.size() == 7);
  double calls = 0, total = 0, max = 0;
  for (const auto& r : top) {
    calls += r.calls;
    total += r.total_seconds;
    max = std::max(max, r.max_seconds);
  }
  CHECK(calls == kThreads * kCalls);
  CHECK(total == Approx(kCalls * (1 + 2 + 3 + 4) * 1e-6));
  CHECK(max == Approx(4e-6));
}

}  // namespace

namespace {

TEST_CASE("N+1 patterns are kept per route and statement, most recent first", "[db]") {
  Fixture f;
  vitals::Agent agent(f.Opts());  // threshold 5
  Request(agent, "/loop", {5});
  f.clock.AdvanceMs(10);
  Request(agent, "/loop", {9});
  f.clock.AdvanceMs(10);
  Request(agent, "/many", {50});
  Request(agent, "/fine", {4});
  const auto patterns =
      vitals::internal::AgentAccess::Impl(agent).db()->n_plus_one_patterns().Read();
  REQUIRE(patterns.size() == 2);
  CHECK(patterns[0].route == "/many");
  CHECK(patterns[0].last_calls == 50);
  CHECK(patterns[1].route == "/loop");
  CHECK(patterns[1].method == "GET");
  CHECK(patterns[1].statement == "SELECT name FROM t0 WHERE id = ?");
  CHECK(patterns[1].table == "t0");
  CHECK(patterns[1].requests == 2);
  CHECK(patterns[1].last_calls == 9);
  CHECK(patterns[1].max_calls == 9);
  CHECK(patterns[0].last_at_nanos - patterns[1].last_at_nanos == 10'000'000);
}

TEST_CASE("the N+1 pattern list is bounded", "[db]") {
  vitals::internal::NPlusOneTable table;
  for (int i = 0; i < 250; ++i) {
    table.Add("GET", "/r" + std::to_string(i), i, "SELECT ?", "t", 5, i);
  }
  const auto patterns = table.Read();
  REQUIRE(patterns.size() == vitals::internal::NPlusOneTable::kMaxPatterns);
  CHECK(patterns.front().route == "/r249");  // the most recent kept, the oldest made room
  CHECK(patterns.back().route == "/r150");
}

}  // namespace
