#include "agent/core/request_db.h"

#include <memory>
#include <mutex>
#include <vector>

namespace vitals {
namespace internal {
namespace {

constexpr size_t kThreadCacheSize = 16;

// RequestDbs beyond the per-thread caches. Never freed: stale contexts may still point at them.
std::mutex g_spare_mu;
std::vector<RequestDb*>* g_spare = new std::vector<RequestDb*>();

struct ThreadCache {
  std::vector<RequestDb*> free;
  ~ThreadCache() {
    std::lock_guard<std::mutex> lock(g_spare_mu);
    for (RequestDb* db : free) g_spare->push_back(db);
  }
};
thread_local ThreadCache tls_cache;
thread_local CurrentRequest tls_current;

constexpr uint64_t Key(uint64_t hash) {
  // 48 bits of hash, never 0 (0 marks an empty slot).
  const uint64_t k = hash & ~RequestDb::kCountMask;
  return k != 0 ? k : (uint64_t{1} << 16);
}

}  // namespace

uint32_t RequestDb::Count(uint64_t hash) {
  const uint64_t key = Key(hash);
  used.store(true, std::memory_order_relaxed);
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

CurrentRequest& ThreadCurrentRequest() { return tls_current; }

RequestDb* AcquireRequestDb(const RouteLabels* route) {
  RequestDb* db = nullptr;
  if (!tls_cache.free.empty()) {
    db = tls_cache.free.back();
    tls_cache.free.pop_back();
  } else {
    {
      std::lock_guard<std::mutex> lock(g_spare_mu);
      if (!g_spare->empty()) {
        db = g_spare->back();
        g_spare->pop_back();
      }
    }
    if (db == nullptr) db = new RequestDb();  // reused forever after
  }
  db->route.store(route, std::memory_order_relaxed);
  db->generation.fetch_add(1, std::memory_order_release);
  return db;
}

void ReleaseRequestDb(RequestDb* db) {
  // First end the request for every context, then clean up for the next one.
  db->generation.fetch_add(1, std::memory_order_acq_rel);
  db->queries.store(0, std::memory_order_relaxed);
  if (db->used.exchange(false, std::memory_order_relaxed)) {
    for (auto& slot : db->slots) slot.store(0, std::memory_order_relaxed);
  }
  db->detected.store(false, std::memory_order_relaxed);
  db->detecting.store(false, std::memory_order_relaxed);
  if (tls_cache.free.size() < kThreadCacheSize) {
    tls_cache.free.push_back(db);
  } else {
    std::lock_guard<std::mutex> lock(g_spare_mu);
    g_spare->push_back(db);
  }
}

}  // namespace internal
}  // namespace vitals
