#include "agent/base/gperftools.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"

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

}  // namespace

absl::StatusOr<const CpuProfilerApi*> LoadCpuProfiler() {
  static absl::StatusOr<const CpuProfilerApi*>* api = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { api = new absl::StatusOr<const CpuProfilerApi*>(Resolve()); });
  return *api;
}

TcmallocNumericPropertyFn TcmallocNumericProperty() {
  void* tc_malloc = dlsym(RTLD_DEFAULT, "tc_malloc");
  auto get = reinterpret_cast<TcmallocNumericPropertyFn>(
      dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty"));
  if (tc_malloc == nullptr || get == nullptr || dlsym(RTLD_DEFAULT, "malloc") != tc_malloc) {
    return nullptr;
  }
  return get;
}

absl::StatusOr<void*> TcmallocMallocExtension() {
  if (TcmallocNumericProperty() == nullptr) {
    return absl::UnimplementedError(
        "heap profiles need tcmalloc as the process's allocator: link the service with "
        "-ltcmalloc or start it with LD_PRELOAD=libtcmalloc.so.4, and set "
        "TCMALLOC_SAMPLE_PARAMETER=524288");
  }
  // MallocExtension::instance(), by its mangled name: nothing here links against tcmalloc.
  using InstanceFn = void* (*)();
  auto instance =
      reinterpret_cast<InstanceFn>(dlsym(RTLD_DEFAULT, "_ZN15MallocExtension8instanceEv"));
  if (instance == nullptr || instance() == nullptr) {
    return absl::UnimplementedError("tcmalloc does not export MallocExtension::instance()");
  }
  return instance();
}

}  // namespace internal
}  // namespace vitals
