#include "agent/db/sql_normalize.h"

#include <catch2/catch.hpp>
#include <string>

namespace {

using vitals::internal::NormalizedSql;
using vitals::internal::NormalizeSql;

struct Case {
  const char* statement;
  const char* text;
  const char* operation;
  const char* table;
};

TEST_CASE("statements normalize to text, operation and table", "[sql]") {
  const Case cases[] = {
      {"SELECT * FROM users WHERE id = 42", "SELECT * FROM users WHERE id = ?", "SELECT", "users"},
      {"select name from Users where id=7", "SELECT name FROM users WHERE id = ?", "SELECT",
       "users"},
      {"SELECT name FROM users WHERE name = 'O''Brien' AND note = 'a\\'b'",
       "SELECT name FROM users WHERE name = ? AND note = ?", "SELECT", "users"},
      {"SELECT * FROM orders WHERE id IN (1, 2, 3, 4)", "SELECT * FROM orders WHERE id IN (...)",
       "SELECT", "orders"},
      {"SELECT * FROM orders WHERE id in (?,?)", "SELECT * FROM orders WHERE id IN (...)", "SELECT",
       "orders"},
      {"  SELECT  *\n\tFROM   orders -- recent first\n ORDER BY id DESC /* newest */ LIMIT 20;",
       "SELECT * FROM orders ORDER BY id DESC LIMIT ?", "SELECT", "orders"},
      {"INSERT INTO orders (user_id, total) VALUES (3, 9.99), (4, -1.5e3)",
       "INSERT INTO orders(user_id, total) VALUES (...)", "INSERT", "orders"},
      {"UPDATE accounts SET balance = balance - 10.5 WHERE id = 0x1F",
       "UPDATE accounts SET balance = balance - ? WHERE id = ?", "UPDATE", "accounts"},
      {"DELETE FROM sessions WHERE expires < 1700000000", "DELETE FROM sessions WHERE expires < ?",
       "DELETE", "sessions"},
      {"SELECT o.id, u.name FROM \"Orders\" o JOIN users u ON u.id = o.user_id",
       "SELECT o.id, u.name FROM \"Orders\" o JOIN users u ON u.id = o.user_id", "SELECT",
       "Orders"},
      {"select * from public.users where email = :email",
       "SELECT * FROM public.users WHERE email = ?", "SELECT", "public.users"},
      {"WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent",
       "WITH recent AS (SELECT * FROM orders) SELECT COUNT(*) FROM recent", "SELECT", "orders"},
      {"BEGIN", "BEGIN", "BEGIN", "unknown"},
      {"VACUUM", "vacuum", "OTHER", "unknown"},
      {"", "", "OTHER", "unknown"},
  };
  for (const Case& c : cases) {
    INFO(c.statement);
    NormalizedSql n;
    NormalizeSql(c.statement, &n);
    CHECK(n.text == c.text);
    CHECK(n.operation == c.operation);
    CHECK(n.table == c.table);
  }
}

TEST_CASE("statements that differ only in values normalize alike", "[sql]") {
  NormalizedSql a, b;
  NormalizeSql("SELECT name FROM users WHERE id = 1 AND tag IN ('x')", &a);
  NormalizeSql("select name\nfrom users\nwhere id=99 and tag in ('y','z','w')", &b);
  CHECK(a.text == b.text);
}

TEST_CASE("hostile statements are bounded and never crash", "[sql]") {
  NormalizedSql n;
  NormalizeSql(std::string(100000, '('), &n);
  CHECK(n.text.size() <= vitals::internal::kMaxStatementBytes);
  NormalizeSql("SELECT 'unterminated", &n);
  CHECK(n.text == "SELECT ?");
  NormalizeSql("SELECT /* unterminated", &n);
  CHECK(n.text == "SELECT");
  static const char kBinary[] = "SELECT \xff\xfe FROM t\0x";
  NormalizeSql(std::string(kBinary, sizeof kBinary - 1), &n);
  CHECK(n.operation == "SELECT");
}

}  // namespace
