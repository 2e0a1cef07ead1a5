#include "agent/core/request_db.h"

#include <pthread.h>

#include <vector>

#include "agent/base/mutex.h"

namespace vitals {
namespace internal {

__thread ThreadRequests tls_requests __attribute__((tls_model("initial-exec")));

namespace {

// RequestDbs beyond the per-thread spares. Never freed: stale contexts may still point at them.
Mutex g_spare_mu;
std::vector<RequestDb*>* const g_spare ABSL_PT_GUARDED_BY(g_spare_mu) =
    new std::vector<RequestDb*>();
// Every RequestDb ever made, newest first (a push-only lock-free list).
std::atomic<RequestDb*> g_created{nullptr};

// At thread exit the thread's spare goes to the shared list, so short-lived threads do not each
// strand one. Registered once per thread, the first time it keeps a spare.
thread_local bool tls_exit_hook = false;
pthread_key_t g_exit_key;
bool g_exit_key_ok = [] {
  return pthread_key_create(&g_exit_key, [](void*) {
           RequestDb* spare = tls_requests.spare;
           tls_requests.spare = nullptr;
           if (spare == nullptr) return;
           MutexLock lock(&g_spare_mu);
           g_spare->push_back(spare);
         }) == 0;
}();

constexpr uint64_t Key(uint64_t hash) {
  // 48 bits of hash, never 0 (0 marks an empty slot).
  const uint64_t k = hash & ~RequestDb::kCountMask;
  return k != 0 ? k : (uint64_t{1} << 16);
}

}  // namespace

void RequestDb::LogCall(CallKind kind, const void* what, int64_t start, int64_t end) {
  if (!used.load(std::memory_order_relaxed)) used.store(true, std::memory_order_relaxed);
  const uint32_t i = calls.fetch_add(1, std::memory_order_relaxed);
  if (i >= kCallSlots) {
    unlogged_nanos[static_cast<int>(kind)].fetch_add(end - start, std::memory_order_relaxed);
    return;
  }
  CallSlot& slot = call_slots[i];
  slot.start.store(start, std::memory_order_relaxed);
  slot.what.store(what, std::memory_order_relaxed);
  slot.kind.store(static_cast<uint8_t>(kind), std::memory_order_relaxed);
  slot.end.store(end > start ? end : start + 1, std::memory_order_release);  // never 0
}

void RequestDb::LogCallNanos(CallKind kind, int64_t nanos) {
  if (!used.load(std::memory_order_relaxed)) used.store(true, std::memory_order_relaxed);
  unlogged_nanos[static_cast<int>(kind)].fetch_add(nanos, std::memory_order_relaxed);
}

uint32_t RequestDb::Count(uint64_t hash) {
  const uint64_t key = Key(hash);
  if (!used.load(std::memory_order_relaxed)) used.store(true, std::memory_order_relaxed);
  queries.fetch_add(1, std::memory_order_relaxed);
  for (int probe = 0; probe < kSlots; ++probe) {
    std::atomic<uint64_t>& slot = slots[(hash + probe) % kSlots];
    uint64_t v = slot.load(std::memory_order_relaxed);
    while (true) {
      if (v == 0) {
        if (slot.compare_exchange_weak(v, key | 1, std::memory_order_relaxed)) return 1;
        continue;  // v reloaded: claimed meanwhile, look again
      }
      if ((v & ~kCountMask) != key) break;  // another statement's slot: probe on
      const uint64_t count = v & kCountMask;
      if (count == kCountMask) return static_cast<uint32_t>(count);  // saturated
      if (slot.compare_exchange_weak(v, v + 1, std::memory_order_relaxed)) {
        return static_cast<uint32_t>(count + 1);
      }
    }
  }
  return 0;
}

uint32_t RequestDb::CountOf(uint64_t hash) const {
  const uint64_t key = Key(hash);
  for (int probe = 0; probe < kSlots; ++probe) {
    const uint64_t v = slots[(hash + probe) % kSlots].load(std::memory_order_relaxed);
    if (v == 0) return 0;
    if ((v & ~kCountMask) == key) return static_cast<uint32_t>(v & kCountMask);
  }
  return 0;
}

RequestDb* AcquireSpareRequestDb() {
  // Every thread's first request comes here (its spare is empty): arm the exit hook once.
  if (!tls_exit_hook && g_exit_key_ok) {
    pthread_setspecific(g_exit_key, &tls_exit_hook);
    tls_exit_hook = true;
  }
  {
    MutexLock lock(&g_spare_mu);
    if (!g_spare->empty()) {
      RequestDb* db = g_spare->back();
      g_spare->pop_back();
      return db;
    }
  }
  auto* db = new RequestDb();  // reused forever after
  db->next_created = g_created.load(std::memory_order_relaxed);
  while (!g_created.compare_exchange_weak(db->next_created, db, std::memory_order_release,
                                          std::memory_order_relaxed)) {
  }
  return db;
}

const RequestDb* FirstRequestDb() { return g_created.load(std::memory_order_acquire); }

InFlightRequests InFlightRequests::Now() {
  InFlightRequests now;
  for (const RequestDb* db = FirstRequestDb(); db != nullptr; db = db->next_created) {
    // The generation first: a request that ends after this moves it, one that starts after
    // does not matter.
    const uint64_t gen = db->generation.load(std::memory_order_seq_cst);
    if (db->owner.load(std::memory_order_seq_cst) != nullptr) now.requests_.emplace_back(db, gen);
  }
  return now;
}

bool InFlightRequests::AllEnded() const {
  for (const auto& [db, gen] : requests_) {
    if (db->generation.load(std::memory_order_acquire) == gen) return false;
  }
  return true;
}

void ReleaseSpareRequestDb(RequestDb* db) {
  MutexLock lock(&g_spare_mu);
  g_spare->push_back(db);
}

}  // namespace internal
}  // namespace vitals
