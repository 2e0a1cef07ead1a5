// agent/db/plan_reader.h: reading a query plan for the classic cause of a slow statement, a
// whole table read to find a few rows: an index candidate.
//
// PostgreSQL: the output of `EXPLAIN (FORMAT JSON)` (never `EXPLAIN ANALYZE`, which would run
// the statement). Every "Seq Scan" node with a "Filter" is a candidate: its table ("Relation
// Name", schema-qualified when the plan names a schema), the columns its filter compares (the
// identifiers of the filter expression that are not literals, casts, functions or keywords)
// and the rows the plan expects it to return ("Plan Rows"). Whether the table is large enough
// to matter is the caller's to decide: a plan without ANALYZE does not say how many rows the
// scan reads, the relation's statistics (pg_class.reltuples) do.
//
// SQLite: the detail column of `EXPLAIN QUERY PLAN` rows. "SCAN <table>" (without "USING ...
// INDEX") reads the whole table; "SEARCH <table> USING INDEX ..." does not. SQLite's plan has
// no row estimates, so every full scan of a table the statement filters is a candidate.
//
// Bounded: JSON nesting at most 64 levels and 1 MiB of input, 64 candidates, 16 columns each;
// anything else is InvalidArgument with the reason. Thread-safety: pure functions.

#ifndef VITALS_AGENT_DB_PLAN_READER_H_
#define VITALS_AGENT_DB_PLAN_READER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

struct IndexCandidate {
  std::string table;
  std::vector<std::string> columns;  // filtered columns, in order of appearance, no repeats
  double rows = 0;                   // the rows the plan expects the scan to return
  std::string filter;                // the filter as the plan prints it (PostgreSQL)
};

struct PlanReading {
  std::string top;       // the plan's top node, e.g. "Seq Scan on users" or "SCAN users"
  double top_rows = -1;  // the rows the top node expects to return (PostgreSQL); -1 = not said
  std::vector<IndexCandidate> candidates;
};

// `json`: EXPLAIN (FORMAT JSON) output.
absl::StatusOr<PlanReading> ReadPostgresPlan(absl::string_view json);

// `details`: the detail column of each EXPLAIN QUERY PLAN row, in order. `filtered`: whether
// the statement has a WHERE clause (a full scan without one is what was asked for).
PlanReading ReadSqlitePlan(const std::vector<std::string>& details, bool filtered);

// The column names an SQL filter expression compares, as PostgreSQL prints filters:
// "((email)::text = 'x'::text)" -> {"email"}; "(a > 1) AND (b IS NULL)" -> {"a", "b"}.
std::vector<std::string> FilterColumns(absl::string_view filter);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_DB_PLAN_READER_H_
