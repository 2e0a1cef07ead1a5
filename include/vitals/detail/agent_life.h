// vitals/detail/agent_life.h: whether the agent a handle came from still lives. Not API;
// shipped because the hot-path recording calls are inline.
//
// Every agent takes one slot of a process-wide table while it lives. A handle (Counter,
// RouteHandle, a breaker's metrics, a scope, ...) keeps a token: the slot and the generation
// the slot had when the handle was made. The agent moves its slot to the next generation when
// it is destroyed, so every token of that agent stops matching at once, and the handle records
// nothing from then on: objects bound to an agent may be destroyed (or used) after it.
//
// Cost of the check: one relaxed load of the slot (a line that is written only when an agent is
// created or destroyed, never per record) and a compare. It guards against destruction order,
// not against a race: an agent must still not be destroyed while other threads record into it.

#ifndef VITALS_DETAIL_AGENT_LIFE_H_
#define VITALS_DETAIL_AGENT_LIFE_H_

#include <atomic>
#include <cstdint>

#include "absl/base/attributes.h"
#include "vitals/detail/export.h"

namespace vitals {
namespace internal {

// Slots of live agents at once. Past it an agent takes the permanent slot 0 (below) and its
// handles are not protected (65,536 agents alive in one process is not a real service).
inline constexpr uint32_t kAgentLifeSlots = 1u << 16;

// Generation of each slot. Slot 0 is special: its value never changes and matches the tokens
// kImmortalAgentLife; a default token (0) matches no slot, so default handles record nothing.
extern VITALS_EXPORT std::atomic<uint32_t> g_agent_lives[kAgentLifeSlots];

// The token of an agent that could not get a slot of its own: always alive.
inline constexpr uint64_t kImmortalAgentLife = uint64_t{0xffffffff} << 32;

// A token: the slot in the low 16 bits, the generation in the high 32 bits.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool AgentAlive(uint64_t token) {
  return g_agent_lives[static_cast<uint16_t>(token)].load(std::memory_order_relaxed) ==
         static_cast<uint32_t>(token >> 32);
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_DETAIL_AGENT_LIFE_H_
