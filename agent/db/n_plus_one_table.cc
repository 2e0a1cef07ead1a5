#include "agent/db/n_plus_one_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {

void NPlusOneTable::Add(absl::string_view method, absl::string_view route, uint64_t statement_hash,
                        absl::string_view statement, absl::string_view table, uint32_t calls,
                        int64_t at_nanos) {
  internal::MutexLock lock(&mu_);
  auto key = std::make_pair(absl::StrCat(method, " ", route), statement_hash);
  auto it = patterns_.find(key);
  if (it == patterns_.end()) {
    if (patterns_.size() >= kMaxPatterns) {
      auto oldest =
          std::min_element(patterns_.begin(), patterns_.end(), [](const auto& a, const auto& b) {
            return a.second.last_at_nanos < b.second.last_at_nanos;
          });
      patterns_.erase(oldest);
    }
    Pattern p;
    p.method = std::string(method);
    p.route = std::string(route);
    p.statement = std::string(statement);
    p.table = std::string(table);
    it = patterns_.emplace(std::move(key), std::move(p)).first;
  }
  Pattern& p = it->second;
  ++p.requests;
  p.last_calls = calls;
  p.max_calls = std::max(p.max_calls, calls);
  p.last_at_nanos = at_nanos;
}

std::vector<NPlusOneTable::Pattern> NPlusOneTable::Read() const {
  std::vector<Pattern> out;
  {
    internal::MutexLock lock(&mu_);
    out.reserve(patterns_.size());
    for (const auto& [key, p] : patterns_) out.push_back(p);
  }
  std::sort(out.begin(), out.end(),
            [](const Pattern& a, const Pattern& b) { return a.last_at_nanos > b.last_at_nanos; });
  return out;
}

}  // namespace internal
}  // namespace vitals
