// agent/core/entry_table.h: objects keyed by label values, made on first use and bounded: past
// the limit every new key resolves to one overflow object. The one algorithm behind the route
// table (agent/requests/request_metrics.cc) and the upstream table
// (agent/upstream/upstream_metrics.cc).
//
// Thread-safety: Find from any thread; a key seen before is found without a lock (LabelTable),
// a new one is made under the table's mutex. Entries live as long as the table and never move.

#ifndef VITALS_AGENT_CORE_ENTRY_TABLE_H_
#define VITALS_AGENT_CORE_ENTRY_TABLE_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "agent/base/mutex.h"
#include "agent/core/label_table.h"

namespace vitals {
namespace internal {

template <typename Entry>
class EntryTable {
 public:
  explicit EntryTable(size_t limit) : table_(limit) {}
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  // The entry of `key`. The first time, `make()` (under the mutex) returns a
  // std::unique_ptr<Entry> for it; past the limit, `overflowed()` runs (it counts the folded
  // lookup) and the overflow entry is the answer.
  template <typename Make, typename Overflowed>
  Entry* Find(absl::Span<const absl::string_view> key, Make&& make, Overflowed&& overflowed)
      ABSL_LOCKS_EXCLUDED(mu_) {
    const uint64_t hash = HashLabelValues(key);
    if (Entry* e = table_.Find(hash, key)) return e;
    if (!table_.full()) {
      MutexLock lock(&mu_);
      if (Entry* e = table_.Find(hash, key)) return e;
      std::unique_ptr<Entry> entry = make();
      if (table_.Insert(hash, key, entry.get())) {
        entries_.push_back(std::move(entry));
        return entries_.back().get();
      }
    }
    overflowed();
    return &overflow_;
  }

  // The entry past the limit: set up by the owner before any Find.
  Entry& overflow() { return overflow_; }

  // Calls fn(Entry&) for every entry made so far and the overflow entry, under the mutex (a
  // new key waits meanwhile; lookups of known keys do not).
  template <typename Fn>
  void ForEach(Fn&& fn) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    for (const auto& e : entries_) fn(*e);
    fn(overflow_);
  }

 private:
  Mutex mu_;
  LabelTable<Entry> table_;  // reads lock-free, inserts under mu_
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  Entry overflow_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_ENTRY_TABLE_H_
