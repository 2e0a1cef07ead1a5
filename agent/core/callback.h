// agent/core/callback.h: how the agent registers a scrape-time callback (vitals/callback.h) on
// its registry's CallbackRunner.

#ifndef VITALS_AGENT_CORE_CALLBACK_H_
#define VITALS_AGENT_CORE_CALLBACK_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "vitals/callback.h"

namespace vitals {
namespace internal {

using ObserveFn = std::function<absl::Status(CallbackObserver&)>;

// Creates (or takes back) the callback family `name` and registers `fn` for it. Errors:
// those of Registry::GetOrCreate; AlreadyExists when the name belongs to handles, or another
// callback holds it; InvalidArgument for an empty function or a histogram type.
absl::StatusOr<CallbackRegistration> AddCallback(Registry& registry, absl::string_view name,
                                                 absl::string_view help, MetricType type,
                                                 std::vector<std::string> label_names,
                                                 ObserveFn fn);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_CALLBACK_H_
