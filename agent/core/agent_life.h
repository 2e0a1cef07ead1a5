// agent/core/agent_life.h: one agent's slot in the process-wide table of live agents
// (vitals/detail/agent_life.h says what the tokens are for).
//
// Thread-safety: construction and Retire take a process-wide mutex (once per agent); `token()`
// and AgentAlive are lock-free.

#ifndef VITALS_AGENT_CORE_AGENT_LIFE_H_
#define VITALS_AGENT_CORE_AGENT_LIFE_H_

#include <cstdint>

#include "vitals/detail/agent_life.h"

namespace vitals {
namespace internal {

class AgentLife {
 public:
  // Takes a free slot (kImmortalAgentLife when none is left).
  AgentLife();
  // Retires it, if not yet.
  ~AgentLife() { Retire(); }
  AgentLife(const AgentLife&) = delete;
  AgentLife& operator=(const AgentLife&) = delete;

  // What handles of this agent keep. AgentAlive(token()) until Retire.
  uint64_t token() const { return token_; }

  // From now on AgentAlive(token()) is false, and the slot is free for another agent.
  // Idempotent.
  void Retire();

 private:
  uint64_t token_;
  bool retired_ = false;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_AGENT_LIFE_H_
