// agent/root/profiling_source.h: the profiling feature as the pprof endpoint's ProfileSource.
// The composition root is the only unit that knows both sides.

#ifndef VITALS_AGENT_ROOT_PROFILING_SOURCE_H_
#define VITALS_AGENT_ROOT_PROFILING_SOURCE_H_

#include <functional>
#include <string>
#include <vector>

#include "agent/profiling/auto_profiler.h"
#include "agent/profiling/heap_profile.h"
#include "agent/profiling/mutex_profile.h"
#include "agent/profiling/profiler.h"
#include "agent/profiling/thread_dump.h"
#include "exporters/pprof_endpoint.h"

namespace vitals {
namespace internal {

class ProfilingSource : public exporters::ProfileSource {
 public:
  // `profiler` must outlive this; `auto_profiler` too, and may be null (automatic profiles off).
  ProfilingSource(Profiler* profiler, AutoProfiler* auto_profiler)
      : profiler_(profiler), auto_profiler_(auto_profiler) {}

  absl::Duration max_cpu_profile() const override { return profiler_->max_duration(); }
  absl::StatusOr<std::string> CpuProfile(absl::Duration duration, ProfileFormat format,
                                         const std::function<bool()>& cancelled) override {
    return profiler_->CpuProfile(duration, cancelled, format);
  }
  absl::StatusOr<std::string> HeapProfile(ProfileFormat format) override {
    return TcmallocHeapSample(format);
  }
  absl::StatusOr<std::string> HeapGrowth(ProfileFormat format) override {
    return TcmallocHeapGrowth(format);
  }
  absl::StatusOr<std::string> Symbolize(absl::string_view body,
                                        const std::function<bool()>& cancelled) override {
    return SymbolizeForPprof(body, cancelled);
  }
  absl::StatusOr<std::string> ThreadStacks(int debug,
                                           const std::function<bool()>& cancelled) override {
    return ThreadDump(ThreadStackOptions{}, debug, cancelled);
  }
  absl::StatusOr<std::string> MutexContention(int64_t seconds, int debug,
                                              const std::function<bool()>& cancelled) override {
    return MutexProfile::Serve(seconds, debug, cancelled);
  }
  bool auto_profiles_enabled() const override { return auto_profiler_ != nullptr; }
  std::vector<AutoProfileInfo> AutoProfiles() override {
    return auto_profiler_ != nullptr ? auto_profiler_->List() : std::vector<AutoProfileInfo>{};
  }
  absl::StatusOr<std::string> AutoProfile(int64_t id) override {
    if (auto_profiler_ == nullptr) {
      return absl::NotFoundError(
          "automatic profiles are off (VITALS_AUTO_PROFILE=1 turns them on)");
    }
    return auto_profiler_->Get(id);
  }

 private:
  Profiler* profiler_;
  AutoProfiler* auto_profiler_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_PROFILING_SOURCE_H_
