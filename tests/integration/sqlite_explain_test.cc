// vitals/sqlite.h's plan source on a real SQLite database (a shared-cache in-memory one, as the
// demo uses): a filtered full scan of a large table is flagged with the table's size until an
// index exists, an indexed search and a small table are not, a DELETE's scan counts like a
// SELECT's, and text with two statements is refused.

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <string>

#include "agent/db/db_metrics.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "tests/support/agent_internals.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"
#include "vitals/db.h"
#include "vitals/sqlite.h"

namespace {

void Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error != nullptr ? error : ""));
  sqlite3_free(error);
  REQUIRE(rc == SQLITE_OK);
}

int64_t Count(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

// One call the way a service would make it: timed, with what EXPLAIN needs, then run.
void Call(vitals::Agent& agent, sqlite3* db, const std::string& sql, const char* param) {
  const vitals::DbTarget target("sqlite", "main");
  vitals::DbOperation op(agent, target, sql);
  const char* values[] = {param};
  op.set_plan_input(sql, {param != nullptr ? 1 : 0, values});
  char* error = nullptr;
  if (param == nullptr) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) op.set_error("x");
    sqlite3_free(error);
    return;
  }
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
  }
  sqlite3_finalize(st);
}

}  // namespace

TEST_CASE("SQLite: a filtered full scan of a large table is flagged until an index exists",
          "[integration][sqlite]") {
  const std::string uri = "file:vitals-explain-test?mode=memory&cache=shared";
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(uri.c_str(), &db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                          nullptr) == SQLITE_OK);
  Exec(db,
       "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);"
       "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) "
       "INSERT INTO users SELECT n, 'u' || n || '@example.com' FROM g;"
       "CREATE TABLE tiny (id INTEGER PRIMARY KEY, name TEXT);"
       "INSERT INTO tiny (name) VALUES ('a'), ('b'), ('c');");

  vitals::Options o = vitals_test::QuietOptions();
  o.http_enabled = false;
  o.process_metrics = false;
  o.log_sink = std::make_shared<vitals_test::CapturingSink>();
  o.explain_threshold = absl::Microseconds(1);
  o.explain_interval = absl::Milliseconds(1);
  o.explain_min_rows = 1000;
  vitals::Agent agent(o);
  REQUIRE(agent
              .SetPlanSource(vitals::DbTarget("sqlite", "main"),
                             std::make_unique<vitals::SqlitePlanSource>(uri, absl::Seconds(1)))
              .ok());

  Call(agent, db, "SELECT id FROM users WHERE email = ?", "u5@example.com");
  Call(agent, db, "SELECT id FROM users WHERE id = ?", "5");
  Call(agent, db, "SELECT id FROM tiny WHERE name = ?", "b");
  Call(agent, db, "DELETE FROM users WHERE email = 'nobody'", nullptr);
  REQUIRE(vitals_test::ExplainsSettled(
      agent));  // before the next text empties the table the plans are read against
  Call(agent, db, "SELECT id FROM users WHERE id = 1; DELETE FROM users", nullptr);
  REQUIRE(vitals_test::ExplainsSettled(agent));

  const std::string text = agent.RenderText();
  const std::string candidates =
      "vitals_db_index_candidates_total{db_system_name=\"sqlite\",db_namespace=\"main\","
      "db_collection_name=\"";
  // The SELECT and the DELETE both read all of users to filter it.
  CHECK(vitals_test::SampleValue(text, candidates + "users\"}") == 2);
  CHECK(text.find(candidates + "tiny\"}") == std::string::npos);
  const auto scan = vitals_test::StatementRow(agent, "SELECT id FROM users WHERE email = ?");
  REQUIRE(scan.plan != nullptr);
  CHECK(scan.plan->top == "SCAN users");
  REQUIRE(scan.plan->candidates.size() == 1);
  CHECK(scan.plan->candidates[0].table_rows == 20000);  // the largest rowid
  const auto by_id = vitals_test::StatementRow(agent, "SELECT id FROM users WHERE id = ?");
  REQUIRE(by_id.plan != nullptr);
  CHECK(by_id.plan->top.rfind("SEARCH users USING INTEGER PRIMARY KEY", 0) == 0);
  CHECK(by_id.plan->candidates.empty());
  REQUIRE(vitals_test::StatementRow(agent, "SELECT id FROM tiny WHERE name = ?").plan != nullptr);
  CHECK(vitals_test::StatementRow(agent, "SELECT id FROM tiny WHERE name = ?")
            .plan->candidates.empty());
  // Two statements: refused (the service's own exec ran both; the second deleted every row).
  bool refused = false;
  for (auto& row : vitals::internal::AgentAccess::Impl(agent).db()->statements().Top(1000)) {
    if (row.plan != nullptr &&
        row.plan->error.find("more than one statement") != std::string::npos) {
      refused = true;
    }
  }
  CHECK(refused);

  // Seed again (the two-statement text deleted the rows) and index the column.
  Exec(db,
       "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) "
       "INSERT INTO users SELECT n, 'u' || n || '@example.com' FROM g;"
       "CREATE INDEX users_email ON users (email);");
  Call(agent, db, "SELECT id FROM users WHERE email = ?", "u5@example.com");
  REQUIRE(vitals_test::ExplainsSettled(agent));
  const auto indexed = vitals_test::StatementRow(agent, "SELECT id FROM users WHERE email = ?");
  REQUIRE(indexed.plan != nullptr);
  CHECK(indexed.plan->top.rfind("SEARCH users USING COVERING INDEX users_email", 0) == 0);
  CHECK(indexed.plan->candidates.empty());
  CHECK(vitals_test::SampleValue(agent.RenderText(), candidates + "users\"}") == 2);
  CHECK(Count(db, "SELECT count(*) FROM users") == 20000);
  sqlite3_close(db);
}
