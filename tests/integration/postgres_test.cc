// vitals/postgres.h against a real PostgreSQL 15 (tests/support/postgres.h): the agent's
// per-statement calls equal pg_stat_statements' for the same statements, its time agrees with
// the server's execution time plus the measured round trip, and the connection's database,
// address and port become the calls' labels.

#include "vitals/postgres.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "agent/db/db_metrics.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "tests/support/postgres.h"

namespace {

// The agent's statement-table row whose normalized text contains `part` (one must).
vitals::internal::StatementTable::Row Ours(vitals::Agent& agent, const std::string& part) {
  vitals::internal::StatementTable::Row found;
  int matches = 0;
  for (auto& row : vitals::internal::AgentAccess::Impl(agent).db()->statements().Top(1000)) {
    if (row.text.find(part) != std::string::npos) {
      found = row;
      ++matches;
    }
  }
  INFO("statements containing " << part);
  CHECK(matches == 1);
  return found;
}

// pg_stat_statements' calls and total planning and execution time (seconds) of the query
// containing `part`.
std::pair<double, double> Theirs(vitals_test::PostgresServer& pg, const std::string& part) {
  const std::string row = pg.Psql(
      "SELECT sum(calls) || ' ' || sum(total_exec_time + total_plan_time) FROM pg_stat_statements "
      "WHERE query LIKE "
      "'%" +
      part + "%' AND query NOT LIKE '%pg_stat_statements%'");
  const size_t space = row.find(' ');
  REQUIRE(space != std::string::npos);
  return {std::stod(row.substr(0, space)), std::stod(row.substr(space + 1)) / 1000};
}

void Clear(PGresult* r) {
  REQUIRE(r != nullptr);
  INFO(PQresultErrorMessage(r));
  CHECK((PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK));
  PQclear(r);
}

}  // namespace

TEST_CASE("the agent's per-statement calls and time agree with pg_stat_statements",
          "[integration][postgres]") {
  vitals_test::PostgresServer pg;
  pg.Psql(
      "CREATE TABLE users (id int PRIMARY KEY, email text);"
      "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 2000) g;"
      "CREATE TABLE logins (id int, email text);"
      "INSERT INTO logins SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 100000) g;"
      "CREATE TABLE events (user_id int, kind text);"
      "CREATE TABLE audit (id int, note text);"
      "INSERT INTO audit SELECT g, 'n' || g FROM generate_series(1, 50000) g;"
      "ANALYZE; SELECT pg_stat_statements_reset();");
  vitals::Options options;
  options.http_enabled = false;
  options.process_metrics = false;
  vitals::Agent agent(options);
  REQUIRE(agent.Start().ok());
  PGconn* conn = PQconnectdb(pg.conninfo().c_str());
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  {
    vitals::PgSession db(agent, conn);
    // A fresh connection's first use of a table loads its catalog entries: time neither side
    // would agree on. Warm each table up with statements of their own.
    for (const char* table : {"users", "logins", "events", "audit"}) {
      Clear(db.Exec((std::string("SELECT 1 AS warm_up FROM ") + table + " LIMIT 1").c_str()));
    }
    // The round trip: a statement the server plans and runs in next to no time.
    for (int i = 0; i < 50; ++i) {
      const char* values[] = {"7"};
      Clear(db.ExecParams("SELECT $1::int AS round_trip", 1, nullptr, values, nullptr, nullptr, 0));
    }
    // Synchronous with parameters, with a literal, prepared, and asynchronous.
    for (int i = 1; i <= 30; ++i) {
      const std::string id = std::to_string(i);
      const char* values[] = {id.c_str()};
      // pg_sleep: server time dominates the round trip's jitter (the agreement is the point).
      Clear(db.ExecParams("SELECT email, pg_sleep(0.001) FROM users WHERE id = $1", 1, nullptr,
                          values, nullptr, nullptr, 0));
    }
    for (int i = 0; i < 8; ++i) {
      Clear(db.Exec(
          ("SELECT count(*) FROM logins WHERE email LIKE 'u" + std::to_string(i) + "%'").c_str()));
    }
    Clear(db.Prepare("add_event",
                     "INSERT INTO events (user_id, kind) VALUES ($1, $2) RETURNING pg_sleep(0.001)",
                     2, nullptr));
    for (int i = 0; i < 20; ++i) {
      const std::string user = std::to_string(i);
      const char* values[] = {user.c_str(), "login"};
      Clear(db.ExecPrepared("add_event", 2, values, nullptr, nullptr, 0));
    }
    for (int i = 0; i < 5; ++i) {
      const char* values[] = {"n1%"};
      REQUIRE(db.SendQueryParams("SELECT max(id) FROM audit WHERE note LIKE $1", 1, nullptr, values,
                                 nullptr, nullptr, 0) == 1);
      while (PGresult* r = db.GetResult()) Clear(r);
    }
    // A failed call: not counted by pg_stat_statements, recorded with its SQLSTATE here.
    PGresult* missing = db.Exec("SELECT * FROM missing_table");
    CHECK(PQresultStatus(missing) == PGRES_FATAL_ERROR);
    PQclear(missing);
  }
  PQfinish(conn);

  const auto [rt_calls, rt_server] = Theirs(pg, "round_trip");
  const auto rt_ours = Ours(agent, "round_trip");
  REQUIRE(rt_calls == 50);
  CHECK(rt_ours.calls == 50);
  const double round_trip = (rt_ours.total_seconds - rt_server) / 50;
  INFO("round trip " << round_trip * 1e6 << " us");
  CHECK(round_trip > 0);
  struct Case {
    const char* ours;
    const char* theirs;
    double calls;
  };
  for (const Case& c : {Case{"FROM users WHERE id", "FROM users WHERE id", 30},
                        Case{"FROM logins WHERE email LIKE", "FROM logins WHERE email LIKE", 8},
                        Case{"INSERT INTO events", "INSERT INTO events", 20},
                        Case{"FROM audit WHERE note LIKE", "FROM audit WHERE note LIKE", 5}}) {
    INFO(c.ours);
    const auto ours = Ours(agent, c.ours);
    const auto [calls, server_seconds] = Theirs(pg, c.theirs);
    CHECK(calls == c.calls);
    CHECK(ours.calls == calls);
    const double expected = server_seconds + calls * round_trip;
    INFO("ours " << ours.total_seconds << " s, server " << server_seconds << " s, expected "
                 << expected << " s");
    CHECK(ours.total_seconds >= 0.8 * expected);
    CHECK(ours.total_seconds <= 1.2 * expected);
  }

  // The connection's database, address and port are the calls' labels; the failure its SQLSTATE.
  const std::string text = agent.RenderText();
  const std::string target =
      "db_namespace=\"postgres\",server_address=\"127.0.0.1\",server_port=\"" +
      std::to_string(pg.port()) + "\"";
  CHECK(text.find("db_client_operation_duration_seconds_count{db_system_name=\"postgresql\","
                  "db_operation_name=\"SELECT\",db_collection_name=\"users\",error_type=\"\"," +
                  target + "} 31") != std::string::npos);  // 30 and the warm-up
  CHECK(text.find("db_collection_name=\"missing_table\",error_type=\"42P01\"," + target + "} 1") !=
        std::string::npos);
  agent.Stop();
}
