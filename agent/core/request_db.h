// agent/core/request_db.h: what one request has sent to the database, for N+1 detection.
//
// Each RequestScope takes a RequestDb from a per-thread cache when it starts and gives it back
// when it finishes. The thread that starts a request makes it current (a thread-local
// {RequestDb*, generation}); RequestContext carries the same pair to other threads. Recorders
// check the generation before counting, so a context that outlives its request counts nothing.
// RequestDbs are never freed, only reused, so a stale pointer always points at a RequestDb.
//
// Bookkeeping is bounded: kSlots distinct statements per request are counted for N+1 (more are
// counted in the total only). All fields are atomics: a request's threads may record at once.

#ifndef VITALS_AGENT_CORE_REQUEST_DB_H_
#define VITALS_AGENT_CORE_REQUEST_DB_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace vitals {
namespace internal {

// The labels of the route a request runs on: what the request and database features share
// (the request feature's RouteEntry is one).
struct RouteLabels {
  std::string method;  // normalized, e.g. "GET"
  std::string route;   // the route template, repaired and cut
};

struct RequestDb {
  static constexpr int kSlots = 32;
  static constexpr uint64_t kCountMask = 0xffff;  // low 16 bits: count (saturating)

  std::atomic<uint64_t> generation{0};
  std::atomic<const RouteLabels*> route{nullptr};
  std::atomic<uint32_t> queries{0};
  std::atomic<bool> used{false};       // any slot written
  std::atomic<bool> detecting{false};  // an N+1 was detected (one per request)
  std::atomic<bool> detected{false};   // ... and `statement`/`table` are written
  std::atomic<uint64_t> detected_hash{0};
  std::string statement;  // written once, before `detected` (release)
  std::string table;
  std::atomic<uint64_t> slots[kSlots] = {};  // [statement hash:48 | count:16], 0 = empty

  // Counts one call of the statement with `hash`; returns its count in this request, or 0
  // when the table is full.
  uint32_t Count(uint64_t hash);
  // The count of `hash`, 0 if untracked.
  uint32_t CountOf(uint64_t hash) const;
};

struct CurrentRequest {
  RequestDb* db = nullptr;
  uint64_t generation = 0;
  // The RequestDb when it still belongs to the request this was taken from, else null.
  RequestDb* Live() const {
    return db != nullptr && db->generation.load(std::memory_order_acquire) == generation ? db
                                                                                         : nullptr;
  }
};

// The request current on this thread.
CurrentRequest& ThreadCurrentRequest();

// A fresh RequestDb for a request on `route` (new generation, zero counts).
RequestDb* AcquireRequestDb(const RouteLabels* route);

// Told when a request ends, with what it sent to the database. The database feature
// implements it; the request feature calls it without knowing who listens.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // On the thread that ends the request. Must not block.
  virtual void RequestFinished(const RouteLabels& route, const RequestDb& db) = 0;
};
// Ends the RequestDb's request: later records through old contexts count nothing.
void ReleaseRequestDb(RequestDb* db);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_REQUEST_DB_H_
