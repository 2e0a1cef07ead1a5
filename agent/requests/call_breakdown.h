// agent/requests/call_breakdown.h: where a request's time went, from the calls it logged.
//
// A request's RequestDb logs its database and outbound calls (agent/core/request_db.h). When
// the request ends, BreakDown splits its wall time into time in database calls, time in
// outbound calls and the rest, counting time once however the calls overlapped: a stretch
// where only database calls ran is database time, only outbound calls outbound time, and
// both at once half of each. Calls known only by their duration (past the log's slots, or
// recorded without start and end) are added as if they overlapped nothing. The request's own
// time is its wall time less the parts, never below 0 (the wall time is often known only
// later: an adapter records the request after its RequestDbScope ended).
//
// It also finds calls that ran one after another when they could have overlapped: at least
// `min_calls` logged calls, no two of which overlap (`one_after_another`); Sequential() then
// asks whether they took at least a share of the request. A database statement the request
// already ran does not count again toward `min_calls`: repeats are the N+1 pattern, whose fix
// is one query rather than concurrency (vitals/db.h counts them).
//
// Thread-safety: BreakDown reads the RequestDb with acquire loads and writes only its result;
// call it on the thread that ends the request. Cost: a sort and a sweep over at most
// RequestDb::kCallSlots calls, on the stack; only requests that made calls pay it.

#ifndef VITALS_AGENT_REQUESTS_CALL_BREAKDOWN_H_
#define VITALS_AGENT_REQUESTS_CALL_BREAKDOWN_H_

#include <cstdint>
#include <string>

#include "agent/core/request_db.h"

namespace vitals {
namespace internal {

struct LoggedCall {
  int64_t start = 0;
  int64_t end = 0;
  CallKind kind = CallKind::kDb;
  const std::string* what = nullptr;  // the statement or the peer; null if unknown
};

struct CallBreakdown {
  int64_t part_nanos[kCallKinds] = {};  // by CallKind
  // The logged calls in order of their start (the first `logged` of `calls`).
  LoggedCall calls[RequestDb::kCallSlots];
  int logged = 0;
  int64_t sum_of_calls_nanos = 0;  // every call's own duration added up
  bool one_after_another = false;
  // The time in calls: the sum of the parts.
  int64_t calls_nanos() const { return part_nanos[0] + part_nanos[1]; }
};

// The parts of the request whose calls `db` logged.
void BreakDown(const RequestDb& db, int min_calls, CallBreakdown* out);

// Whether the calls ran one after another and took at least `min_share` of `wall_nanos`.
inline bool Sequential(const CallBreakdown& b, int64_t wall_nanos, double min_share) {
  return b.one_after_another && wall_nanos > 0 &&
         static_cast<double>(b.sum_of_calls_nanos) >= min_share * static_cast<double>(wall_nanos);
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_REQUESTS_CALL_BREAKDOWN_H_
