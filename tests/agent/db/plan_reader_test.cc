#include "agent/db/plan_reader.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace {

using vitals::internal::FilterColumns;
using vitals::internal::ReadPostgresPlan;
using vitals::internal::ReadSqlitePlan;
using Columns = std::vector<std::string>;

// As PostgreSQL 15 prints EXPLAIN (FORMAT JSON) for a join whose outer side scans a table.
const char kJoinPlan[] = R"json([
  {
    "Plan": {
      "Node Type": "Hash Join",
      "Parallel Aware": false,
      "Join Type": "Inner",
      "Startup Cost": 8.31,
      "Total Cost": 220.66,
      "Plan Rows": 12,
      "Plan Width": 40,
      "Hash Cond": "(o.user_id = u.id)",
      "Plans": [
        {
          "Node Type": "Seq Scan",
          "Parent Relationship": "Outer",
          "Relation Name": "orders",
          "Schema": "shop",
          "Alias": "o",
          "Plan Rows": 12,
          "Filter": "((status)::text = ANY ('{open,held}'::text[]))"
        },
        {
          "Node Type": "Hash",
          "Parent Relationship": "Inner",
          "Plans": [
            {
              "Node Type": "Index Scan",
              "Index Name": "users_pkey",
              "Relation Name": "users",
              "Alias": "u",
              "Plan Rows": 1,
              "Index Cond": "(id = 7)"
            }
          ]
        }
      ]
    }
  }
])json";

TEST_CASE("a sequential scan with a filter is an index candidate naming its table and columns",
          "[plan]") {
  auto reading = ReadPostgresPlan(
      R"json([{"Plan": {"Node Type": "Seq Scan", "Relation Name": "users", "Schema": "public",
         "Alias": "users", "Plan Rows": 1, "Plan Width": 4,
         "Filter": "(email = 'u1@example.com'::text)"}}])json");
  REQUIRE(reading.ok());
  CHECK(reading->top == "Seq Scan on users");
  REQUIRE(reading->candidates.size() == 1);
  CHECK(reading->candidates[0].table == "users");  // "public" is left out
  CHECK(reading->candidates[0].columns == Columns{"email"});
  CHECK(reading->candidates[0].rows == 1);
  CHECK(reading->candidates[0].filter == "(email = 'u1@example.com'::text)");
}

TEST_CASE("scans inside joins are found, index scans and unfiltered scans are not", "[plan]") {
  auto reading = ReadPostgresPlan(kJoinPlan);
  REQUIRE(reading.ok());
  CHECK(reading->top == "Hash Join");
  REQUIRE(reading->candidates.size() == 1);
  CHECK(reading->candidates[0].table == "shop.orders");
  CHECK(reading->candidates[0].columns == Columns{"status"});
  auto unfiltered =
      ReadPostgresPlan(R"([{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t"}}])");
  REQUIRE(unfiltered.ok());
  CHECK(unfiltered->candidates.empty());  // reading every row was what was asked
}

TEST_CASE("filter columns skip literals, casts, functions, keywords and parameters", "[plan]") {
  CHECK(FilterColumns("((email)::text = 'x'::text)") == Columns{"email"});
  CHECK(FilterColumns("((a > 1) AND (b IS NULL))") == Columns{"a", "b"});
  CHECK(FilterColumns("(lower(name) ~~ 'bob''s%'::text)") == Columns{"name"});
  CHECK(FilterColumns("(created_at > '2020-01-01 00:00:00'::timestamp without time zone)") ==
        Columns{"created_at"});
  CHECK(FilterColumns("((code)::character varying = $1)") == Columns{"code"});
  CHECK(FilterColumns("(o.user_id = u.id)") == Columns{"user_id", "id"});
  CHECK(FilterColumns("(\"Order Total\" > 10::numeric)") == Columns{"Order Total"});
  CHECK(FilterColumns("((x = 1) OR (x = 2))") == Columns{"x"});  // once
  CHECK(FilterColumns("('and or x'::text = y)") == Columns{"y"});
  CHECK(FilterColumns("").empty());
}

TEST_CASE("what is not EXPLAIN's JSON is refused with the reason", "[plan]") {
  for (const char* bad : {"", "[", "[{\"Plan\": {\"Node Type\": \"Seq Scan\"}", "{}", "[]",
                          "[{\"Plan\": 3}]", "[{\"Plan\": {}}] x", "[\"\\u12\"]", "[1e]"}) {
    INFO(bad);
    auto r = ReadPostgresPlan(bad);
    CHECK(absl::IsInvalidArgument(r.status()));
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = ReadPostgresPlan(deep);
  CHECK(r.status().message().find("nested deeper than 64") != std::string::npos);
  auto big = ReadPostgresPlan(std::string((1 << 20) + 1, ' '));
  CHECK(big.status().message().find("more than the 1 MiB read") != std::string::npos);
}

TEST_CASE("SQLite: a full scan of a filtered table is a candidate, a search by index is not",
          "[plan]") {
  auto scan = ReadSqlitePlan({"SCAN users"}, /*filtered=*/true);
  CHECK(scan.top == "SCAN users");
  REQUIRE(scan.candidates.size() == 1);
  CHECK(scan.candidates[0].table == "users");
  CHECK(ReadSqlitePlan({"SCAN TABLE users"}, true).candidates.size() == 1);  // SQLite < 3.36
  CHECK(
      ReadSqlitePlan({"SEARCH users USING INDEX users_email (email=?)"}, true).candidates.empty());
  CHECK(ReadSqlitePlan({"SCAN users USING COVERING INDEX users_email"}, true).candidates.empty());
  CHECK(ReadSqlitePlan({"SCAN users"}, /*filtered=*/false).candidates.empty());
  auto join = ReadSqlitePlan({"SCAN o", "SEARCH u USING INTEGER PRIMARY KEY (rowid=?)"}, true);
  REQUIRE(join.candidates.size() == 1);
  CHECK(join.candidates[0].table == "o");
}

}  // namespace
