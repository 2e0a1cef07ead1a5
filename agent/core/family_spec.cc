#include "agent/core/family_spec.h"

#include <utility>

namespace vitals {
namespace internal {

absl::Status CreateFamilies(Registry& registry, std::vector<FamilySpec> specs) {
  for (FamilySpec& spec : specs) {
    auto family = registry.GetOrCreate(spec.name, spec.help, spec.type, std::move(spec.labels),
                                       std::move(spec.bounds));
    if (!family.ok()) return family.status();
    *spec.out = *family;
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace vitals
