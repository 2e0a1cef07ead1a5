#include "agent/core/family_spec.h"

#include <utility>

#include "agent/core/native_histogram.h"

namespace vitals {
namespace internal {

HistogramExtras DurationExtras(bool native, bool exemplars) {
  HistogramExtras extras;
  extras.exemplars = exemplars;
  extras.native = native;
  if (native) extras.native_layout = DurationNativeLayout();
  return extras;
}

absl::Status CreateFamilies(Registry& registry, std::vector<FamilySpec> specs, bool expirable) {
  for (FamilySpec& spec : specs) {
    auto family = registry.GetOrCreate(spec.name, spec.help, spec.type, std::move(spec.labels),
                                       std::move(spec.bounds), 0, std::move(spec.extras));
    if (!family.ok()) return family.status();
    if (expirable) (*family)->set_expirable();
    *spec.out = *family;
  }
  return absl::OkStatus();
}

std::vector<double> ByteSizeBuckets() {
  return {64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216};
}

std::vector<double> MessagesPerCallBuckets() {
  return {0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000};
}

}  // namespace internal
}  // namespace vitals
