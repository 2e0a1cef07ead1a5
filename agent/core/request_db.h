// agent/core/request_db.h: what one request has sent to the database, for N+1 detection.
//
// Each RequestScope takes a RequestDb from a per-thread cache when it starts and gives it back
// when it finishes. The thread that starts a request makes it current (a thread-local
// {RequestDb*, generation}); RequestContext carries the same pair to other threads. Recorders
// check the generation before counting, so a context that outlives its request counts nothing.
// RequestDbs are never freed, only reused, so a stale pointer always points at a RequestDb.
//
// It also logs the request's calls, database and outbound, for its time breakdown and the
// sequential-call check: the first kCallSlots with their start and end, the rest (and calls
// recorded by duration alone) as sums per kind.
//
// Bookkeeping is bounded: kSlots distinct statements per request are counted for N+1 (more are
// counted in the total only). All fields are atomics: a request's threads may record at once.

#ifndef VITALS_AGENT_CORE_REQUEST_DB_H_
#define VITALS_AGENT_CORE_REQUEST_DB_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"

namespace vitals {
namespace internal {

// The labels of the route a request runs on: what the request and database features share
// (the request feature's RouteEntry is one).
struct RouteLabels {
  std::string method;  // normalized, e.g. "GET"
  std::string route;   // the route template, repaired and cut
};

// What kind of call a request made.
enum class CallKind : uint8_t { kDb = 0, kOutbound = 1 };
inline constexpr int kCallKinds = 2;

// One logged call: start and end in the agent clock's nanoseconds, and what it was (the
// statement's StatementStats or the outbound UpstreamEntry, by kind; null if unknown).
struct CallSlot {
  std::atomic<int64_t> start{0};
  std::atomic<int64_t> end{0};  // written last (release); 0 while the slot is being written
  std::atomic<const void*> what{nullptr};
  std::atomic<uint8_t> kind{0};
};

struct RequestDb {
  static constexpr int kSlots = 32;
  static constexpr int kCallSlots = 16;
  static constexpr uint64_t kCountMask = 0xffff;  // low 16 bits: count (saturating)

  // What every request touches, in its first cache line: a request without database calls
  // touches no other.
  std::atomic<uint64_t> generation{0};
  std::atomic<const RouteLabels*> route{nullptr};
  // While a request runs: who runs it (its RequestMetrics, as an opaque tag) and its start
  // stamp in that owner's units; null owner when idle. Read by the in-flight view and the
  // active-requests gauge.
  std::atomic<const void*> owner{nullptr};
  std::atomic<int64_t> started{0};
  std::atomic<uint32_t> queries{0};
  std::atomic<bool> used{false};  // a call was counted or logged (set before `queries`, `calls`)
  std::atomic<bool> detecting{false};  // an N+1 was detected (one per request)
  std::atomic<bool> detected{false};   // ... and `statement`/`table` are written
  RequestDb* next_created = nullptr;   // every RequestDb ever made, newest first; immutable
  std::atomic<uint64_t> detected_hash{0};
  std::string statement;  // written once, before `detected` (release)
  std::string table;
  std::atomic<uint64_t> slots[kSlots] = {};  // [statement hash:48 | count:16], 0 = empty
  // The call log: slots claimed (may pass kCallSlots), the slots, and per kind the nanoseconds
  // of calls that had no slot or no start and end.
  std::atomic<uint32_t> calls{0};
  CallSlot call_slots[kCallSlots];
  std::atomic<int64_t> unlogged_nanos[kCallKinds] = {};

