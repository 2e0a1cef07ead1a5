// Slow statements explained on a real PostgreSQL 15 (tests/support/postgres.h) through
// vitals/postgres.h: the unindexed filter flagged until CREATE INDEX, small and never-analyzed
// tables, an EXPLAIN that times out (counted, logged once, not retried within its interval),
// text with two statements refused and never run, statements of 1 MB and parameters of every
// byte value, and a server restarted under a running session.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "agent/db/db_metrics.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "tests/support/agent_internals.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "tests/support/postgres.h"
#include "vitals/postgres.h"

namespace {

using vitals_test::SampleValue;

struct Fixture {
  Fixture() {
    pg.Psql(
        "CREATE TABLE users (id int PRIMARY KEY, email text, name text);"
        "INSERT INTO users SELECT g, 'u' || g || '@example.com', 'n' || g "
        "  FROM generate_series(1, 20000) g;"
        "CREATE TABLE tiny (id int, name text);"
        "INSERT INTO tiny SELECT g, 'n' || g FROM generate_series(1, 10) g;"
        "CREATE TABLE fresh (id int, v int) WITH (autovacuum_enabled = false);"
        "INSERT INTO fresh SELECT g, g FROM generate_series(1, 30000) g;"
        "CREATE TABLE victims (id int);"
        "INSERT INTO victims VALUES (1);"
        "CREATE TABLE blobs (b bytea);"
        "ANALYZE users; ANALYZE tiny; ANALYZE victims;");
    options = vitals_test::QuietOptions();
    options.http_enabled = false;
    options.process_metrics = false;
    options.log_sink = sink;
    options.explain_threshold = absl::Microseconds(1);  // every call
    options.explain_interval = absl::Milliseconds(1);   // explained again at the next call
    options.explain_min_rows = 10000;
  }

  vitals_test::PostgresServer pg;
  std::shared_ptr<vitals_test::CapturingSink> sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options options;
};

double Outcome(vitals::Agent& agent, const std::string& outcome) {
  return SampleValue(
      agent.RenderText(),
      "vitals_db_explains_total{db_system_name=\"postgresql\",outcome=\"" + outcome + "\"}");
}

PGconn* Connect(const vitals_test::PostgresServer& pg) {
  PGconn* conn = PQconnectdb(pg.conninfo().c_str());
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  return conn;
}

// Runs and clears; returns the status.
ExecStatusType Run(PGresult* r) {
  const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  INFO((r != nullptr ? PQresultErrorMessage(r) : "no result"));
  PQclear(r);
  return status;
}

}  // namespace

TEST_CASE("PostgreSQL: a slow statement's unindexed filter is flagged until CREATE INDEX",
          "[integration][postgres]") {
  Fixture f;
  vitals::Agent agent(f.options);
  PGconn* conn = Connect(f.pg);
  vitals::PgSession db(agent, conn);
  const std::string candidates =
      "vitals_db_index_candidates_total{db_system_name=\"postgresql\",db_namespace=\"postgres\","
      "db_collection_name=\"";

  const char* email[] = {"u77@example.com"};
  CHECK(Run(db.ExecParams("SELECT id FROM users WHERE email = $1", 1, nullptr, email, nullptr,
                          nullptr, 0)) == PGRES_TUPLES_OK);
  const char* name[] = {"n3"};
  CHECK(Run(db.ExecParams("SELECT id FROM tiny WHERE name = $1", 1, nullptr, name, nullptr, nullptr,
                          0)) == PGRES_TUPLES_OK);
  CHECK(Run(db.Exec("SELECT id FROM fresh WHERE v = 12345")) == PGRES_TUPLES_OK);
  // An INSERT is explained too, never run again: EXPLAIN without ANALYZE plans only.
  CHECK(Run(db.Exec("INSERT INTO victims SELECT max(id) + 1 FROM victims")) == PGRES_COMMAND_OK);
  REQUIRE(vitals_test::ExplainsSettled(agent));

  std::string text = agent.RenderText();
  CHECK(SampleValue(text, candidates + "users\"}") == 1);
  CHECK(SampleValue(text, candidates + "fresh\"}") == 1);
  CHECK(text.find(candidates + "tiny\"}") == std::string::npos);
  const auto users = vitals_test::StatementRow(agent, "FROM users WHERE email", false);
  REQUIRE(users.plan != nullptr);
  CHECK(users.plan->error.empty());
  CHECK(users.plan->top == "Seq Scan on users");
  CHECK(users.plan->text.find("\"Filter\": \"(email = 'u77@example.com'::text)\"") !=
        std::string::npos);  // planned with the call's parameter
  REQUIRE(users.plan->candidates.size() == 1);
  CHECK(users.plan->candidates[0].columns == std::vector<std::string>{"email"});
  CHECK(users.plan->candidates[0].table_rows == 20000);  // pg_class.reltuples after ANALYZE
  const auto fresh = vitals_test::StatementRow(agent, "FROM fresh", false);
  REQUIRE(fresh.plan != nullptr);
  REQUIRE(fresh.plan->candidates.size() == 1);
  // Never analyzed (reltuples -1): the planner's own estimate, from the table's pages.
  CHECK(f.pg.Psql("SELECT reltuples FROM pg_class WHERE relname = 'fresh'") == "-1");
  CHECK(fresh.plan->candidates[0].table_rows > 20000);
  CHECK(fresh.plan->candidates[0].table_rows < 40000);
  const auto tiny = vitals_test::StatementRow(agent, "FROM tiny", false);
  REQUIRE(tiny.plan != nullptr);
  CHECK(tiny.plan->top == "Seq Scan on tiny");
  CHECK(tiny.plan->candidates.empty());
  CHECK(vitals_test::StatementRow(agent, "INSERT INTO victims", false).plan != nullptr);
  CHECK(f.pg.Psql("SELECT count(*) FROM victims") == "2");  // the service's one INSERT
  CHECK(
      f.sink->Contains("index candidate: `SELECT id FROM users WHERE email = $1` reads all of "
                       "users (about 20000 rows) to filter on email; an index on users "
                       "(email) would let it read only the rows it needs"));
  // Its own connection, read-only, with the timeout.
  CHECK(f.pg.Psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                  "'vitals-explain'") == "1");

  f.pg.Psql("CREATE INDEX users_email ON users (email); ANALYZE users;");
  CHECK(Run(db.ExecParams("SELECT id FROM users WHERE email = $1", 1, nullptr, email, nullptr,
                          nullptr, 0)) == PGRES_TUPLES_OK);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  const auto indexed = vitals_test::StatementRow(agent, "FROM users WHERE email", false);
  REQUIRE(indexed.plan != nullptr);
  CHECK(indexed.plan->top.find("Index") != std::string::npos);
  CHECK(indexed.plan->candidates.empty());
  CHECK(SampleValue(agent.RenderText(), candidates + "users\"}") == 1);  // not again
  CHECK(Outcome(agent, "ok") == 5);
  PQfinish(conn);
}

