// What vitals/postgres.h adds to a libpq call: the same statement through bare PQexecParams and
// through PgSession::ExecParams, on one connection each to a throwaway PostgreSQL 15 on
// loopback (tests/support/postgres.h starts it and stops it at exit), in one run.
//
//   build/bench/postgres_bench --benchmark_min_time=2 --benchmark_repetitions=5
//
// A round trip to the server is tens of microseconds and varies by more than the adapter's
// work, so the difference of the two means is noise-sized; the adapter's own work (a
// DbOperation: the statement's cached resolution, the histogram and statement-table adds, the
// request's counters) is measured alone in bench/db_bench.cc.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "tests/support/postgres.h"
#include "vitals/postgres.h"

namespace {

std::unique_ptr<vitals_test::PostgresServer> g_pg;  // stopped when the program exits
vitals::Agent* g_agent;
PGconn* g_bare;
PGconn* g_timed;
vitals::PgSession* g_session;
const char* kStatement = "SELECT name FROM users WHERE id = $1";

PGconn* Connect() {
  PGconn* c = PQconnectdb(g_pg->conninfo().c_str());
  if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
  return c;
}

void BareLibpq(benchmark::State& state) {
  const char* values[] = {"42"};
  for (auto _ : state) {
    PGresult* r = PQexecParams(g_bare, kStatement, 1, nullptr, values, nullptr, nullptr, 0);
    benchmark::DoNotOptimize(r);
    PQclear(r);
  }
}
BENCHMARK(BareLibpq)->Name("libpq PQexecParams (bare)");

void ThroughPgSession(benchmark::State& state) {
  const char* values[] = {"42"};
  vitals::RouteHandle route = g_agent->Route("GET", "/users");
  for (auto _ : state) {
    vitals::RequestScope request(route);
    PGresult* r = g_session->ExecParams(kStatement, 1, nullptr, values, nullptr, nullptr, 0);
    benchmark::DoNotOptimize(r);
    PQclear(r);
  }
}
BENCHMARK(ThroughPgSession)->Name("vitals PgSession::ExecParams, in a request");

void BareLibpqInRequest(benchmark::State& state) {
  const char* values[] = {"42"};
  vitals::RouteHandle route = g_agent->Route("GET", "/users-bare");
  for (auto _ : state) {
    vitals::RequestScope request(route);
    PGresult* r = PQexecParams(g_bare, kStatement, 1, nullptr, values, nullptr, nullptr, 0);
    benchmark::DoNotOptimize(r);
    PQclear(r);
  }
}
BENCHMARK(BareLibpqInRequest)->Name("libpq PQexecParams (bare), in a request");

}  // namespace

void BenchSetup() {
  g_pg = std::make_unique<vitals_test::PostgresServer>();
  g_pg->Psql(
      "CREATE TABLE users (id int PRIMARY KEY, name text);"
      "INSERT INTO users SELECT g, 'n' || g FROM generate_series(1, 1000) g; ANALYZE users;");
  vitals::Options o;
  o.read_environment = false;
  o.process_metrics = false;
  o.http_enabled = false;
  g_agent = new vitals::Agent(o);
  g_bare = Connect();
  g_timed = Connect();
  g_session = new vitals::PgSession(*g_agent, g_timed);
}
