#include "agent/gperftools.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "vitals/process.h"

#if __has_include(<gperftools/malloc_extension.h>)
#include <gperftools/malloc_extension.h>
#define VITALS_HAVE_MALLOC_EXTENSION_H 1
#endif

namespace vitals {
namespace internal {
namespace {

template <typename Fn>
Fn Symbol(void* handle, const char* name) {
  return reinterpret_cast<Fn>(dlsym(handle, name));
}

absl::StatusOr<const CpuProfilerApi*> Resolve() {
  static CpuProfilerApi api;
  // Prefer a profiler the host already has (linked, or libtcmalloc_and_profiler), so both
  // share one profiler state; otherwise load the shared library.
  void* handle = RTLD_DEFAULT;
  if (dlsym(RTLD_DEFAULT, "ProfilerStartWithOptions") == nullptr) {
    handle = dlopen("libprofiler.so.0", RTLD_NOW | RTLD_GLOBAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      return absl::UnimplementedError(
          absl::StrCat("CPU profiling needs gperftools' libprofiler.so.0 (Debian: apt-get install "
                       "libgoogle-perftools4): ",
                       why != nullptr ? why : "not found"));
    }
  }
  api.start_with_options =
      Symbol<decltype(api.start_with_options)>(handle, "ProfilerStartWithOptions");
  api.stop = Symbol<decltype(api.stop)>(handle, "ProfilerStop");
  api.flush = Symbol<decltype(api.flush)>(handle, "ProfilerFlush");
  api.get_current_state =
      Symbol<decltype(api.get_current_state)>(handle, "ProfilerGetCurrentState");
  if (api.start_with_options == nullptr || api.stop == nullptr || api.flush == nullptr ||
      api.get_current_state == nullptr) {
    return absl::UnimplementedError("libprofiler.so.0 lacks the gperftools profiler entry points");
  }
  return &api;
}

#ifdef VITALS_HAVE_MALLOC_EXTENSION_H
// MallocExtension::instance() of the tcmalloc this process runs on. Its virtual functions are
// called through the object, so nothing here links against tcmalloc.
absl::StatusOr<MallocExtension*> TcmallocExtension() {
  if (auto reader = TcmallocAllocatorReader(); !reader.ok()) {
    return absl::UnimplementedError(
        "heap profiles need tcmalloc as the process's allocator: link the service with "
        "-ltcmalloc or start it with LD_PRELOAD=libtcmalloc.so.4, and set "
        "TCMALLOC_SAMPLE_PARAMETER=524288");
  }
  using InstanceFn = MallocExtension* (*)();
  auto instance =
      reinterpret_cast<InstanceFn>(dlsym(RTLD_DEFAULT, "_ZN15MallocExtension8instanceEv"));
  if (instance == nullptr || instance() == nullptr) {
    return absl::UnimplementedError("tcmalloc does not export MallocExtension::instance()");
  }
  return instance();
}
#endif

}  // namespace

absl::StatusOr<const CpuProfilerApi*> LoadCpuProfiler() {
  static absl::StatusOr<const CpuProfilerApi*>* api = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { api = new absl::StatusOr<const CpuProfilerApi*>(Resolve()); });
  return *api;
}

absl::StatusOr<std::string> TcmallocHeapSample() {
#ifdef VITALS_HAVE_MALLOC_EXTENSION_H
  auto ext = TcmallocExtension();
  if (!ext.ok()) return ext.status();
  int64_t period = 0;
  const char* env = std::getenv("TCMALLOC_SAMPLE_PARAMETER");
  if (env == nullptr || !absl::SimpleAtoi(env, &period) || period <= 0) {
    return absl::FailedPreconditionError(
        "tcmalloc heap sampling is off: start the service with TCMALLOC_SAMPLE_PARAMETER=524288 "
        "(sample about every 512 KiB allocated)");
  }
  std::string out;
  (*ext)->GetHeapSample(&out);
  if (absl::StrContains(out, "heap sampling turned off")) {
    return absl::FailedPreconditionError(
        "tcmalloc heap sampling is off: set TCMALLOC_SAMPLE_PARAMETER=524288 before start");
  }
  return out;
#else
  return absl::UnimplementedError("vitals was built without gperftools headers");
#endif
}

absl::StatusOr<std::string> TcmallocHeapGrowth() {
#ifdef VITALS_HAVE_MALLOC_EXTENSION_H
  auto ext = TcmallocExtension();
  if (!ext.ok()) return ext.status();
  std::string out;
  (*ext)->GetHeapGrowthStacks(&out);
  return out;
#else
  return absl::UnimplementedError("vitals was built without gperftools headers");
#endif
}

}  // namespace internal
}  // namespace vitals
