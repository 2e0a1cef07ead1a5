#include "agent/base/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vitals {
namespace internal {
namespace {

absl::Status ErrnoError(absl::string_view what, absl::string_view path, int err) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

}  // namespace

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. After it, field 3 (state) is token 0, so field N is token N-3.
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("stat: no ')' after the command name");
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kThreads = 20 - 3, kStart = 22 - 3,
                   kVsize = 23 - 3, kRss = 24 - 3;
  if (f.size() <= kRss) {
    return absl::InvalidArgumentError(
        absl::StrCat("stat: ", f.size() + 2, " fields, want at least ", kRss + 3 + 1));
  }
  ProcStat s;
  if (const size_t open = text.find('('); open != absl::string_view::npos && open < close) {
    s.comm = std::string(text.substr(open + 1, close - open - 1));
  }
  if (!f[0].empty()) s.state = f[0][0];
  if (!absl::SimpleAtoi(f[kUtime], &s.utime_ticks) ||
      !absl::SimpleAtoi(f[kStime], &s.stime_ticks) ||
      !absl::SimpleAtoi(f[kThreads], &s.num_threads) ||
      !absl::SimpleAtoi(f[kStart], &s.start_ticks) ||
      !absl::SimpleAtoi(f[kVsize], &s.vsize_bytes) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(f[kRss]), &s.rss_pages)) {
    return absl::InvalidArgumentError("stat: a field is not a number");
  }
  return s;
}

absl::StatusOr<ProcLimits> ParseProcLimits(absl::string_view text) {
  ProcLimits limits;
  bool have_files = false, have_as = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    double* out = nullptr;
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "Max open files")) {
      out = &limits.max_open_files;
      have_files = true;
    } else if (absl::ConsumePrefix(&rest, "Max address space")) {
      out = &limits.max_address_space;
      have_as = true;
    } else {
      continue;
    }
    std::vector<absl::string_view> cols = absl::StrSplit(rest, ' ', absl::SkipWhitespace());
    if (cols.empty()) return absl::InvalidArgumentError("limits: a limit line has no value");
    uint64_t v;
    if (cols[0] == "unlimited") {
      *out = 18446744073709551615.0;
    } else if (absl::SimpleAtoi(cols[0], &v)) {
      *out = static_cast<double>(v);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("limits: \"", cols[0], "\" is not a number"));
    }
  }
  if (!have_files || !have_as) {
    return absl::InvalidArgumentError("limits: no \"Max open files\" or \"Max address space\"");
  }
  return limits;
}

absl::StatusOr<int64_t> ParseBootTime(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      int64_t v;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &v) && v > 0) return v;
      return absl::InvalidArgumentError("stat: btime is not a number");
    }
  }
  return absl::InvalidArgumentError("stat: no btime line");
}

Procfs::Procfs(std::string root, std::string pid)
    : root_(std::move(root)), process_dir_(absl::StrCat(root_, "/", pid)) {}

absl::StatusOr<std::string> Procfs::ReadProcessFile(absl::string_view name) const {
  return ReadPath(absl::StrCat(process_dir_, "/", name));
}

absl::StatusOr<std::string> Procfs::ReadFile(absl::string_view name) const {
  return ReadPath(absl::StrCat(root_, "/", name));
}

absl::StatusOr<std::string> Procfs::ReadPath(const std::string& path, size_t max_bytes) {
  // /proc files report size 0, so read until EOF instead of trusting stat().
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path, errno);
  std::string out;
  char buf[4096];
  while (out.size() < max_bytes) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return ErrnoError("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

absl::StatusOr<std::vector<int>> Procfs::ListTasks(size_t max, int* count) const {
  const std::string path = absl::StrCat(process_dir_, "/task");
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return ErrnoError("cannot list", path, errno);
  std::vector<int> tids;
  while (const dirent* e = readdir(dir)) {
    int tid;
    if (absl::SimpleAtoi(e->d_name, &tid) && tid > 0) tids.push_back(tid);
  }
  closedir(dir);
  std::sort(tids.begin(), tids.end());
  if (count != nullptr) *count = static_cast<int>(tids.size());
  if (tids.size() > max) tids.resize(max);
  return tids;
}

absl::StatusOr<int64_t> Procfs::CountOpenFds() const {
  const std::string path = absl::StrCat(process_dir_, "/fd");
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return ErrnoError("cannot list", path, errno);
  int64_t n = 0;
  errno = 0;
  while (const dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  }
  const int err = errno;
  closedir(dir);
  if (err != 0) return ErrnoError("cannot list", path, err);
  return n;
}

}  // namespace internal
}  // namespace vitals
