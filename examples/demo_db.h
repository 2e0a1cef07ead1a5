// The demo's database: SQLite in memory, seeded with users and orders, behind a small
// connection pool that reports through vitals::DbPool, with every statement timed through
// vitals::DbOperation and its failures marked with their SQLite error code. Two ways to load the
// recent orders with their users' names: one query per order (the N+1 pattern the agent flags)
// and a single join; and an import whose order ids repeat, so inserts fail on the primary key.

#ifndef VITALS_EXAMPLES_DEMO_DB_H_
#define VITALS_EXAMPLES_DEMO_DB_H_

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "vitals/agent.h"
#include "vitals/db.h"

namespace demo {

class Database {
 public:
  // Opens `connections` connections to one shared in-memory database and seeds it.
  Database(vitals::Agent& agent, int connections)
      : agent_(agent), pool_metrics_(agent.Pool("demo-sqlite")) {
    const std::string uri = "file:vitals-demo-" +
                            std::to_string(reinterpret_cast<uintptr_t>(this)) +
                            "?mode=memory&cache=shared";
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

  ~Database() {
    for (sqlite3* db : all_) sqlite3_close(db);
  }

  // GET /orders/recent/n-plus-one: the recent orders, then one query per order for its user.
  absl::StatusOr<std::string> RecentOrdersNPlusOne() {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    std::vector<Order> orders;
    absl::Status s =
        Run(*conn, "SELECT id, user_id, total FROM orders ORDER BY id DESC LIMIT 20", {},
            [&](sqlite3_stmt* st) {
              orders.push_back({sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                sqlite3_column_double(st, 2), ""});
            });
    for (Order& o : orders) {
      if (!s.ok()) break;
      s = Run(*conn, "SELECT name FROM users WHERE id = ?", {o.user_id}, [&](sqlite3_stmt* st) {
        o.user = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      });
    }
    if (!s.ok()) return s;
    return ToJson(orders);
  }

  // POST /orders/import: inserts order `id`; an id already there fails (SQLITE_CONSTRAINT),
  // which the agent records as a failed call; AlreadyExists then.
  absl::Status ImportOrder(int64_t id) {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    return Run(*conn, "INSERT INTO orders (id, user_id, total) VALUES (?, ?, ?)",
               {id, 1 + id % 200, id % 97}, [](sqlite3_stmt*) {});
  }

  // GET /orders/recent/join: the same answer from one query.
  absl::StatusOr<std::string> RecentOrdersJoin() {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    std::vector<Order> orders;
    absl::Status s =
        Run(*conn,
            "SELECT o.id, o.user_id, o.total, u.name FROM orders o "
            "JOIN users u ON u.id = o.user_id ORDER BY o.id DESC LIMIT 20",
            {}, [&](sqlite3_stmt* st) {
              orders.push_back({sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                sqlite3_column_double(st, 2),
                                reinterpret_cast<const char*>(sqlite3_column_text(st, 3))});
            });
    if (!s.ok()) return s;
    return ToJson(orders);
  }

 private:
  struct Order {
    int64_t id, user_id;
    double total;
    std::string user;
  };

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

  // Runs one statement with integer parameters, timed through the agent.
  template <typename Row>
  absl::Status Run(sqlite3* db, const char* sql, std::vector<int64_t> params, Row row) {
    vitals::DbOperation op(agent_, "sqlite", sql);
    sqlite3_stmt* st = nullptr;
    if (int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr); rc != SQLITE_OK) {
      op.set_error(SqliteErrorType(rc));
      return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db)));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      sqlite3_bind_int64(st, static_cast<int>(i + 1), params[i]);
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
        "BEGIN;";
    for (int u = 1; u <= 200; ++u)
      absl::StrAppend(&sql, "INSERT INTO users VALUES (", u, ", 'user", u, "');");
    for (int o = 1; o <= 2000; ++o) {
      absl::StrAppend(&sql, "INSERT INTO orders VALUES (", o, ", ", 1 + (o * 7919) % 200, ", ",
                      (o % 97) + 0.5, ");");
    }
    sql += "COMMIT;";
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::fprintf(stderr, "demo: seeding sqlite: %s\n", error);
      sqlite3_free(error);
    }
  }

  static std::string ToJson(const std::vector<Order>& orders) {
    std::string out = "[";
    for (const Order& o : orders) {
      if (out.size() > 1) out += ",";
      absl::StrAppend(&out, "{\"id\":", o.id, ",\"user_id\":", o.user_id, ",\"total\":", o.total,
                      ",\"user\":\"", o.user, "\"}");
    }
    return out + "]\n";
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