TEST_CASE(
    "PostgreSQL: an EXPLAIN that times out is counted, logged once and not retried "
    "within its interval",
    "[integration][postgres]") {
  Fixture f;
  // The planner folds an IMMUTABLE function of constants while planning: EXPLAIN takes as
  // long as the call, and the explain connection's statement_timeout ends it.
  f.pg.Psql(
      "CREATE FUNCTION stall() RETURNS int IMMUTABLE LANGUAGE sql AS "
      "'SELECT 1 FROM pg_sleep(0.3)';");
  f.options.explain_timeout = absl::Milliseconds(50);
  f.options.explain_interval = absl::Hours(1);
  vitals::Agent agent(f.options);
  PGconn* conn = Connect(f.pg);
  vitals::PgSession db(agent, conn);
  for (int i = 0; i < 3; ++i) {
    CHECK(Run(db.Exec("SELECT id FROM users WHERE id = stall()")) == PGRES_TUPLES_OK);
    REQUIRE(vitals_test::ExplainsSettled(agent));
  }
  CHECK(Outcome(agent, "timeout") == 1);
  const auto row = vitals_test::StatementRow(agent, "stall()", false);
  REQUIRE(row.plan != nullptr);
  CHECK(row.plan->error.find("57014") != std::string::npos);
  int lines = 0;
  for (const std::string& l : f.sink->lines()) {
    if (l.find("EXPLAIN of") != std::string::npos) ++lines;
  }
  CHECK(lines == 1);
  PQfinish(conn);
}

TEST_CASE("PostgreSQL: text with two statements is refused by the explainer, never run",
          "[integration][postgres]") {
  Fixture f;
  vitals::Agent agent(f.options);
  PGconn* conn = Connect(f.pg);
  vitals::PgSession db(agent, conn);
  // The service sends two statements in one PQexec (libpq runs both); EXPLAIN must not.
  CHECK(Run(db.Exec("SELECT id FROM victims WHERE id = 1; INSERT INTO victims VALUES (2)")) ==
        PGRES_COMMAND_OK);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(f.pg.Psql("SELECT count(*) FROM victims") == "2");  // the service's insert only
  CHECK(Outcome(agent, "failed") == 1);
  const auto row = vitals_test::StatementRow(agent, "FROM victims", false);
  REQUIRE(row.plan != nullptr);
  CHECK(row.plan->error.find("cannot insert multiple commands") != std::string::npos);
  // Not a query: not sent at all.
  CHECK(Run(db.Exec("CREATE TABLE made_here (id int)")) == PGRES_COMMAND_OK);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(Outcome(agent, "failed") == 2);
  CHECK(vitals_test::StatementRow(agent, "CREATE TABLE", false).plan->error.find("only SELECT") !=
        std::string::npos);
  PQfinish(conn);
}

