#include "agent/requests/call_breakdown.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"
#include "vitals/client.h"
#include "vitals/db.h"
#include "vitals/request.h"

namespace {

using vitals::internal::BreakDown;
using vitals::internal::CallBreakdown;
using vitals::internal::CallKind;
using vitals::internal::RequestDb;

constexpr int64_t kMs = 1'000'000;

// A RequestDb as a request leaves it: its calls logged, nothing else.
struct Logged {
  RequestDb db;
  void Call(CallKind kind, int64_t from_ms, int64_t to_ms) {
    db.LogCall(kind, nullptr, from_ms * kMs, to_ms * kMs);
  }
};

TEST_CASE("a stretch where both kinds of call run counts half to each, once", "[breakdown]") {
  Logged l;
  l.Call(CallKind::kDb, 10, 30);
  l.Call(CallKind::kOutbound, 20, 50);
  CallBreakdown b;
  BreakDown(l.db, 3, &b);
  CHECK(b.part_nanos[0] == 15 * kMs);  // 10 alone, 10 shared
  CHECK(b.part_nanos[1] == 25 * kMs);  // 20 alone, 10 shared
  CHECK(b.calls_nanos() == 40 * kMs);  // the union, not the 50 of the two durations
  CHECK(b.sum_of_calls_nanos == 50 * kMs);
  CHECK(b.logged == 2);
  CHECK_FALSE(b.one_after_another);  // fewer than 3 calls
}

TEST_CASE("calls of one kind running at once count their union", "[breakdown]") {
  Logged l;
  for (int i = 0; i < 3; ++i) l.Call(CallKind::kOutbound, 0, 20);  // three in parallel
  l.Call(CallKind::kOutbound, 10, 40);
  CallBreakdown b;
  BreakDown(l.db, 3, &b);
  CHECK(b.part_nanos[0] == 0);
  CHECK(b.part_nanos[1] == 40 * kMs);
  CHECK_FALSE(b.one_after_another);
  CHECK_FALSE(vitals::internal::Sequential(b, 50 * kMs, 0.5));
}

TEST_CASE("calls one after another are sequential when they take the share", "[breakdown]") {
  Logged l;
  l.Call(CallKind::kOutbound, 40, 60);  // logged out of order: sorted by start
  l.Call(CallKind::kDb, 0, 20);
  l.Call(CallKind::kOutbound, 20, 40);  // starts as the one before ends: no overlap
  CallBreakdown b;
  BreakDown(l.db, 3, &b);
  CHECK(b.one_after_another);
  CHECK(b.calls[0].kind == CallKind::kDb);
  CHECK(b.calls[2].start == 40 * kMs);
  CHECK(vitals::internal::Sequential(b, 100 * kMs, 0.5));        // 60% of the request
  CHECK_FALSE(vitals::internal::Sequential(b, 130 * kMs, 0.5));  // 46%
  CallBreakdown four;
  BreakDown(l.db, 4, &four);  // a higher minimum
  CHECK_FALSE(four.one_after_another);
}

TEST_CASE("a repeated statement counts once toward sequential calls: that is N+1, not this",
          "[breakdown]") {
  const std::string orders = "SELECT ... FROM orders",
                    users = "SELECT name FROM users WHERE id = ?";
  RequestDb db;
  db.LogCall(CallKind::kDb, &orders, 0, kMs);
  for (int i = 1; i <= 10; ++i) db.LogCall(CallKind::kDb, &users, i * kMs, (i + 1) * kMs);
  CallBreakdown b;
  BreakDown(db, 3, &b);
  CHECK_FALSE(b.one_after_another);  // two distinct statements
  CHECK_FALSE(vitals::internal::Sequential(b, 12 * kMs, 0.5));
  // One more distinct call (an outbound one) makes three: then they are sequential.
  db.LogCall(CallKind::kOutbound, &orders, 11 * kMs, 12 * kMs);
  BreakDown(db, 3, &b);
  CHECK(b.one_after_another);
  CHECK(vitals::internal::Sequential(b, 12 * kMs, 0.5));
}

TEST_CASE("calls past the log and calls known by duration count as overlapping nothing",
          "[breakdown]") {
  Logged l;
  for (int i = 0; i < RequestDb::kCallSlots + 4; ++i) l.Call(CallKind::kDb, 2 * i, 2 * i + 1);
  l.db.LogCallNanos(CallKind::kOutbound, 7 * kMs);
  CallBreakdown b;
  BreakDown(l.db, 3, &b);
  CHECK(b.logged == RequestDb::kCallSlots);
  CHECK(b.part_nanos[0] == (RequestDb::kCallSlots + 4) * kMs);
  CHECK(b.part_nanos[1] == 7 * kMs);
  CHECK(b.one_after_another);  // the logged ones
}

// A fake clock drives an agent's requests and calls, so every part is known exactly.
struct Fixture : vitals_test::ClockAndLog {
  vitals::Agent agent{Options()};
  double Part(const std::string& route, const std::string& part) {
    return vitals_test::SampleValue(
        agent.RenderText(),
        "vitals_http_server_request_time_seconds_total{http_request_method="
        "\"GET\",http_route=\"" +
            route + "\",part=\"" + part + "\"}");
  }
  double Sequential(const std::string& route) {
    return vitals_test::SampleValue(
        agent.RenderText(),
        "vitals_http_server_sequential_calls_total{http_request_method=\"GET\",http_route=\"" +
            route + "\"}");
  }
};

TEST_CASE("a request's time splits into db, outbound and self, and overlaps count once",
          "[breakdown]") {
  Fixture f;
  vitals::UpstreamHandle peer = f.agent.Upstream("GET", "pricing", 443);
  {
    vitals::RequestScope request(f.agent, "GET", "/cart");
    f.clock.AdvanceMs(10);
    vitals::DbOperation query(f.agent, "sqlite", "SELECT * FROM carts WHERE id = 1");
    f.clock.AdvanceMs(10);
    vitals::ClientCallScope call(peer);
    f.clock.AdvanceMs(10);
    query.Finish();  // 10..30
    f.clock.AdvanceMs(20);
    call.set_status(200);
    call.Finish();  // 20..50
    f.clock.AdvanceMs(50);
  }  // 100 ms
  CHECK(f.Part("/cart", "db") == Approx(0.015));
  CHECK(f.Part("/cart", "outbound") == Approx(0.025));
  CHECK(f.Part("/cart", "self") == Approx(0.060));
  CHECK(f.Sequential("/cart") == 0);
  // A request without calls is all its own time.
  {
    vitals::RequestScope request(f.agent, "GET", "/cart");
    f.clock.AdvanceMs(5);
  }
  CHECK(f.Part("/cart", "self") == Approx(0.065));
  const std::string body = f.agent.RenderText();
  CHECK(vitals_test::SampleValue(body,
                                 "http_server_request_duration_seconds_sum{http_request_"
                                 "method=\"GET\",http_route=\"/cart\",http_response_status_"
                                 "code=\"200\"}") == Approx(0.105));
}

TEST_CASE(
    "sequential calls are flagged and logged with their calls, and their parallel twin is not",
    "[breakdown][concurrency]") {
  Fixture f;
  vitals::UpstreamHandle a = f.agent.Upstream("GET", "inventory-1", 80);
  vitals::UpstreamHandle b = f.agent.Upstream("GET", "inventory-2", 80);
  {
    vitals::RequestScope request(f.agent, "GET", "/quote/sequential");
    for (const vitals::UpstreamHandle* peer : {&a, &b}) {
      vitals::ClientCallScope call(*peer);
      f.clock.AdvanceMs(20);
      call.set_status(200);
    }
    {
      vitals::DbOperation query(f.agent, "sqlite", "SELECT price FROM items WHERE id = 7");
      f.clock.AdvanceMs(20);
    }
    f.clock.AdvanceMs(10);
  }  // 70 ms, 60 of them in three calls one after another
  {
    // The same three calls, started together on threads bound to the request.
    vitals::RequestScope request(f.agent, "GET", "/quote/parallel");
    const vitals::RequestContext context = vitals::RequestContext::Current();
    std::vector<std::unique_ptr<vitals::ClientCallScope>> calls;
    for (const vitals::UpstreamHandle* peer : {&a, &b}) {
      calls.push_back(std::make_unique<vitals::ClientCallScope>(*peer));
    }
    vitals::DbOperation query(f.agent, "sqlite", "SELECT price FROM items WHERE id = 7");
    f.clock.AdvanceMs(20);
    std::thread other([&] {
      vitals::RequestContext::Bind bind(context);
      calls[0]->set_status(200);
      calls[0]->Finish();
    });
    other.join();
    calls[1]->set_status(200);
    calls[1]->Finish();
    query.Finish();
    f.clock.AdvanceMs(10);
  }  // 30 ms
  CHECK(f.Sequential("/quote/sequential") == 1);
  CHECK(f.Sequential("/quote/parallel") == 0);
  CHECK(f.Part("/quote/parallel", "db") == Approx(0.010));  // 20 ms shared with outbound
  CHECK(f.Part("/quote/parallel", "outbound") == Approx(0.010));
  CHECK(f.Part("/quote/parallel", "self") == Approx(0.010));
  int lines = 0;
  for (const std::string& line : f.sink->lines()) {
    if (!absl::StrContains(line, "sequential calls:")) continue;
    ++lines;
    CHECK(absl::StrContains(line, "route=\"/quote/sequential\""));
    CHECK(absl::StrContains(line, "calls=3"));
    CHECK(absl::StrContains(line, "outbound \"GET inventory-1:80\" 20.0ms"));
    CHECK(absl::StrContains(line, "db \"SELECT price FROM items WHERE id = ?\" 20.0ms"));
  }
  CHECK(lines == 1);
}

TEST_CASE("calls logged at once from many threads bound to one request count once",
          "[breakdown][concurrency]") {
  Fixture f;
  vitals::UpstreamHandle peer = f.agent.Upstream("GET", "fanout", 80);
  constexpr int kThreads = 8;
  {
    vitals::RequestScope request(f.agent, "GET", "/fanout");
    const vitals::RequestContext context = vitals::RequestContext::Current();
    std::vector<std::unique_ptr<vitals::ClientCallScope>> calls;
    for (int i = 0; i < kThreads; ++i) {
      calls.push_back(std::make_unique<vitals::ClientCallScope>(peer));
    }
    f.clock.AdvanceMs(40);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        vitals::RequestContext::Bind bind(context);
        calls[i]->set_status(200);
        calls[i]->Finish();
      });
    }
    for (auto& t : threads) t.join();
    f.clock.AdvanceMs(10);
  }
  CHECK(f.Part("/fanout", "outbound") == Approx(0.040));  // eight calls over the same 40 ms
  CHECK(f.Part("/fanout", "self") == Approx(0.010));
  CHECK(f.Sequential("/fanout") == 0);
}

}  // namespace
