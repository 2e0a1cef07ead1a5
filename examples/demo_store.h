// What the demo's routes ask of its database, and the two stores that answer: SQLite in memory
// (examples/demo_db.h, the default) and PostgreSQL (examples/demo_pg.h, when `--postgres=` names
// one; scripts/demo starts a throwaway server when it can). Both hold the same tables:
// `users` (200) and `orders` (2,000) for the N+1 and join routes and the failing import, and
// `accounts` (50,000, no index on `email`) for a lookup by an unindexed column, which the agent's
// EXPLAIN of slow statements flags, beside its twin by primary key, which is never slow.

#ifndef VITALS_EXAMPLES_DEMO_STORE_H_
#define VITALS_EXAMPLES_DEMO_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace demo {

class Store {
 public:
  virtual ~Store() = default;
  // GET /orders/recent/n-plus-one: the recent orders, then one query per order for its user.
  virtual absl::StatusOr<std::string> RecentOrdersNPlusOne() = 0;
  // GET /orders/recent/join: the same answer from one query.
  virtual absl::StatusOr<std::string> RecentOrdersJoin() = 0;
  // POST /orders/import/:id: inserts order `id`; AlreadyExists when the id is taken (a failed
  // call the agent records with the database's error code).
  virtual absl::Status ImportOrder(int64_t id) = 0;
  // GET /accounts/by-email/:email: a whole-table read (no index on email).
  virtual absl::StatusOr<std::string> AccountByEmail(const std::string& email) = 0;
  // GET /accounts/by-id/:id: the same answer through the primary key.
  virtual absl::StatusOr<std::string> AccountById(int64_t id) = 0;
  // "sqlite" or "postgresql".
  virtual const char* system() const = 0;

  static constexpr int kUsers = 200, kOrders = 2000, kAccounts = 50000;

 protected:
  struct Order {
    int64_t id, user_id;
    double total;
    std::string user;
  };

  static std::string ToJson(const std::vector<Order>& orders) {
    std::string out = "[";
    for (const Order& o : orders) {
      if (out.size() > 1) out += ",";
      absl::StrAppend(&out, "{\"id\":", o.id, ",\"user_id\":", o.user_id, ",\"total\":", o.total,
                      ",\"user\":\"", o.user, "\"}");
    }
    return out + "]\n";
  }

  static std::string AccountJson(const std::string& id, const std::string& name) {
    return id.empty() ? "null\n" : absl::StrCat("{\"id\":", id, ",\"name\":\"", name, "\"}\n");
  }

  // The statements both stores run (PostgreSQL's placeholders; SQLite reads $N too).
  static constexpr const char* kRecentOrders =
      "SELECT id, user_id, total FROM orders ORDER BY id DESC LIMIT 20";
  static constexpr const char* kUserName = "SELECT name FROM users WHERE id = $1";
  static constexpr const char* kRecentOrdersJoin =
      "SELECT o.id, o.user_id, o.total, u.name FROM orders o "
      "JOIN users u ON u.id = o.user_id ORDER BY o.id DESC LIMIT 20";
  static constexpr const char* kImport =
      "INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)";
  static constexpr const char* kAccountByEmail = "SELECT id, name FROM accounts WHERE email = $1";
  static constexpr const char* kAccountById = "SELECT id, name FROM accounts WHERE id = $1";
};

}  // namespace demo

#endif  // VITALS_EXAMPLES_DEMO_STORE_H_
