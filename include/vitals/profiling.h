// vitals/profiling.h: the formats profiles come in, and what the agent keeps of the CPU
// profiles it captures by itself when slow requests burst (Options::auto_profile).
//
// Profiles are served as Go's net/http/pprof serves them: a gzipped `profile.proto` (the
// perftools.profiles schema that `go tool pprof`, google/pprof, Pyroscope, Parca and Grafana
// Alloy read), symbolized inside the process: function names (demangled, short, as pprof shows
// them; the mangled name as the system name), mappings with file names and GNU build IDs, and
// file, line and inlined calls where an object carries DWARF. gperftools' own formats stay
// available for `google-pprof`.
//
// Thread-safety: plain value types, and SetMutexProfileFraction (thread-safe).

#ifndef VITALS_PROFILING_H_
#define VITALS_PROFILING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace vitals {

enum class ProfileFormat {
  kPprof,       // gzipped profile.proto, symbolized (first bytes 1f 8b)
  kGperftools,  // gperftools' legacy format: binary CPU profile, "heap profile:" text
};

// The slow requests of one route among those that triggered an automatic profile.
struct AutoProfileRoute {
  std::string method;  // normalized, e.g. "GET"
  std::string route;   // the route template
  int slow_requests = 0;
};

// One automatic CPU profile the agent keeps.
struct AutoProfileInfo {
  int64_t id = 0;    // 1, 2, ... in the order of capture, never reused
  absl::Time start;  // when the capture began
  absl::Duration duration;
  std::string trigger;  // why: "slow_requests"
  // The slow requests that triggered it, most frequent route first.
  std::vector<AutoProfileRoute> routes;
  size_t bytes = 0;  // size of the gzipped profile.proto
};

// Turns the absl::Mutex contention profile (/debug/pprof/mutex) on or off, as Go's
// runtime.SetMutexProfileFraction: 0 off, 1 every contention, N one in N on average (the
// profile scales what it kept by N). A negative value only reads it. Returns the previous
// fraction. Process-wide; Options::mutex_profile_fraction sets it when an agent starts.
// Cost: nothing until first turned on; then, per contended absl::Mutex release, one atomic
// load when off, and a stack trace (a few microseconds) for each kept event. Uncontended locks
// never pay. Thread-safe.
int SetMutexProfileFraction(int fraction);

}  // namespace vitals

#endif  // VITALS_PROFILING_H_
