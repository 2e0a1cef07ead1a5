#include "agent/profiling/profiler.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/gperftools.h"
#include "agent/base/procfs.h"
#include "agent/profiling/elf_symbols.h"
#include "agent/profiling/function_names.h"
#include "agent/profiling/pprof_proto.h"

namespace vitals {
namespace internal {
namespace {

// One CPU profile at a time in the process, across agents.
std::atomic<bool> g_cpu_profile_running{false};

// The SIGPROF handler the gperftools profiler installed the last time we started it.
std::atomic<void*> g_profiler_handler{nullptr};

void* CurrentSigprofHandler() {
  struct sigaction sa {};
  if (sigaction(SIGPROF, nullptr, &sa) != 0) return nullptr;
  return (sa.sa_flags & SA_SIGINFO) != 0 ? reinterpret_cast<void*>(sa.sa_sigaction)
                                         : reinterpret_cast<void*>(sa.sa_handler);
}

// OK when SIGPROF is free or belongs to gperftools; Unavailable naming the owner otherwise.
absl::Status CheckSigprof() {
  void* handler = CurrentSigprofHandler();
  if (handler == reinterpret_cast<void*>(SIG_DFL) || handler == reinterpret_cast<void*>(SIG_IGN) ||
      handler == g_profiler_handler.load()) {
    return absl::OkStatus();
  }
  Dl_info info{};
  if (dladdr(handler, &info) != 0 && info.dli_fname != nullptr &&
      (std::strstr(info.dli_fname, "libprofiler") != nullptr ||
       std::strstr(info.dli_fname, "tcmalloc_and_profiler") != nullptr)) {
    return absl::OkStatus();  // gperftools' own handler, installed by the host's profiler
  }
  const char* owner = info.dli_fname != nullptr ? info.dli_fname : "an unknown object";
  const char* symbol = info.dli_sname != nullptr ? info.dli_sname : "?";
  return absl::UnavailableError(
      absl::StrCat("SIGPROF already has a handler in this process (", symbol, " in ", owner,
                   "); the CPU profiler would gather nothing, so vitals did not start it"));
}

// A temporary file path, removed when this goes.
class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    path_ = absl::StrCat(dir != nullptr && *dir != '\0' ? dir : "/tmp", "/vitals-cpu-XXXXXX");
    const int fd = mkstemp(path_.data());
    if (fd < 0) {
      error_ =
          absl::StrCat("cannot create a temporary file in ", path_, ": ", std::strerror(errno));
      path_.clear();
    } else {
      close(fd);
    }
  }
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  std::string error_;
};

}  // namespace

absl::StatusOr<std::string> Profiler::CpuProfile(absl::Duration duration,
                                                 const std::function<bool()>& client_gone,
                                                 ProfileFormat format) {
  const absl::Time start = absl::Now();
  auto legacy = Capture(duration, client_gone);
  if (!legacy.ok() || format == ProfileFormat::kGperftools) return legacy;
  return CpuProfileToPprof(*legacy, absl::ToUnixNanos(start),
                           absl::ToInt64Nanoseconds(absl::Now() - start));
}

absl::StatusOr<std::string> Profiler::Capture(absl::Duration duration,
                                              const std::function<bool()>& client_gone) {
  if (duration <= absl::ZeroDuration() || duration > max_duration_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a CPU profile must last more than 0 s and at most ", absl::FormatDuration(max_duration_),
        "; asked for ", absl::FormatDuration(duration)));
  }
  auto api = LoadCpuProfiler();
  if (!api.ok()) return api.status();
  bool expected = false;
  if (!g_cpu_profile_running.compare_exchange_strong(expected, true)) {
    return absl::AlreadyExistsError(
        "a CPU profile is already being taken in this process; only one runs at a time, try "
        "again when it ends");
  }
  struct Release {
    ~Release() { g_cpu_profile_running.store(false); }
  } release;
  {
    internal::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("the agent is stopping");
  }
  if (absl::Status s = CheckSigprof(); !s.ok()) return s;
  TempFile file;
  if (file.path().empty()) return absl::InternalError(file.error());

  CpuProfilerApi::Options options{};
  if (!(*api)->start_with_options(file.path().c_str(), &options)) {
    return absl::AlreadyExistsError(
        "the gperftools CPU profiler is already running in this process (started outside "
        "vitals, e.g. with CPUPROFILE)");
  }
  g_profiler_handler.store(CurrentSigprofHandler());

  // Wait for the duration, waking every 100 ms to notice a client that went away.
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(duration);
  bool gone = false, cancelled = false;
  {
    internal::MutexLock lock(&mu_);
    while (!cancelled_ && std::chrono::steady_clock::now() < deadline) {
      const auto next =
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
      wake_.WaitUntil(&mu_, next,
                      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cancelled_; });
      if (client_gone && client_gone()) {
        gone = true;
        break;
      }
    }
    cancelled = cancelled_;
  }
  CpuProfilerApi::State state{};
  (*api)->get_current_state(&state);
  (*api)->stop();
  if (cancelled) return absl::CancelledError("the agent stopped during the profile");
  if (gone) return absl::CancelledError("the client went away during the profile");
  if (state.samples_gathered <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "the CPU profiler gathered no samples in ", absl::FormatDuration(duration),
        ": the process used no CPU in that time, or something else in the process took over "
        "SIGPROF or ITIMER_PROF"));
  }
  // A long profile of a busy process can pass the 1 MiB that suffices for /proc files.
  constexpr size_t kMaxProfileBytes = size_t{1} << 30;
  auto bytes = Procfs::ReadPath(file.path(), kMaxProfileBytes);
  if (!bytes.ok()) return absl::InternalError(bytes.status().message());
  return *std::move(bytes);
}

void Profiler::Cancel() {
  {
    internal::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  wake_.SignalAll();
}

void Profiler::Resume() {
  internal::MutexLock lock(&mu_);
  cancelled_ = false;
}

absl::StatusOr<std::string> SymbolizeForPprof(absl::string_view body,
                                              const std::function<bool()>& cancelled) {
  std::vector<uint64_t> addresses;
  for (absl::string_view token :
       absl::StrSplit(body, absl::ByAnyChar("+ \t\r\n"), absl::SkipEmpty())) {
    uint64_t addr;
    absl::string_view hex = token;
    if (!absl::ConsumePrefix(&hex, "0x") && !absl::ConsumePrefix(&hex, "0X")) continue;
    if (!absl::SimpleHexAtoi(hex, &addr) || addr == 0) continue;
    if (addresses.size() == kMaxSymbolAddresses) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "more than ", kMaxSymbolAddresses, " addresses in one symbol request; send fewer"));
    }
    addresses.push_back(addr);
  }
  if (addresses.empty()) return std::string();
  auto table = ElfSymbols::ForThisProcess();
  if (!table.ok()) return table.status();
  std::string out;
  // A profile's addresses fall in far fewer functions: demangle each function once.
  absl::flat_hash_map<const char*, std::string> demangled;
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (i % 256 == 0 && cancelled && cancelled()) {
      return absl::CancelledError("the symbol request was abandoned");
    }
    const absl::string_view name = (*table)->Lookup(addresses[i]);
    if (name.empty()) continue;
    auto [it, fresh] = demangled.try_emplace(name.data());
    if (fresh) it->second = Demangle(name);
    absl::StrAppendFormat(&out, "0x%016x %s\n", addresses[i], it->second);
  }
  return out;
}

}  // namespace internal
}  // namespace vitals
