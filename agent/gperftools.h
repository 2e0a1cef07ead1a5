// agent/gperftools.h: gperftools' CPU profiler and tcmalloc's heap profiles, found at run time.
//
// The agent links neither: linking it must not change the host's allocator, and a host without
// gperftools installed must still run. The CPU profiler (libprofiler.so.0, Debian package
// libgoogle-perftools4) is used if the process already has it or it can be dlopen()ed; the
// heap profiles need tcmalloc to be the process's allocator (linked or LD_PRELOADed), which is
// never dlopen()ed. Every entry point that is missing comes back as an error that says how to
// get it.

#ifndef VITALS_AGENT_GPERFTOOLS_H_
#define VITALS_AGENT_GPERFTOOLS_H_

#include <ctime>
#include <string>

#include "absl/status/statusor.h"

namespace vitals {
namespace internal {

// The C interface of gperftools/profiler.h.
struct CpuProfilerApi {
  struct Options {
    int (*filter_in_thread)(void* arg);
    void* filter_in_thread_arg;
  };
  struct State {
    int enabled;
    time_t start_time;
    char profile_name[1024];
    int samples_gathered;
  };
  int (*start_with_options)(const char* fname, const Options* options);
  void (*stop)();
  void (*flush)();
  void (*get_current_state)(State* state);
};

// The profiler's entry points, or Unimplemented saying why not. Resolved once per process.
absl::StatusOr<const CpuProfilerApi*> LoadCpuProfiler();

// tcmalloc's heap sample (the live objects its sampling has recorded, with stacks) in the
// legacy "heap profile:" text format pprof reads. Unimplemented when tcmalloc is not the
// allocator; FailedPrecondition when sampling is off (TCMALLOC_SAMPLE_PARAMETER unset or 0).
absl::StatusOr<std::string> TcmallocHeapSample();

// tcmalloc's heap growth stacks: where the heap grew, same format.
absl::StatusOr<std::string> TcmallocHeapGrowth();

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_GPERFTOOLS_H_
