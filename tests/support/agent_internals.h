// tests/support/agent_internals.h: reaching an agent's families, series and statement table
// from a test, for checks the public API does not expose (a series' form, a family's reuse
// counts, a statement's plan).

#ifndef VITALS_TESTS_SUPPORT_AGENT_INTERNALS_H_
#define VITALS_TESTS_SUPPORT_AGENT_INTERNALS_H_

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/db/db_metrics.h"
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

// The statement-table row of the normalized statement `text` (exactly), or, with `exact`
// false, the first row (most total time first) whose text contains it. Fails the test when
// there is none.
inline vitals::internal::StatementTable::Row StatementRow(vitals::Agent& agent,
                                                          const std::string& text,
                                                          bool exact = true) {
  for (auto& row : vitals::internal::AgentAccess::Impl(agent).db()->statements().Top(1000)) {
    if (exact ? row.text == text : row.text.find(text) != std::string::npos) return row;
  }
  FAIL("no statement " << (exact ? "" : "containing ") << text);
  return {};
}

// Waits until the agent's explain thread has nothing queued or running; false after 60 s.
inline bool ExplainsSettled(vitals::Agent& agent) {
  return vitals::internal::AgentAccess::Impl(agent).db()->explainer()->WaitIdle(absl::Seconds(60));
}

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_AGENT_INTERNALS_H_
