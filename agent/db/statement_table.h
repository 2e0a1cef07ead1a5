// agent/db/statement_table.h: per normalized statement, calls, total and longest time, kept in
// a bounded table inside the agent (as PostgreSQL's pg_stat_statements does), never as labels.
// The live page shows the top statements by total time.
//
// Thread-safety: Find and Record may be called from any thread at once; Find takes no lock for
// a statement already in the table (a lock-free probe), and a mutex only to add one. Top takes
// the mutex to copy the entry list, then sums without it.
// Cost of Record: one restartable 16-byte add (calls, seconds) on the running CPU's copy, and
// a read of the entry's maximum (written only when a call is the longest yet).
// Ownership: entries live as long as the table; their cells go back to the store with it.
// A statement's plan is replaced whole (a shared pointer under the entry's own mutex, taken
// only by the explain thread and by readers of the table).

#ifndef VITALS_AGENT_DB_STATEMENT_TABLE_H_
#define VITALS_AGENT_DB_STATEMENT_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "agent/base/mutex.h"
#include "agent/core/label_table.h"

namespace vitals {
namespace internal {

// A statement's latest plan (agent/db/explainer.h), as read when it was explained.
struct StatementPlan {
  int64_t at_nanos = 0;  // the agent clock when it was read
  std::string top;       // the plan's top node, e.g. "Seq Scan on users"
  std::string text;      // the plan as the database gave it, cut at kMaxPlanTextBytes
  std::string error;     // why there is no plan (EXPLAIN failed or timed out); else empty
  struct Candidate {
    std::string table;
    std::vector<std::string> columns;  // the columns its filter compares (PostgreSQL)
    double rows = 0;                   // rows the plan expects the scan to return
    double table_rows = -1;            // the table's estimated rows; -1 = not known
  };
  std::vector<Candidate> candidates;  // index candidates at least explain_min_rows large
  static constexpr size_t kMaxPlanTextBytes = 64 * 1024;
};

struct StatementStats {
  std::string system;
  std::string text;  // normalized, cut at kMaxStatementTextBytes
  std::string table;
  uint64_t cells = 0;  // a CellPair: calls, total seconds
  std::atomic<int64_t> max_nanos{0};
  // Explaining (agent/db/explainer.h): the agent clock before which it is not explained
  // again, and whether a job for it is queued or running.
  std::atomic<int64_t> next_explain_nanos{INT64_MIN};
  std::atomic<bool> explaining{false};

  std::shared_ptr<const StatementPlan> plan() const ABSL_LOCKS_EXCLUDED(plan_mu_) {
    internal::MutexLock lock(&plan_mu_);
    return plan_;
  }
  void set_plan(std::shared_ptr<const StatementPlan> plan) ABSL_LOCKS_EXCLUDED(plan_mu_) {
    internal::MutexLock lock(&plan_mu_);
    plan_ = std::move(plan);
  }

 private:
  mutable internal::Mutex plan_mu_;
  std::shared_ptr<const StatementPlan> plan_ ABSL_GUARDED_BY(plan_mu_);
};

class StatementTable {
 public:
  // The text kept per statement; longer normalized texts are cut (and share an entry when
  // their first kMaxStatementTextBytes agree).
  static constexpr size_t kMaxStatementTextBytes = 1024;
  // The text of the entry that takes every statement once the table is full.
  static constexpr absl::string_view kOtherText = "(other statements)";

  // At most `max_statements` distinct (system, text) entries, plus the overflow entry.
  explicit StatementTable(size_t max_statements);
  ~StatementTable();
  StatementTable(const StatementTable&) = delete;
  StatementTable& operator=(const StatementTable&) = delete;

  // The entry of `text` on `system`, created on first use; the overflow entry when the table
  // is full; null only when the cell store is exhausted.
  StatementStats* Find(absl::string_view system, absl::string_view text, absl::string_view table)
      ABSL_LOCKS_EXCLUDED(mu_);
  static void Record(StatementStats* stats, int64_t nanos);

  struct Row {
    std::string system, text, table;
    double calls = 0;
    double total_seconds = 0;
    double max_seconds = 0;
    std::shared_ptr<const StatementPlan> plan;  // null until explained
  };
  // The `n` entries with the most total time, most first.
  std::vector<Row> Top(size_t n) const ABSL_LOCKS_EXCLUDED(mu_);
  // Distinct statements in the table (the overflow entry not counted).
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  StatementStats* Create(absl::string_view system, absl::string_view text, absl::string_view table)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_statements_;
  mutable internal::Mutex mu_;
  LabelTable<StatementStats> index_;  // (system, text) -> entry; inserts under mu_
  std::vector<std::unique_ptr<StatementStats>> entries_ ABSL_GUARDED_BY(mu_);
  StatementStats* other_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::atomic<StatementStats*> other_published_{nullptr};
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_DB_STATEMENT_TABLE_H_
