#include "agent/requests/call_breakdown.h"

#include <algorithm>

namespace vitals {
namespace internal {

void BreakDown(const RequestDb& db, int min_calls, CallBreakdown* out) {
  *out = CallBreakdown();
  const uint32_t claimed = db.calls.load(std::memory_order_acquire);
  const uint32_t n = std::min<uint32_t>(claimed, RequestDb::kCallSlots);
  for (uint32_t i = 0; i < n; ++i) {
    const CallSlot& slot = db.call_slots[i];
    const int64_t end = slot.end.load(std::memory_order_acquire);
    if (end == 0) continue;  // still being written by a call that ends with the request
    LoggedCall& c = out->calls[out->logged++];
    c.start = slot.start.load(std::memory_order_relaxed);
    c.end = end;
    c.kind = static_cast<CallKind>(slot.kind.load(std::memory_order_relaxed));
    c.what = static_cast<const std::string*>(slot.what.load(std::memory_order_relaxed));
  }
  LoggedCall* calls = out->calls;
  const int logged = out->logged;
  std::sort(calls, calls + logged,
            [](const LoggedCall& a, const LoggedCall& b) { return a.start < b.start; });

  // Sweep the stretches between consecutive start and end points.
  int64_t points[2 * RequestDb::kCallSlots];
  int np = 0;
  for (int i = 0; i < logged; ++i) {
    points[np++] = calls[i].start;
    points[np++] = calls[i].end;
  }
  std::sort(points, points + np);
  int64_t twice[kCallKinds] = {};  // doubled, so that a shared stretch splits exactly
  for (int p = 0; p + 1 < np; ++p) {
    const int64_t from = points[p], to = points[p + 1];
    if (to == from) continue;
    bool active[kCallKinds] = {};
    for (int i = 0; i < logged; ++i) {
      if (calls[i].start <= from && calls[i].end >= to)
        active[static_cast<int>(calls[i].kind)] = true;
    }
    const int64_t len = to - from;
    if (active[0] && active[1]) {
      twice[0] += len;
      twice[1] += len;
    } else if (active[0]) {
      twice[0] += 2 * len;
    } else if (active[1]) {
      twice[1] += 2 * len;
    }
  }
  int64_t sum_of_calls = 0;
  for (int i = 0; i < logged; ++i) sum_of_calls += calls[i].end - calls[i].start;
  for (int k = 0; k < kCallKinds; ++k) {
    const int64_t unlogged =
        std::max<int64_t>(0, db.unlogged_nanos[k].load(std::memory_order_relaxed));
    out->part_nanos[k] = twice[k] / 2 + unlogged;
    sum_of_calls += unlogged;
  }
  out->sum_of_calls_nanos = sum_of_calls;
  // A database statement the request already ran counts once: repeats are an N+1 pattern
  // (vitals_db_n_plus_one_total), whose fix is one query, not concurrency.
  int counted = 0;
  for (int i = 0; i < logged; ++i) {
    bool repeat = false;
    for (int j = 0; j < i && !repeat && calls[i].kind == CallKind::kDb && calls[i].what != nullptr;
         ++j) {
      repeat = calls[j].kind == CallKind::kDb && calls[j].what == calls[i].what;
    }
    counted += repeat ? 0 : 1;
  }
  if (counted >= min_calls) {
    bool overlap = false;
    for (int i = 1; i < logged && !overlap; ++i) overlap = calls[i].start < calls[i - 1].end;
    out->one_after_another = !overlap;
  }
}

}  // namespace internal
}  // namespace vitals
