// agent/root/agent_access.h: how the units that implement the public API reach an Agent's
// internals. Not API: Agent befriends this struct instead of exposing its implementation publicly.
// Only the composition root (agent/root/), tests and benchmarks include it.

#ifndef VITALS_AGENT_ROOT_AGENT_ACCESS_H_
#define VITALS_AGENT_ROOT_AGENT_ACCESS_H_

#include "agent/root/agent_impl.h"
#include "vitals/agent.h"

namespace vitals {
namespace internal {

struct AgentAccess {
  static AgentImpl& Impl(Agent& agent) { return *agent.impl_; }
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_AGENT_ACCESS_H_
