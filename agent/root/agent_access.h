// agent/root/agent_access.h: how the units that implement the public API reach an Agent's
// internals. Not API: Agent befriends this struct instead of exposing its core publicly.
// Only the composition root (agent/root/), tests and benchmarks include it.

#ifndef VITALS_AGENT_ROOT_AGENT_ACCESS_H_
#define VITALS_AGENT_ROOT_AGENT_ACCESS_H_

#include "agent/root/agent_core.h"
#include "vitals/agent.h"

namespace vitals {
namespace internal {

struct AgentAccess {
  static AgentCore& Core(Agent& agent) { return *agent.core_; }
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_AGENT_ACCESS_H_
