// agent/root/profiling_source.h: the profiling feature as the pprof endpoint's ProfileSource.
// The composition root is the only unit that knows both sides.

#ifndef VITALS_AGENT_ROOT_PROFILING_SOURCE_H_
#define VITALS_AGENT_ROOT_PROFILING_SOURCE_H_

#include <functional>
#include <string>

#include "agent/profiling/heap_profile.h"
#include "agent/profiling/profiler.h"
#include "exporters/pprof_endpoint.h"

namespace vitals {
namespace internal {

class ProfilingSource : public exporters::ProfileSource {
 public:
  // `profiler` must outlive this.
  explicit ProfilingSource(Profiler* profiler) : profiler_(profiler) {}

  absl::Duration max_cpu_profile() const override { return profiler_->max_duration(); }
  absl::StatusOr<std::string> CpuProfile(absl::Duration duration,
                                         const std::function<bool()>& cancelled) override {
    return profiler_->CpuProfile(duration, cancelled);
  }
  absl::StatusOr<std::string> HeapProfile() override { return TcmallocHeapSample(); }
  absl::StatusOr<std::string> HeapGrowth() override { return TcmallocHeapGrowth(); }
  absl::StatusOr<std::string> Symbolize(absl::string_view body,
                                        const std::function<bool()>& cancelled) override {
    return SymbolizeForPprof(body, cancelled);
  }

 private:
  Profiler* profiler_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_PROFILING_SOURCE_H_
