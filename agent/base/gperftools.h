// agent/base/gperftools.h: gperftools' CPU profiler and tcmalloc's extension API, found at run
// time.
//
// The agent links neither: linking it must not change the host's allocator, and a host without
// gperftools installed must still run. The CPU profiler (libprofiler.so.0, Debian package
// libgoogle-perftools4) is used if the process already has it or it can be dlopen()ed; the
// heap profiles need tcmalloc to be the process's allocator (linked or LD_PRELOADed), which is
// never dlopen()ed. Every entry point that is missing comes back as an error that says how to
// get it.

#ifndef VITALS_AGENT_BASE_GPERFTOOLS_H_
#define VITALS_AGENT_BASE_GPERFTOOLS_H_

#include <cstddef>
#include <ctime>

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

// gperftools' MallocExtension_GetNumericProperty (the C interface of
// gperftools/malloc_extension_c.h).
using TcmallocNumericPropertyFn = int (*)(const char* property, size_t* value);

// tcmalloc's numeric-property reader when tcmalloc is this process's allocator (the `malloc`
// every caller binds to is tcmalloc's; a library that merely links tcmalloc does not count),
// else null.
TcmallocNumericPropertyFn TcmallocNumericProperty();

// tcmalloc's MallocExtension::instance() (a `MallocExtension*`, see
// gperftools/malloc_extension.h) when tcmalloc is this process's allocator; Unimplemented
// saying how to get it otherwise.
absl::StatusOr<void*> TcmallocMallocExtension();

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_GPERFTOOLS_H_
