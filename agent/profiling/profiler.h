// agent/profiling/profiler.h: on-demand CPU profiles (gperftools) and tcmalloc heap profiles.
//
// CPU profiling is process-wide (one SIGPROF timer, one profiler state), so one CPU profile runs
// at a time in the whole process, whichever agent asked: a second request fails at once with
// AlreadyExists. A profile that gathered no samples is an error, never an empty profile: that
// happens when the process was idle or something else owns SIGPROF, and the message says which
// to check. The profile is written by gperftools to a temporary file, read back and removed.
//
// Thread-safety: every method may be called from any thread; profiles wait on a condition
// variable, so `Cancel()` ends them at once.

#ifndef VITALS_AGENT_PROFILING_PROFILER_H_
#define VITALS_AGENT_PROFILING_PROFILER_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/base/mutex.h"
#include "vitals/profiling.h"

namespace vitals {
namespace internal {

class Profiler {
 public:
  explicit Profiler(absl::Duration max_duration) : max_duration_(max_duration) {}
  ~Profiler() { Cancel(); }

  absl::Duration max_duration() const { return max_duration_; }

  // A CPU profile over `duration`, as a gzipped profile.proto symbolized in the process, or in
  // gperftools' own format. Ends early, with Cancelled, when `client_gone()` turns true or
  // `Cancel()` is called. Symbolizing happens after the profiler is released, so it never
  // makes another request wait. Errors: InvalidArgument (duration not in (0, max]),
  // AlreadyExists (a profile is running), Unimplemented (no libprofiler), Unavailable
  // (SIGPROF owned by the host, or no samples), Internal (temporary file trouble).
  absl::StatusOr<std::string> CpuProfile(absl::Duration duration,
                                         const std::function<bool()>& client_gone,
                                         ProfileFormat format = ProfileFormat::kPprof);

  // Ends profiles in progress (the agent is stopping) and refuses new ones until `Resume()`.
  void Cancel();
  void Resume();

 private:
  // The profile in gperftools' format.
  absl::StatusOr<std::string> Capture(absl::Duration duration,
                                      const std::function<bool()>& client_gone);

  const absl::Duration max_duration_;
  internal::Mutex mu_;
  internal::CondVar wake_;  // a profile's wait, woken by Cancel
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// The most addresses one symbol request may ask for (the pprof clients send every address of a
// profile in one request; a long profile of a large service has tens of thousands).
inline constexpr size_t kMaxSymbolAddresses = 65536;

// Symbol lookup as pprof's /pprof/symbol expects: `body` holds addresses such as
// "0x4005d0+0x4006e8"; the answer has one "0x<addr> <name>" line per address this process can
// name (others are left out, and pprof prints them as addresses). Names come from one
// ElfSymbols table (agent/profiling/elf_symbols.h), demangled. Errors: ResourceExhausted past
// kMaxSymbolAddresses (nothing is looked up), Cancelled as soon as `cancelled()` turns true
// (checked every 256 addresses), Unavailable when the process's mappings cannot be read.
absl::StatusOr<std::string> SymbolizeForPprof(absl::string_view body,
                                              const std::function<bool()>& cancelled);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_PROFILER_H_
