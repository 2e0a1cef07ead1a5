#include "agent/db/statement_table.h"

#include <algorithm>

#include "agent/core/cell_store.h"
#include "agent/core/family.h"
#include "vitals/detail/cells.h"

namespace vitals {
namespace internal {

StatementTable::StatementTable(size_t max_statements)
    : max_statements_(max_statements), index_(max_statements) {}

StatementTable::~StatementTable() {
  internal::MutexLock lock(&mu_);
  for (const auto& e : entries_) CellStore::Get().Free(e->cells, 2);
}

StatementStats* StatementTable::Create(absl::string_view system, absl::string_view text,
                                       absl::string_view table) {
  const int64_t cells = CellStore::Get().Allocate(2);
  if (cells < 0) return nullptr;
  auto e = std::make_unique<StatementStats>();
  e->system = std::string(system);
  e->text = std::string(text);
  e->table = std::string(table);
  e->cells = static_cast<uint64_t>(cells);
  entries_.push_back(std::move(e));
  return entries_.back().get();
}

StatementStats* StatementTable::Find(absl::string_view system, absl::string_view text,
                                     absl::string_view table) {
  if (text.size() > kMaxStatementTextBytes) text = text.substr(0, kMaxStatementTextBytes);
  const absl::string_view key[] = {system, text};
  const uint64_t hash = HashLabelValues(key);
  if (StatementStats* e = index_.Find(hash, key)) return e;
  if (index_.full()) {
    if (StatementStats* other = other_published_.load(std::memory_order_acquire)) return other;
  }
  internal::MutexLock lock(&mu_);
  if (StatementStats* e = index_.Find(hash, key)) return e;  // added meanwhile
  if (index_.size() < max_statements_) {
    StatementStats* e = Create(system, text, table);
    if (e == nullptr) return nullptr;
    if (index_.Insert(hash, key, e)) return e;
    CellStore::Get().Free(e->cells, 2);  // the index refused it: the overflow entry takes it
    entries_.pop_back();
  }
  if (other_ == nullptr) {
    other_ = Create("", kOtherText, "");
    other_published_.store(other_, std::memory_order_release);
  }
  return other_;
}

void StatementTable::Record(StatementStats* stats, int64_t nanos) {
  if (stats == nullptr) return;
  nanos = ObservedNanos(nanos);
  AddToPair(stats->cells, static_cast<double>(nanos) * 1e-9);
  int64_t max = stats->max_nanos.load(std::memory_order_relaxed);
  while (nanos > max &&
         !stats->max_nanos.compare_exchange_weak(max, nanos, std::memory_order_relaxed)) {
  }
}

std::vector<StatementTable::Row> StatementTable::Top(size_t n) const {
  std::vector<const StatementStats*> all;
  {
    internal::MutexLock lock(&mu_);
    all.reserve(entries_.size());
    for (const auto& e : entries_) all.push_back(e.get());
  }
  std::vector<Row> rows;
  rows.reserve(all.size());
  for (const StatementStats* e : all) {  // entries live as long as the table
    double pair[2];
    CellStore::Get().Sum(e->cells, 2, pair);
    if (pair[0] == 0) continue;
    rows.push_back(Row{e->system, e->text, e->table, pair[0], pair[1],
                       static_cast<double>(e->max_nanos.load(std::memory_order_relaxed)) * 1e-9,
                       e->plan()});
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.total_seconds > b.total_seconds; });
  if (rows.size() > n) rows.resize(n);
  return rows;
}

size_t StatementTable::size() const {
  internal::MutexLock lock(&mu_);
  return index_.size();
}

}  // namespace internal
}  // namespace vitals