TEST_CASE("PostgreSQL: statements of 1 MB and parameters of every byte value",
          "[integration][postgres]") {
  Fixture f;
  vitals::Agent agent(f.options);
  PGconn* conn = Connect(f.pg);
  vitals::PgSession db(agent, conn);
  // 1 MB of statement (a comment): recorded, explained.
  const std::string big =
      "SELECT id FROM users WHERE id = 1 /* " + std::string(1000000, 'x') + " */";
  CHECK(Run(db.Exec(big.c_str())) == PGRES_TUPLES_OK);
  // Every byte value as a binary bytea parameter, sent to the server and to EXPLAIN.
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  const char* values[] = {bytes.data()};
  const int lengths[] = {256};
  const int formats[] = {1};
  const Oid types[] = {17};  // bytea
  CHECK(Run(db.ExecParams("INSERT INTO blobs (b) VALUES ($1)", 1, types, values, lengths, formats,
                          0)) == PGRES_COMMAND_OK);
  CHECK(Run(db.ExecParams("SELECT count(*) FROM blobs WHERE b = $1", 1, types, values, lengths,
                          formats, 0)) == PGRES_TUPLES_OK);
  // Every byte but NUL as text: not valid UTF-8, so the server refuses it (22021).
  std::string text_bytes;
  for (int i = 1; i < 256; ++i) text_bytes += static_cast<char>(i);
  const char* text_values[] = {text_bytes.c_str()};
  CHECK(Run(db.ExecParams("SELECT id FROM users WHERE name = $1", 1, nullptr, text_values, nullptr,
                          nullptr, 0)) == PGRES_FATAL_ERROR);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(f.pg.Psql("SELECT count(*) FROM blobs WHERE b = (SELECT decode(string_agg(lpad(to_hex(g), "
                  "2, '0'), '' ORDER BY g), 'hex') FROM generate_series(0, 255) g)") == "1");
  CHECK(vitals_test::StatementRow(agent, "FROM users WHERE id", false).plan != nullptr);
  CHECK(vitals_test::StatementRow(agent, "FROM users WHERE id", false).plan->error.empty());
  const auto blobs = vitals_test::StatementRow(agent, "FROM blobs WHERE b", false);
  REQUIRE(blobs.plan != nullptr);
  CHECK(blobs.plan->error.empty());
  CHECK(blobs.plan->top.find("Aggregate") != std::string::npos);
  CHECK(Outcome(agent, "ok") == 3);  // the 1 MB one, the INSERT, the SELECT; not the failed call
  CHECK(agent.RenderText().find("error_type=\"22021\"") != std::string::npos);
  PQfinish(conn);
}

TEST_CASE("PostgreSQL: a server restarted under a session: calls fail with 08006, then recover",
          "[integration][postgres]") {
  Fixture f;
  vitals::Agent agent(f.options);
  PGconn* conn = Connect(f.pg);
  // The server's "terminating connection due to immediate shutdown" notice: not on stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  vitals::PgSession db(agent, conn);
  CHECK(Run(db.Exec("SELECT id FROM users WHERE email = 'a'")) == PGRES_TUPLES_OK);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  CHECK(Outcome(agent, "ok") == 1);

  f.pg.Stop();
  CHECK(Run(db.Exec("SELECT id FROM users WHERE email = 'a'")) == PGRES_FATAL_ERROR);
  CHECK(PQstatus(conn) == CONNECTION_BAD);
  CHECK(Run(db.Exec("SELECT id FROM users WHERE email = 'a'")) == PGRES_FATAL_ERROR);
  f.pg.Start();
  PQreset(conn);
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  db.Refresh();
  CHECK(Run(db.Exec("SELECT id FROM users WHERE email = 'a'")) == PGRES_TUPLES_OK);
  REQUIRE(vitals_test::ExplainsSettled(agent));
  const std::string text = agent.RenderText();
  const std::string series =
      "db_client_operation_duration_seconds_count{db_system_name=\"postgresql\","
      "db_operation_name=\"SELECT\",db_collection_name=\"users\",error_type=\"";
  const std::string target =
      "\",db_namespace=\"postgres\",server_address=\"127.0.0.1\","
      "server_port=\"" +
      std::to_string(f.pg.port()) + "\"}";
  CHECK(SampleValue(text, series + "08006" + target) == 2);
  CHECK(SampleValue(text, series + target) == 2);
  // The explain connection broke too; it was opened again for the next EXPLAIN.
  CHECK(Outcome(agent, "ok") == 2);
  CHECK(vitals_test::StatementRow(agent, "FROM users WHERE email", false).plan->error.empty());
  PQfinish(conn);
}
