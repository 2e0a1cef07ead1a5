#include "agent/core/agent_life.h"

#include <vector>

#include "agent/base/mutex.h"

namespace vitals {
namespace internal {

// Slot 0 holds the immortal generation for good; every other slot starts at generation 0.
std::atomic<uint32_t> g_agent_lives[kAgentLifeSlots] = {0xffffffffu};

namespace {

struct SlotPool {
  internal::Mutex mu;
  uint32_t next_unused ABSL_GUARDED_BY(mu) = 1;
  std::vector<uint32_t> free ABSL_GUARDED_BY(mu);
};

SlotPool& Pool() {
  static SlotPool* pool = new SlotPool;  // never destroyed: agents may die during exit
  return *pool;
}

}  // namespace

AgentLife::AgentLife() {
  SlotPool& pool = Pool();
  internal::MutexLock lock(&pool.mu);
  uint32_t slot;
  if (!pool.free.empty()) {
    slot = pool.free.back();
    pool.free.pop_back();
  } else if (pool.next_unused < kAgentLifeSlots) {
    slot = pool.next_unused++;
  } else {
    token_ = kImmortalAgentLife;
    return;
  }
  const uint32_t generation = g_agent_lives[slot].load(std::memory_order_relaxed);
  token_ = (uint64_t{generation} << 32) | slot;
}

void AgentLife::Retire() {
  if (retired_) return;
  retired_ = true;
  const uint32_t slot = static_cast<uint16_t>(token_);
  if (slot == 0) return;  // the immortal slot
  SlotPool& pool = Pool();
  internal::MutexLock lock(&pool.mu);
  // Release: whoever sees the new generation also sees everything the agent did before.
  g_agent_lives[slot].fetch_add(1, std::memory_order_release);
  pool.free.push_back(slot);
}

}  // namespace internal
}  // namespace vitals
