// agent/base/procfs.h: the Linux /proc files behind the `process_*` metrics.
//
// The parsers take file contents, so unit tests feed them canned text; `Procfs` reads the files
// under a root (normally "/proc") for a pid (normally "self"). Field meanings follow proc(5)
// and client_golang's process collector.

#ifndef VITALS_AGENT_BASE_PROCFS_H_
#define VITALS_AGENT_BASE_PROCFS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// From /proc/<pid>/stat.
struct ProcStat {
  std::string comm;  // the command (a thread's name), without its parentheses
  char state = '?';  // R running, S sleeping, D disk sleep, T stopped, t traced, Z zombie, ...
  uint64_t utime_ticks = 0;  // user CPU time, in clock ticks
  uint64_t stime_ticks = 0;  // system CPU time, in clock ticks
  int64_t num_threads = 0;
  uint64_t start_ticks = 0;  // start time after boot, in clock ticks
  uint64_t vsize_bytes = 0;  // virtual memory size
  int64_t rss_pages = 0;     // resident set size, in pages
};
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text);

// From /proc/<pid>/limits, soft limits; "unlimited" is 2^64-1, as client_golang reports it.
struct ProcLimits {
  double max_open_files = 0;
  double max_address_space = 0;
};
absl::StatusOr<ProcLimits> ParseProcLimits(absl::string_view text);

// The `btime` line of /proc/stat: boot time in seconds since the epoch.
absl::StatusOr<int64_t> ParseBootTime(absl::string_view text);

class Procfs {
 public:
  // `root` is the /proc mount, `pid` a number or "self".
  Procfs(std::string root, std::string pid);

  // Reads <root>/<pid>/<name> whole (at most 1 MiB). The error names the path.
  absl::StatusOr<std::string> ReadProcessFile(absl::string_view name) const;
  // Reads <root>/<name> (e.g. "stat").
  absl::StatusOr<std::string> ReadFile(absl::string_view name) const;
  // The thread ids under <root>/<pid>/task, lowest first, at most `max` of them; `*count`, when
  // not null, gets how many there are in all. The error names the path.
  absl::StatusOr<std::vector<int>> ListTasks(size_t max, int* count = nullptr) const;
  // Entries of <root>/<pid>/fd (the directory's own descriptor included, as client_golang does).
  absl::StatusOr<int64_t> CountOpenFds() const;

  // Reads a file up to `max_bytes` (the rest is left out). The /proc readers above use the
  // 1 MiB default; callers reading their own files pass a bound that fits them.
  static absl::StatusOr<std::string> ReadPath(const std::string& path,
                                              size_t max_bytes = size_t{1} << 20);

 private:
  std::string root_;
  std::string process_dir_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_PROCFS_H_
