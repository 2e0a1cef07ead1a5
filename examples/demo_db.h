// The demo's default database (examples/demo_store.h): SQLite in memory, behind a small
// connection pool that reports through vitals::DbPool, with every statement timed through
// vitals::DbOperation, its failures marked with their SQLite error code, and what EXPLAIN needs
// passed along (set_plan_input) for the agent's plan source, vitals::SqlitePlanSource, which
// reads the same shared in-memory database on a connection of its own.

#ifndef VITALS_EXAMPLES_DEMO_DB_H_
#define VITALS_EXAMPLES_DEMO_DB_H_

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "examples/demo_store.h"
#include "vitals/agent.h"
#include "vitals/db.h"
#include "vitals/sqlite.h"

namespace demo {

class Database : public Store {
 public:
  // Opens `connections` connections to one shared in-memory database and seeds it.
  Database(vitals::Agent& agent, int connections)
      : agent_(agent), pool_metrics_(agent.Pool("demo-sqlite")) {
    const std::string uri = "file:vitals-demo-" +
                            std::to_string(reinterpret_cast<uintptr_t>(this)) +
                            "?mode=memory&cache=shared";
    // Slow statements explained (explain_threshold; fails harmlessly when it is 0).
    agent
        .SetPlanSource(vitals::DbTarget("sqlite"), std::make_unique<vitals::SqlitePlanSource>(
                                                       uri, agent.options().explain_timeout))
        .IgnoreError();
    for (int i = 0; i < connections; ++i) {
      sqlite3* db = nullptr;
      const auto opening = std::chrono::steady_clock::now();
      if (sqlite3_open_v2(
              uri.c_str(), &db,
              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
              nullptr) != SQLITE_OK) {
        std::fprintf(stderr, "demo: sqlite: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        continue;
      }
      sqlite3_busy_timeout(db, 1000);
      pool_metrics_.RecordCreate(absl::FromChrono(std::chrono::steady_clock::now() - opening));
      all_.push_back(db);
    }
    idle_ = all_;
    pool_metrics_.SetMax(static_cast<double>(all_.size()));
    pool_metrics_.AddIdle(static_cast<double>(all_.size()));
    if (!all_.empty()) Seed(all_[0]);
  }

  ~Database() override {
    for (sqlite3* db : all_) sqlite3_close(db);
  }

  const char* system() const override { return "sqlite"; }

  absl::StatusOr<std::string> RecentOrdersNPlusOne() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    std::vector<Order> orders;
    absl::Status s = Run(*conn, kRecentOrders, {}, [&](sqlite3_stmt* st) {
      orders.push_back({sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                        sqlite3_column_double(st, 2), ""});
    });
    for (Order& o : orders) {
      if (!s.ok()) break;
      s = Run(*conn, kUserName, {std::to_string(o.user_id)}, [&](sqlite3_stmt* st) {
        o.user = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      });
    }
    if (!s.ok()) return s;
    return ToJson(orders);
  }

  // An id already there fails (SQLITE_CONSTRAINT): AlreadyExists.
  absl::Status ImportOrder(int64_t id) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    return Run(*conn, kImport,
               {std::to_string(id), std::to_string(1 + id % kUsers), std::to_string(id % 97)},
               [](sqlite3_stmt*) {});
  }

