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

#ifndef VITALS_AGENT_DB_STATEMENT_TABLE_H_
#define VITALS_AGENT_DB_STATEMENT_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "agent/base/mutex.h"
#include "agent/core/label_table.h"

namespace vitals {
namespace internal {

struct StatementStats {
  std::string system;
  std::string text;  // normalized, cut at kMaxStatementTextBytes
  std::string table;
  uint64_t cells = 0;  // a CellPair: calls, total seconds
  std::atomic<int64_t> max_nanos{0};
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
