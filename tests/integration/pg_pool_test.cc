// vitals/postgres.h's PgPool against a real PostgreSQL 15: saturated, it makes callers wait and
// time out and its metrics say so; a waiter gets the connection given back; a broken connection
// or one left inside a transaction is closed, not handed to the next caller.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "tests/support/postgres.h"
#include "vitals/postgres.h"

namespace {

double Metric(vitals::Agent& agent, const std::string& name, const std::string& labels = "") {
  return vitals_test::SampleValue(agent.RenderText(),
                                  name + "{db_client_connection_pool_name=\"shop\"" +
                                      (labels.empty() ? "" : "," + labels) + "}");
}

ExecStatusType Run(PGresult* r) {
  const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  PQclear(r);
  return status;
}

}  // namespace

TEST_CASE("PgPool: saturated, callers wait and time out, and broken connections are not reused",
          "[integration][postgres]") {
  vitals_test::PostgresServer pg;
  vitals::Options options = vitals_test::QuietOptions();
  options.http_enabled = false;
  options.process_metrics = false;
  vitals::Agent agent(options);
  vitals::PgPool::Options o;
  o.name = "shop";
  o.max_connections = 2;
  o.wait_timeout = absl::Milliseconds(50);
  vitals::PgPool pool(agent, pg.conninfo(), o);
  CHECK(Metric(agent, "db_client_connection_max") == 2);

  auto a = pool.Acquire();
  auto b = pool.Acquire();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(Run((*a)->Exec("SELECT 1")) == PGRES_TUPLES_OK);
  CHECK(Metric(agent, "db_client_connections_usage", "db_client_connection_state=\"used\"") == 2);
  CHECK(Metric(agent, "db_client_connection_create_time_seconds_count") == 2);

  // Both held: the third caller waits its 50 ms and gives up.
  auto c = pool.Acquire();
  CHECK(c.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(Metric(agent, "db_client_connection_timeouts_total") == 1);
  CHECK(Metric(agent, "db_client_connection_wait_time_seconds_count") == 3);
  CHECK(Metric(agent, "db_client_connection_wait_time_seconds_sum") >= 0.05);

  // A caller waiting is counted as pending, and gets the first connection given back.
  bool got = false;
  std::thread waiter([&] {
    auto d = pool.Acquire(absl::Seconds(60));
    got = d.ok() && Run((*d)->Exec("SELECT 2")) == PGRES_TUPLES_OK;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Metric(agent, "db_client_connection_pending_requests") != 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // until the waiter is counted
  }
  CHECK(Metric(agent, "db_client_connection_pending_requests") == 1);
  { auto done = std::move(*a); }  // given back: the waiter takes it
  waiter.join();
  CHECK(got);
  CHECK(Metric(agent, "db_client_connection_pending_requests") == 0);
  CHECK(Metric(agent, "db_client_connection_timeouts_total") == 1);
  CHECK(Metric(agent, "db_client_connection_use_time_seconds_count") == 2);
  CHECK(Metric(agent, "db_client_connections_usage", "db_client_connection_state=\"idle\"") == 1);
  CHECK(Metric(agent, "db_client_connection_create_time_seconds_count") == 2);  // reused

  // A connection whose backend was terminated: its call fails with 08006 and it is closed when
  // given back; the next caller gets a new one.
  const std::string pid = std::to_string(PQbackendPID(b->conn()));
  pg.Psql("SELECT pg_terminate_backend(" + pid + ")");
  PQsetNoticeProcessor(
      b->conn(), [](void*, const char*) {}, nullptr);
  CHECK(Run((*b)->Exec("SELECT 3")) == PGRES_FATAL_ERROR);
  { auto done = std::move(*b); }
  CHECK(Metric(agent, "db_client_connections_usage", "db_client_connection_state=\"used\"") == 0);
  CHECK(Metric(agent, "db_client_connections_usage", "db_client_connection_state=\"idle\"") == 1);
  {
    auto e = pool.Acquire();
    auto f = pool.Acquire();
    REQUIRE(e.ok());
    REQUIRE(f.ok());
    CHECK(Metric(agent, "db_client_connection_create_time_seconds_count") == 3);
    CHECK(Run((*e)->Exec("SELECT 4")) == PGRES_TUPLES_OK);
    CHECK(Run((*f)->Exec("SELECT 5")) == PGRES_TUPLES_OK);
    // Given back inside a transaction: closed, so no caller inherits it.
    CHECK(Run((*f)->Exec("BEGIN")) == PGRES_COMMAND_OK);
  }
  CHECK(Metric(agent, "db_client_connections_usage", "db_client_connection_state=\"idle\"") == 1);
  auto g = pool.Acquire();
  REQUIRE(g.ok());
  CHECK(PQtransactionStatus(g->conn()) == PQTRANS_IDLE);
  const std::string text = agent.RenderText();
  CHECK(text.find("error_type=\"08006\"") != std::string::npos);
}
