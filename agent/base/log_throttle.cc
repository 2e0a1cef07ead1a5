#include "agent/base/log_throttle.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {

int64_t LogThrottle::NextDue(int64_t now) const {
  if (interval_ == absl::InfiniteDuration()) return std::numeric_limits<int64_t>::max();
  return now + absl::ToInt64Nanoseconds(interval_);
}

void LogThrottle::Emit(LogSeverity severity, std::string line, uint64_t held_back) {
  if (held_back > 0) absl::StrAppend(&line, " (", held_back, " more since the last such line)");
  if (log_ != nullptr) log_->Log(severity, line);
}

bool LogThrottle::Log(absl::string_view key, LogSeverity severity, absl::string_view line) {
  uint64_t held_back;
  {
    internal::MutexLock lock(&mu_);
    if (keys_.size() >= kMaxKeys && !keys_.contains(key)) key = "";  // the shared overflow key
    KeyState& state = keys_[key];
    const int64_t now = clock_->NowNanos();
    if (now < state.next_nanos) {
      ++state.held_back;
      return false;
    }
    state.next_nanos = NextDue(now);
    held_back = std::exchange(state.held_back, 0);
  }
  Emit(severity, std::string(line), held_back);
  return true;
}

}  // namespace internal
}  // namespace vitals
