// tests/support/agent_internals.h: reaching an agent's families and series from a test, for
// checks the public API does not expose (a series' form, a family's reuse counts).

#ifndef VITALS_TESTS_SUPPORT_AGENT_INTERNALS_H_
#define VITALS_TESTS_SUPPORT_AGENT_INTERNALS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "vitals/agent.h"

namespace vitals_test {

// The agent's family called `name`, or null.
inline vitals::internal::Family* FamilyNamed(vitals::Agent& agent, const std::string& name) {
  vitals::internal::Family* found = nullptr;
  vitals::internal::AgentAccess::Impl(agent).registry().ForEachFamily(
      [&](vitals::internal::Family& f) {
        if (f.name() == name) found = &f;
      });
  return found;
}

// The series of family `name` with label values `values` (made if it does not exist), or null.
inline vitals::internal::Series* SeriesNamed(vitals::Agent& agent, const std::string& name,
                                             std::vector<absl::string_view> values = {}) {
  vitals::internal::Family* f = FamilyNamed(agent, name);
  return f == nullptr ? nullptr : f->Find(absl::MakeConstSpan(values));
}

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_AGENT_INTERNALS_H_
