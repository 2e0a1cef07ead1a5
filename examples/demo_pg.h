// The demo's database on PostgreSQL (examples/demo_store.h), when `--postgres=CONNINFO` names
// one: the same tables and routes as the SQLite store, through vitals::PgPool (a pool of 4 that
// reports its waits) and vitals::PgSession (every call timed, failures with their SQLSTATE,
// slow statements explained on the agent's own connection). Its tables live in a schema of
// their own, `vitals_demo`, made afresh at start, so pointing it at a database that has other
// tables touches none of them.

#ifndef VITALS_EXAMPLES_DEMO_PG_H_
#define VITALS_EXAMPLES_DEMO_PG_H_

#include <libpq-fe.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "examples/demo_store.h"
#include "vitals/agent.h"
#include "vitals/postgres.h"

namespace demo {

class PgStore : public Store {
 public:
  // Seeds the `vitals_demo` schema through `conninfo`; the error when the server cannot be
  // reached or refuses.
  static absl::StatusOr<std::unique_ptr<PgStore>> Open(vitals::Agent& agent,
                                                       const std::string& conninfo) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      const std::string error = PQerrorMessage(conn);
      PQfinish(conn);
      return absl::UnavailableError("postgresql: " + error);
    }
    const std::string seed = absl::StrCat(
        "SET client_min_messages = warning;"
        "DROP SCHEMA IF EXISTS vitals_demo CASCADE; CREATE SCHEMA vitals_demo;"
        "SET search_path = vitals_demo;"
        "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, total float8);"
        "CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, name text);"
        "INSERT INTO users SELECT g, 'user' || g FROM generate_series(1, ",
        kUsers, ") g;", "INSERT INTO orders SELECT g, 1 + (g * 7919) % ", kUsers, ", g % 97 + 0.5 ",
        "FROM generate_series(1, ", kOrders, ") g;",
        "INSERT INTO accounts SELECT g, 'a' || g || '@example.com', 'account' || g ",
        "FROM generate_series(1, ", kAccounts, ") g;", "ANALYZE;");
    PGresult* r = PQexec(conn, seed.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    const std::string error = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(conn);
    if (!ok) return absl::InternalError("postgresql: seeding: " + error);
    vitals::PgPool::Options o;
    o.name = "demo-postgresql";
    o.max_connections = 4;
    o.wait_timeout = absl::Milliseconds(250);
    return std::unique_ptr<PgStore>(
        new PgStore(agent, conninfo + " options='-c search_path=vitals_demo'", o));
  }

  const char* system() const override { return "postgresql"; }

  absl::StatusOr<std::string> RecentOrdersNPlusOne() override {
    auto db = pool_.Acquire();
    if (!db.ok()) return db.status();
    std::vector<Order> orders;
    absl::Status s = Query(**db, kRecentOrders, {}, [&](PGresult* r, int i) {
      orders.push_back({std::atoll(PQgetvalue(r, i, 0)), std::atoll(PQgetvalue(r, i, 1)),
                        std::atof(PQgetvalue(r, i, 2)), ""});
    });
    for (Order& o : orders) {
      if (!s.ok()) break;
      s = Query(**db, kUserName, {std::to_string(o.user_id)},
                [&](PGresult* r, int i) { o.user = PQgetvalue(r, i, 0); });
    }
    if (!s.ok()) return s;
    return ToJson(orders);
  }

  absl::StatusOr<std::string> RecentOrdersJoin() override {
    auto db = pool_.Acquire();
    if (!db.ok()) return db.status();
    std::vector<Order> orders;
    absl::Status s = Query(**db, kRecentOrdersJoin, {}, [&](PGresult* r, int i) {
      orders.push_back({std::atoll(PQgetvalue(r, i, 0)), std::atoll(PQgetvalue(r, i, 1)),
                        std::atof(PQgetvalue(r, i, 2)), PQgetvalue(r, i, 3)});
    });
    if (!s.ok()) return s;
    return ToJson(orders);
  }

  // An id already there fails with 23505 (unique_violation): AlreadyExists.
  absl::Status ImportOrder(int64_t id) override {
    auto db = pool_.Acquire();
    if (!db.ok()) return db.status();
    return Query(**db, kImport,
                 {std::to_string(id), std::to_string(1 + id % kUsers), std::to_string(id % 97)},
                 [](PGresult*, int) {});
  }

  absl::StatusOr<std::string> AccountByEmail(const std::string& email) override {
    return Account(kAccountByEmail, email);
  }
  absl::StatusOr<std::string> AccountById(int64_t id) override {
    return Account(kAccountById, std::to_string(id));
  }

 private:
  PgStore(vitals::Agent& agent, const std::string& conninfo, const vitals::PgPool::Options& o)
      : pool_(agent, conninfo, o) {}

  absl::StatusOr<std::string> Account(const char* sql, const std::string& key) {
    auto db = pool_.Acquire();
    if (!db.ok()) return db.status();
    std::string id, name;
    absl::Status s = Query(**db, sql, {key}, [&](PGresult* r, int i) {
      id = PQgetvalue(r, i, 0);
      name = PQgetvalue(r, i, 1);
    });
    if (!s.ok()) return s;
    return AccountJson(id, name);
  }

  // Runs `sql` with text parameters; `row(result, i)` for each row.
  template <typename Row>
  static absl::Status Query(vitals::PgSession& db, const char* sql,
                            const std::vector<std::string>& params, Row row) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* r = db.ExecParams(sql, static_cast<int>(values.size()), nullptr, values.data(),
                                nullptr, nullptr, 0);
    const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    absl::Status s;
    if (status == PGRES_TUPLES_OK) {
      for (int i = 0; i < PQntuples(r); ++i) row(r, i);
    } else if (status != PGRES_COMMAND_OK) {
      const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
      const std::string message = r != nullptr ? PQresultErrorMessage(r) : "no result";
      s = state != nullptr && std::string(state) == "23505"
              ? absl::AlreadyExistsError("postgresql: " + message)
              : absl::InternalError("postgresql: " + message);
    }
    PQclear(r);
    return s;
  }

  vitals::PgPool pool_;
};

}  // namespace demo

#endif  // VITALS_EXAMPLES_DEMO_PG_H_
