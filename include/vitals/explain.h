// vitals/explain.h: query plans of slow statements, read for missing indexes.
//
// With `Options::explain_threshold` set (off by default), a database call at least that long
// whose statement has not been explained in the last `explain_interval` is handed, with its
// parameters, to the agent's explain thread. There the database's plan source (one per
// DbTarget) runs `EXPLAIN` (never `EXPLAIN ANALYZE`, which would run the statement again) on
// its own connection, bounded by `explain_timeout`. The agent keeps the plan with the statement
// (the live page, `/vitals.json`) and reads it for the classic cause of a slow statement: a
// whole table read to find a few rows. Each table read that way whose estimated size is at
// least `explain_min_rows` counts once per plan in
// `vitals_db_index_candidates_total{db_system_name,db_namespace,db_collection_name}` and logs
// one warning naming the table and the columns its filter compares.
//
// vitals/postgres.h installs a PostgreSQL plan source by itself (PgSession, on a connection of
// its own made from the session's connection parameters); vitals/sqlite.h has one for SQLite
// (`EXPLAIN QUERY PLAN`). Other databases implement PlanSource and call Agent::SetPlanSource.
//
//   vitals::DbOperation op(agent, target, sql);
//   op.set_plan_input(sql, {n, values, lengths, formats});  // what EXPLAIN needs, if slow
//
// Thread-safety: a PlanSource is called on the agent's explain thread only, one call at a
// time, except Cancel, which may come from any thread while a call runs. Ownership: the agent
// owns a source given to Agent::SetPlanSource and destroys it with itself. Cost: nothing on a
// call below the threshold but one compare; see agent/db/explainer.h and BENCHMARKS.md.

#ifndef VITALS_EXPLAIN_H_
#define VITALS_EXPLAIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vitals {

// What a plan source returns.
enum class PlanFormat {
  kPostgresJson,     // the text of `EXPLAIN (FORMAT JSON) ...`
  kSqliteQueryPlan,  // the detail column of each `EXPLAIN QUERY PLAN` row, one per line
};

// A statement's parameters as the call passed them (libpq's convention): `values[i]` null is
// SQL NULL; `formats` null or `formats[i]` 0 is text (NUL-terminated), 1 is binary
// (`lengths[i]` bytes); `types` null or `types[i]` 0 lets the database infer the type, else
// it is the type's id (PostgreSQL: its Oid). Views: valid only until the DbOperation that
// holds them finishes.
struct StatementParams {
  int count = 0;
  const char* const* values = nullptr;
  const int* lengths = nullptr;
  const int* formats = nullptr;
  const unsigned int* types = nullptr;
};

// One parameter, copied for the explain thread.
struct PlanParam {
  bool null = false;
  bool binary = false;
  unsigned int type = 0;  // 0 = inferred
  std::string value;
};

class PlanSource {
 public:
  virtual ~PlanSource() = default;

  virtual PlanFormat format() const = 0;

  // The plan of `statement` (as the service sent it) with `params`, without running the
  // statement. A statement the source cannot explain (not a query, several statements) is
  // InvalidArgument; a timeout is DeadlineExceeded; an unreachable database Unavailable.
  virtual absl::StatusOr<std::string> Explain(const std::string& statement,
                                              const std::vector<PlanParam>& params) = 0;

  // The estimated rows of `table` as a plan names it (PostgreSQL: pg_class.reltuples). NotFound
  // when the database has no estimate; the agent then asks the planner (PostgreSQL) or takes
  // the table as large enough (SQLite, whose plans carry no estimates).
  virtual absl::StatusOr<double> TableRows(const std::string& table) = 0;

  // Ends a call of Explain or TableRows in progress soon (the agent stops). Default: nothing.
  virtual void Cancel() {}
};

}  // namespace vitals

#endif  // VITALS_EXPLAIN_H_
