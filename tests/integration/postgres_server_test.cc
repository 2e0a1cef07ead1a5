// The throwaway PostgreSQL the database tests build on (tests/support/postgres.h): it starts
// as scripts/bootstrap installs it, counts statements in pg_stat_statements, explains plans in
// JSON, and leaves nothing behind.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/postgres.h"

namespace {

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
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