  absl::StatusOr<std::string> RecentOrdersJoin() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    std::vector<Order> orders;
    absl::Status s = Run(*conn, kRecentOrdersJoin, {}, [&](sqlite3_stmt* st) {
      orders.push_back({sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                        sqlite3_column_double(st, 2),
                        reinterpret_cast<const char*>(sqlite3_column_text(st, 3))});
    });
    if (!s.ok()) return s;
    return ToJson(orders);
  }

  absl::StatusOr<std::string> AccountByEmail(const std::string& email) override {
    return Account(kAccountByEmail, email);
  }
  absl::StatusOr<std::string> AccountById(int64_t id) override {
    return Account(kAccountById, std::to_string(id));
  }

 private:
  absl::StatusOr<std::string> Account(const char* sql, const std::string& key) {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    std::string id, name;
    absl::Status s = Run(*conn, sql, {key}, [&](sqlite3_stmt* st) {
      id = std::to_string(sqlite3_column_int64(st, 0));
      name = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    });
    if (!s.ok()) return s;
    return AccountJson(id, name);
  }

  // Gives the connection back to the pool when it goes, and says how long it was held.
  struct Lease {
    Database* owner;
    sqlite3* db;
    std::chrono::steady_clock::time_point taken = std::chrono::steady_clock::now();
    Lease(Database* o, sqlite3* d) : owner(o), db(d) {}
    ~Lease() {
      owner->pool_metrics_.RecordUse(absl::FromChrono(std::chrono::steady_clock::now() - taken));
      owner->Release(db);
    }
  };

  absl::StatusOr<sqlite3*> Acquire() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    pool_metrics_.AddPending(1);
    const bool got =
        cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return !idle_.empty(); });
    pool_metrics_.AddPending(-1);
    pool_metrics_.RecordWait(absl::FromChrono(std::chrono::steady_clock::now() - start));
    if (!got) {
      pool_metrics_.Timeout();
      return absl::UnavailableError("no database connection within 250 ms");
    }
    sqlite3* db = idle_.back();
    idle_.pop_back();
    pool_metrics_.AddIdle(-1);
    pool_metrics_.AddUsed(1);
    return db;
  }

  void Release(sqlite3* db) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(db);
    }
    pool_metrics_.AddUsed(-1);
    pool_metrics_.AddIdle(1);
    cv_.notify_one();
  }

  // The `error_type` of a failed call: SQLite's name for its primary result code (what
  // OpenTelemetry asks for: the database's own status code).
  static const char* SqliteErrorType(int rc) {
    switch (rc & 0xff) {
      case SQLITE_BUSY:
        return "SQLITE_BUSY";
      case SQLITE_LOCKED:
        return "SQLITE_LOCKED";
      case SQLITE_CONSTRAINT:
        return "SQLITE_CONSTRAINT";
      case SQLITE_READONLY:
        return "SQLITE_READONLY";
      default:
        return "SQLITE_ERROR";
    }
  }

  // Runs one statement with text parameters (SQLite converts them to the column's type), timed
  // through the agent, with what EXPLAIN needs should it be slow.
  template <typename Row>
  absl::Status Run(sqlite3* db, const char* sql, const std::vector<std::string>& params, Row row) {
    std::vector<const char*> values;  // before `op`, which reads it when it finishes
    for (const std::string& p : params) values.push_back(p.c_str());
    vitals::DbOperation op(agent_, "sqlite", sql);
    op.set_plan_input(sql, {static_cast<int>(values.size()), values.data()});
    sqlite3_stmt* st = nullptr;
    if (int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr); rc != SQLITE_OK) {
      op.set_error(SqliteErrorType(rc));
      return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db)));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      sqlite3_bind_text(st, static_cast<int>(i + 1), params[i].data(),
                        static_cast<int>(params[i].size()), SQLITE_STATIC);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
      op.set_error(SqliteErrorType(rc));
      if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return absl::AlreadyExistsError(absl::StrCat("sqlite: ", sqlite3_errmsg(db)));
      }
      return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db)));
    }
    return absl::OkStatus();
  }

  void Seed(sqlite3* db) {
    std::string sql =
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, total REAL);"
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT);"
        "BEGIN;";
    for (int u = 1; u <= kUsers; ++u)
      absl::StrAppend(&sql, "INSERT INTO users VALUES (", u, ", 'user", u, "');");
    for (int o = 1; o <= kOrders; ++o) {
      absl::StrAppend(&sql, "INSERT INTO orders VALUES (", o, ", ", 1 + (o * 7919) % kUsers, ", ",
                      (o % 97) + 0.5, ");");
    }
    absl::StrAppend(&sql,
                    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ",
                    kAccounts,
                    ") INSERT INTO accounts SELECT n, 'a' || n || '@example.com', 'account' || n "
                    "FROM g;");
    sql += "COMMIT;";
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::fprintf(stderr, "demo: seeding sqlite: %s\n", error);
      sqlite3_free(error);
    }
  }

  vitals::Agent& agent_;
  vitals::DbPool pool_metrics_;
  std::vector<sqlite3*> all_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sqlite3*> idle_;
};

}  // namespace demo

#endif  // VITALS_EXAMPLES_DEMO_DB_H_