  // Counts one call of the statement with `hash` (and one in `queries`); returns its count in
  // this request, or 0 when the table is full.
  uint32_t Count(uint64_t hash);
  // The count of `hash`, 0 if untracked.
  uint32_t CountOf(uint64_t hash) const;
  // Logs a call from `start` to `end` (agent clock nanoseconds). Lock-free: one add on this
  // request's line and four stores to a slot of its own.
  void LogCall(CallKind kind, const void* what, int64_t start, int64_t end);
  // Logs a call known only by its duration (a duration-only Record).
  void LogCallNanos(CallKind kind, int64_t nanos);
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

// A thread's request state, in one `__thread` block (a plain TLS access; a request's begin and
// end each compute its address once).
struct ThreadRequests {
  CurrentRequest current;  // the request current on this thread
  // This thread's spare RequestDb: the one its last request gave back, so a thread serving one
  // request at a time takes and returns it without a lock or an allocation.
  RequestDb* spare = nullptr;
  // A request that made calls and ended its bookkeeping on this thread, whose duration is still
  // to be recorded here (an adapter records it after its RequestDbScope ended): its route (the
  // request feature's RouteEntry; its calls' breakdown is kept by that feature); null when none.
  const RouteLabels* pending_route = nullptr;
};
// Initial-exec: its offset from the thread pointer is fixed at load time, so an access is one
// %fs-relative instruction instead of a read of the thread pointer first (as tcmalloc does for
// its per-thread caches). Fine in an executable and in shared libraries loaded with it; one
// dlopen'ed late takes the 40 bytes from glibc's static TLS reserve.
extern __thread ThreadRequests tls_requests __attribute__((tls_model("initial-exec")));
inline ThreadRequests& ThisThreadRequests() { return tls_requests; }
inline CurrentRequest& ThreadCurrentRequest() { return tls_requests.current; }

// The newest RequestDb ever made; follow `next_created` for the others (they are never freed).
// Lock-free; for readers that look at the requests in flight.
const RequestDb* FirstRequestDb();

// The requests in flight at one moment, to wait for: what they logged (CallSlot::what) may be
// read until each of them has ended. Lock-free; O(RequestDbs ever made).
class InFlightRequests {
 public:
  static InFlightRequests Now();
  // True once every request in flight at Now() has ended.
  bool AllEnded() const;

 private:
  std::vector<std::pair<const RequestDb*, uint64_t>> requests_;  // and their generations
};

// Slow paths of Acquire/Release: the shared spares (a mutex), or a new RequestDb.
RequestDb* AcquireSpareRequestDb();
void ReleaseSpareRequestDb(RequestDb* db);

// A fresh RequestDb for a request on `route` (zero counts, a generation no earlier request's
// context holds).
inline RequestDb* AcquireRequestDb(const RouteLabels* route, ThreadRequests& thread) {
  RequestDb* db = thread.spare;
  if (ABSL_PREDICT_TRUE(db != nullptr)) {
    thread.spare = nullptr;
  } else {
    db = AcquireSpareRequestDb();
  }
  // The generation is left as it is: Release moves it on once per request, which is all that
  // tells this request's contexts from the last one's.
  db->route.store(route, std::memory_order_relaxed);
  return db;
}

// Told when a request ends, with what it sent to the database. The database feature
// implements it; the request feature calls it without knowing who listens.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // On the thread that ends the request. Must not block.
  virtual void RequestFinished(const RouteLabels& route, const RequestDb& db) = 0;
};
// Ends the RequestDb's request: later records through old contexts count nothing. `used`: the
// request made a database or outbound call (db->used, as the caller read it already).
inline void ReleaseRequestDb(RequestDb* db, bool used, ThreadRequests& thread) {
  // First end the request for every context, then clean up for the next one. One writer at a
  // time (the thread ending the request), so a plain store, not a locked read-modify-write. A
  // recorder that checked the generation just before this may still count one call into the
  // next request that reuses this RequestDb: benign.
  const uint64_t next = db->generation.load(std::memory_order_relaxed) + 1;
  db->generation.store(next, std::memory_order_release);
  // A request that made no database call (`used` is set by its first) has nothing to reset.
  if (ABSL_PREDICT_FALSE(used)) {
    db->used.store(false, std::memory_order_relaxed);
    db->queries.store(0, std::memory_order_relaxed);
    for (auto& slot : db->slots) slot.store(0, std::memory_order_relaxed);
    db->detected.store(false, std::memory_order_relaxed);
    db->detecting.store(false, std::memory_order_relaxed);
    const uint32_t logged = db->calls.exchange(0, std::memory_order_relaxed);
    for (uint32_t i = 0; i < logged && i < RequestDb::kCallSlots; ++i) {
      db->call_slots[i].end.store(0, std::memory_order_relaxed);
    }
    for (auto& n : db->unlogged_nanos) n.store(0, std::memory_order_relaxed);
  }
  if (ABSL_PREDICT_TRUE(thread.spare == nullptr)) {
    thread.spare = db;
  } else {
    ReleaseSpareRequestDb(db);
  }
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_REQUEST_DB_H_
