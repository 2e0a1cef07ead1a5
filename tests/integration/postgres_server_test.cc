// The throwaway PostgreSQL the database tests build on (tests/support/postgres.h): it starts
// as scripts/bootstrap installs it, counts statements in pg_stat_statements, explains plans in
// JSON, and leaves nothing behind. And the plan reader (agent/db/plan_reader.h) on the plans of
// the real databases: PostgreSQL 15 and SQLite flag a filter on an unindexed column, and no
// longer once the index exists.

#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/db/plan_reader.h"
#include "tests/support/postgres.h"
#include "tests/support/sockets.h"

namespace {

bool Accepts(int port) {
  const int fd = vitals_test::ConnectLoopback(port);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

}  // namespace

TEST_CASE("a throwaway PostgreSQL counts statements and explains plans, then is gone",
          "[integration][postgres]") {
  auto pg = std::make_unique<vitals_test::PostgresServer>();
  const int port = pg->port();
  CHECK(Accepts(port));
  pg->Psql(
      "CREATE TABLE users (id int PRIMARY KEY, email text);"
      "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 5000) g;"
      "ANALYZE users;");
  for (int i = 0; i < 3; ++i) {
    pg->Psql("SELECT id FROM users WHERE email = 'u" + std::to_string(i) + "@example.com'");
  }
  // pg_stat_statements normalizes the literal away: one statement, three calls.
  CHECK(pg->Psql("SELECT calls FROM pg_stat_statements WHERE query = "
                 "'SELECT id FROM users WHERE email = $1'") == "3");
  const std::string plan =
      pg->Psql("EXPLAIN (FORMAT JSON) SELECT id FROM users WHERE email = 'u1@example.com'");
  CHECK(plan.find("\"Node Type\": \"Seq Scan\"") != std::string::npos);
  CHECK(plan.find("\"Relation Name\": \"users\"") != std::string::npos);
  CHECK(plan.find("\"Filter\": \"(email = 'u1@example.com'::text)\"") != std::string::npos);
  pg.reset();
  CHECK_FALSE(Accepts(port));
}

TEST_CASE("the plan reader flags PostgreSQL's scan of an unindexed column, not after the index",
          "[integration][postgres]") {
  vitals_test::PostgresServer pg;
  pg.Psql(
      "CREATE TABLE users (id int PRIMARY KEY, email text);"
      "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 20000) g;"
      "ANALYZE users;");
  const std::string explain =
      "EXPLAIN (FORMAT JSON) SELECT id FROM users WHERE email = 'u7@example.com'";
  auto before = vitals::internal::ReadPostgresPlan(pg.Psql(explain));
  REQUIRE(before.ok());
  REQUIRE(before->candidates.size() == 1);
  CHECK(before->candidates[0].table == "users");
  CHECK(before->candidates[0].columns == std::vector<std::string>{"email"});
  pg.Psql("CREATE INDEX users_email ON users (email); ANALYZE users;");
  auto after = vitals::internal::ReadPostgresPlan(pg.Psql(explain));
  REQUIRE(after.ok());
  INFO(after->top);
  CHECK(after->candidates.empty());
  CHECK(after->top.find("Seq Scan") == std::string::npos);
}

TEST_CASE("the plan reader flags SQLite's scan of an unindexed column, not after the index",
          "[integration][plan]") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  auto exec = [&](const char* sql) {
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  };
  auto plan = [&](const char* sql) {
    std::vector<std::string> details;
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, (std::string("EXPLAIN QUERY PLAN ") + sql).c_str(), -1, &st,
                               nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      details.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
    }
    sqlite3_finalize(st);
    return vitals::internal::ReadSqlitePlan(details, /*filtered=*/true);
  };
  exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)");
  const char* query = "SELECT id FROM users WHERE email = ?";
  auto before = plan(query);
  REQUIRE(before.candidates.size() == 1);
  CHECK(before.candidates[0].table == "users");
  exec("CREATE INDEX users_email ON users (email)");
  auto after = plan(query);
  INFO(after.top);
  CHECK(after.candidates.empty());
  sqlite3_close(db);
}
