// agent/core/entry_table.h: objects keyed by label values, made on first use and bounded: past
// the limit every new key resolves to one overflow object. The one algorithm behind the route
// table (agent/requests/request_metrics.cc) and the upstream table
// (agent/upstream/upstream_metrics.cc).
//
// Thread-safety: Find from any thread; a key seen before is found without a lock (LabelTable),
// a new one is made under the table's mutex. Entries never move; they live as long as the table
// unless a removable table's owner unlinks them.

#ifndef VITALS_AGENT_CORE_ENTRY_TABLE_H_
#define VITALS_AGENT_CORE_ENTRY_TABLE_H_

#include <algorithm>
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
  // `removable`: entries may be taken out (Unlink); lookups then count themselves as the
  // table's readers (two atomic adds on its line).
  explicit EntryTable(size_t limit, bool removable = false) : table_(limit) {
    if (removable) table_.set_reclaimable();
  }
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  // The entry of `key`. The first time, `make()` (under the mutex) returns a
  // std::unique_ptr<Entry> for it; past the limit, `overflowed()` runs (it counts the folded
  // lookup) and the overflow entry is the answer.
  // `pin(Entry*)` runs on the answer before it is returned, while an entry found without the
  // lock is still counted as read (so an Unlink's caller that waits for NoReaders() sees what
  // `pin` did).
  template <typename Make, typename Overflowed, typename Pin>
  Entry* Find(absl::Span<const absl::string_view> key, Make&& make, Overflowed&& overflowed,
              Pin&& pin) ABSL_LOCKS_EXCLUDED(mu_) {
    const uint64_t hash = HashLabelValues(key);
    if (Entry* e = table_.FindIf(hash, key, [&](Entry* found) {
          pin(found);
          return true;
        })) {
      return e;
    }
    if (!table_.full()) {
      MutexLock lock(&mu_);
      Entry* e = table_.Find(hash, key);
      if (e == nullptr) {
        std::unique_ptr<Entry> entry = make();
        if (table_.Insert(hash, key, entry.get())) {
          entries_.push_back(std::move(entry));
          e = entries_.back().get();
        }
      }
      if (e != nullptr) {
        pin(e);
        return e;
      }
    }
    overflowed();
    pin(&overflow_);
    return &overflow_;
  }
  template <typename Make, typename Overflowed>
  Entry* Find(absl::Span<const absl::string_view> key, Make&& make, Overflowed&& overflowed)
      ABSL_LOCKS_EXCLUDED(mu_) {
    return Find(key, std::forward<Make>(make), std::forward<Overflowed>(overflowed), [](Entry*) {});
  }

  // Takes the entries `pred(const Entry&)` selects (never the overflow entry) out, with one
  // rebuild of the table: later lookups of their keys make new ones. The caller owns them from
  // here, and may free them once NoReaders() held after this call and nothing else points to
  // them. A removable table only. Runs `pred` under the table's mutex.
  template <typename Pred>
  std::vector<std::unique_ptr<Entry>> UnlinkIf(Pred&& pred) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::unique_ptr<Entry>> out;
    MutexLock lock(&mu_);
    auto kept = std::stable_partition(entries_.begin(), entries_.end(),
                                      [&](const std::unique_ptr<Entry>& e) { return !pred(*e); });
    for (auto it = kept; it != entries_.end(); ++it) out.push_back(std::move(*it));
    entries_.erase(kept, entries_.end());
    if (!out.empty()) {
      std::vector<const Entry*> gone;
      for (const auto& e : out) gone.push_back(e.get());
      std::sort(gone.begin(), gone.end());
      table_.RemoveIf(
          [&](const Entry* e) { return std::binary_search(gone.begin(), gone.end(), e); });
    }
    return out;
  }
  // No lookup is inside the table at this moment (see LabelTable::NoReaders).
  bool NoReaders() const { return table_.NoReaders(); }
  // Entries in the table (the overflow entry not counted).
  size_t size() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return entries_.size();
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
