#include "agent/process/thread_cpu.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/base/procfs.h"

namespace vitals {
namespace internal {

ThreadCpu::Look ThreadCpu::Take() {
  MutexLock lock(&mu_);
  const int64_t now = clock_->NowNanos();
  if (looked_ && now - last_nanos_ < absl::ToInt64Nanoseconds(config_.min_window)) return last_;

  const std::string task_dir = absl::StrCat(config_.proc_root, "/", config_.pid, "/task");
  int count = 0;
  const std::vector<int> tids = Procfs(config_.proc_root, config_.pid)
                                    .ListTasks(config_.max_threads, &count)
                                    .value_or(std::vector<int>{});  // none listed: none shown
  const double window = looked_ ? static_cast<double>(now - last_nanos_) * 1e-9 : 0;
  static const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  Look look;
  look.count = count;
  look.window_seconds = window;
  absl::flat_hash_map<pid_t, uint64_t> ticks;
  ticks.reserve(tids.size());
  for (const int tid : tids) {
    auto text = Procfs::ReadPath(absl::StrCat(task_dir, "/", tid, "/stat"), 1024);
    if (!text.ok()) continue;  // ended since the listing
    auto stat = ParseProcStat(*text);
    if (!stat.ok()) continue;
    const uint64_t total = stat->utime_ticks + stat->stime_ticks;
    ticks[tid] = total;
    Thread t{tid, std::move(stat->comm), static_cast<double>(total) * tick, 0};
    if (auto it = last_ticks_.find(tid);
        window > 0 && it != last_ticks_.end() && total >= it->second) {
      t.cpu_share = static_cast<double>(total - it->second) * tick / window;
    }
    look.busiest.push_back(std::move(t));
  }
  std::sort(look.busiest.begin(), look.busiest.end(), [](const Thread& a, const Thread& b) {
    if (a.cpu_share != b.cpu_share) return a.cpu_share > b.cpu_share;
    if (a.cpu_seconds != b.cpu_seconds) return a.cpu_seconds > b.cpu_seconds;
    return a.tid < b.tid;
  });
  if (look.busiest.size() > config_.top) look.busiest.resize(config_.top);
  last_ticks_ = std::move(ticks);
  last_nanos_ = now;
  last_ = look;
  looked_ = true;
  return look;
}

}  // namespace internal
}  // namespace vitals
