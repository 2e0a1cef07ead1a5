#include "agent/base/log_throttle.h"

#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {

bool LogThrottle::Log(absl::string_view key, LogSeverity severity, absl::string_view line) {
  std::string text;
  {
    internal::MutexLock lock(&mu_);
    if (keys_.size() >= kMaxKeys && !keys_.contains(key)) key = "";  // the shared overflow key
    KeyState& state = keys_[key];
    const int64_t now = clock_->NowNanos();
    if (state.logged && (interval_ == absl::InfiniteDuration() ||
                         now - state.last_nanos < absl::ToInt64Nanoseconds(interval_))) {
      ++state.held_back;
      return false;
    }
    text = std::string(line);
    if (state.held_back > 0) {
      absl::StrAppend(&text, " (", state.held_back, " more since the last such line)");
    }
    state.logged = true;
    state.last_nanos = now;
    state.held_back = 0;
  }
  if (log_ != nullptr) log_->Log(severity, text);
  return true;
}

}  // namespace internal
}  // namespace vitals
