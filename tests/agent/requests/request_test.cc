#include "vitals/request.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "agent/root/agent_access.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::SampleValue;

struct Fixture : vitals_test::ClockAndLog {
  vitals::Options Opts() {
    vitals::Options o = Options();
    o.slow_request_threshold = absl::Milliseconds(500);
    return o;
  }
};

const std::string kCount = "http_server_request_duration_seconds_count";
const std::string kBucket = "http_server_request_duration_seconds_bucket";

TEST_CASE("a request scope times the request with the injected clock", "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  {
    vitals::RequestScope scope(agent, "get", "/users/:id");
    CHECK(
        SampleValue(
            agent.RenderText(),
            "http_server_active_requests{http_request_method=\"GET\",http_route=\"/users/:id\"}") ==
        1);
    f.clock.AdvanceMs(30);
    scope.set_status(404);
  }
  const std::string body = agent.RenderText();
  const std::string labels =
      "{http_request_method=\"GET\",http_route=\"/users/:id\",http_response_status_code=\"404\"";
  CHECK(SampleValue(body, kCount + labels + "}") == 1);
  CHECK(SampleValue(body, "http_server_request_duration_seconds_sum" + labels + "}") ==
        Approx(0.030));
  CHECK(SampleValue(body, kBucket + labels + ",le=\"0.025\"}") == 0);
  CHECK(SampleValue(body, kBucket + labels + ",le=\"0.05\"}") == 1);
  CHECK(SampleValue(
            body,
            "http_server_active_requests{http_request_method=\"GET\",http_route=\"/users/:id\"}") ==
        0);
  CHECK(f.sink->lines().empty());
}

TEST_CASE("body sizes set on a scope or given to a handle are recorded only with body_sizes",
          "[request]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.body_sizes = true;
  vitals::Agent agent(o);
  {
    vitals::RequestScope scope(agent, "POST", "/upload");
    scope.set_request_body_size(5000);
    scope.set_response_body_size(20);
    scope.set_status(201);
  }
  {
    vitals::RequestScope scope(agent, "POST", "/upload");  // only the response's size known
    scope.set_response_body_size(30);
    scope.set_status(201);
  }
  { vitals::RequestScope scope(agent, "POST", "/upload"); }  // neither: nothing recorded
  agent.Route("POST", "/upload").RecordBodySizes(201, 100, -1);
  const std::string body = agent.RenderText();
  const std::string labels =
      "{http_request_method=\"POST\",http_route=\"/upload\",http_response_status_code=\"201\"}";
  CHECK(SampleValue(body, "http_server_request_body_size_bytes_count" + labels) == 2);
  CHECK(SampleValue(body, "http_server_request_body_size_bytes_sum" + labels) == 5100);
  CHECK(SampleValue(body, "http_server_response_body_size_bytes_count" + labels) == 2);
  CHECK(SampleValue(body, "http_server_response_body_size_bytes_sum" + labels) == 50);
  CHECK(SampleValue(body, kCount + labels) == 2);
  CHECK(SampleValue(body,
                    "http_server_request_body_size_bytes_bucket{http_request_method=\"POST\","
                    "http_route=\"/upload\",http_response_status_code=\"200\",le=\"64\"}") ==
        -1);  // the scope without sizes recorded none

  vitals::Agent off(f.Opts());  // off by default: the calls record nothing, no family exists
  {
    vitals::RequestScope scope(off, "POST", "/upload");
    scope.set_request_body_size(5000);
  }
  off.Route("POST", "/upload").RecordBodySizes(200, 1, 1);
  CHECK(off.RenderText().find("body_size") == std::string::npos);
}

TEST_CASE("a request timed by two stamps records the time between them, slow ones too",
          "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  const vitals::RouteHandle route = agent.Route("GET", "/stamped");
  const vitals::RequestStamp start = agent.RequestStampNow();
  f.clock.AdvanceMs(30);
  const vitals::RequestStamp end = agent.RequestStampNow();
  f.clock.AdvanceMs(5000);  // later reads of the clock change nothing: the stamps are the times
  route.Record(201, start, end);
  route.Record(201, start, agent.RequestStampNow(), vitals::TraceContext());  // 5.03 s: slow
  const std::string body = agent.RenderText();
  const std::string labels =
      "{http_request_method=\"GET\",http_route=\"/stamped\",http_response_status_code=\"201\"";
  CHECK(SampleValue(body, kCount + labels + "}") == 2);
  CHECK(SampleValue(body, "http_server_request_duration_seconds_sum" + labels + "}") ==
        Approx(5.060));
  CHECK(SampleValue(body, kBucket + labels + ",le=\"0.025\"}") == 0);
  CHECK(SampleValue(body, kBucket + labels + ",le=\"0.05\"}") == 1);
  CHECK(SampleValue(body,
                    "http_server_slow_requests_total{http_request_method=\"GET\","
                    "http_route=\"/stamped\"}") == 1);
}

TEST_CASE("stamps of the default clock (the TSC) time a request in seconds", "[request]") {
  vitals::Options o = vitals_test::QuietOptions();  // no injected clock
  vitals::Agent agent(o);
  const vitals::RouteHandle route = agent.Route("GET", "/tsc");
  const int64_t t0 = agent.clock().NowNanos();
  const vitals::RequestStamp start = agent.RequestStampNow();
  while (agent.clock().NowNanos() - t0 < 2'000'000) {
  }  // two milliseconds of the agent's clock, measured, not slept
  const vitals::RequestStamp end = agent.RequestStampNow();
  const int64_t elapsed = agent.clock().NowNanos() - t0;
  route.Record(200, start, end);
  const double sum = SampleValue(agent.RenderText(),
                                 "http_server_request_duration_seconds_sum{http_request_method="
                                 "\"GET\",http_route=\"/tsc\",http_response_status_code=\"200\"}");
  CHECK(sum >= 0.002 * 0.99);  // the TSC's rate is calibrated, not exact
  CHECK(sum <= elapsed * 1e-9 * 1.01);
}

TEST_CASE("a database scope given a start stamp is in flight since that stamp", "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  auto& metrics = vitals::internal::AgentAccess::Impl(agent).requests();
  const vitals::RequestStamp start = agent.RequestStampNow();
  f.clock.AdvanceMs(400);  // routing, say: the request is older than its handler
  {
    vitals::RequestDbScope db(agent.Route("GET", "/db"), start);
    f.clock.AdvanceMs(100);
    const auto in_flight = metrics.RequestsInFlight();
    CHECK(in_flight.count == 1);
    CHECK(in_flight.oldest_nanos == 500'000'000);
  }
  CHECK(metrics.RequestsInFlight().count == 0);
}

TEST_CASE("slow requests are all counted, and logged once per route a minute with a count",
          "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  vitals::RouteHandle route = agent.Route("POST", "/orders");
  for (int i = 0; i < 5; ++i) {
    vitals::RequestScope scope(route);
    f.clock.AdvanceMs(1234.5);
    scope.set_status(503);
  }
  route.Record(200, absl::Milliseconds(499));            // just under the threshold
  agent.Record("GET", "/other", 200, absl::Seconds(2));  // another route: its own line
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body,
                    "http_server_slow_requests_total{http_request_method=\"POST\","
                    "http_route=\"/orders\"}") == 5);
  auto lines = f.sink->lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] ==
        "WARNING slow request: method=POST route=\"/orders\" status=503 duration_ms=1234.5");
  CHECK(lines[1].find("route=\"/other\"") != std::string::npos);
  f.clock.AdvanceMs(60'000);
  route.Record(504, absl::Seconds(3));
  lines = f.sink->lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[2] ==
        "WARNING slow request: method=POST route=\"/orders\" status=504 duration_ms=3000.0 (4 "
        "more since the last such line)");
}

TEST_CASE("the last 50 slow requests are kept, newest first, with route, status and duration",
          "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  vitals::RouteHandle route = agent.Route("POST", "/orders");
  const int64_t start = f.clock.NowNanos();
  for (int i = 0; i < 60; ++i) {
    f.clock.AdvanceMs(1);
    route.Record(500 + (i % 4), absl::Milliseconds(500 + i));  // all at or over the threshold
  }
  route.Record(200, absl::Milliseconds(499));  // not slow: not kept
  const auto& ring = vitals::internal::AgentAccess::Impl(agent).requests().slow_requests();
  CHECK(ring.added() == 60);
  const auto kept = ring.Read();
  REQUIRE(kept.size() == vitals::internal::SlowRequestRing::kCapacity);
  for (size_t k = 0; k < kept.size(); ++k) {
    const int i = 59 - static_cast<int>(k);  // newest first: requests 59 down to 10
    INFO("entry " << k);
    CHECK(kept[k].sequence == static_cast<uint64_t>(i));
    CHECK(kept[k].route->method == "POST");
    CHECK(kept[k].route->route == "/orders");
    CHECK(kept[k].status == 500 + (i % 4));
    CHECK(kept[k].duration_nanos == (500 + i) * 1'000'000LL);
    CHECK(kept[k].at_nanos == start + (i + 1) * 1'000'000LL);
  }
}

TEST_CASE("slow requests from many threads: every one counted, no torn entry kept",
          "[request][concurrency]") {
  vitals::internal::SlowRequestRing ring;
  vitals::internal::RouteLabels routes[4] = {
      {"GET", "/a"}, {"GET", "/b"}, {"PUT", "/c"}, {"POST", "/d"}};
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  // The writers start once the reader has read once, and the reader reads until they are done
  // (then once more): reads and writes overlap, however the threads are scheduled.
  std::thread reader([&] {
    do {
      for (const auto& e : ring.Read()) {
        // Every writer keeps status, duration and time tied to its route: a mix is a torn read.
        const int r = static_cast<int>(e.route - routes);
        if (r < 0 || r >= 4 || e.status != 500 + r || e.duration_nanos != r * 1000 + 7 ||
            e.at_nanos != r * 1'000'000 + 3) {
          torn.fetch_add(1);
        }
      }
      reads.fetch_add(1);
    } while (!done.load());
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      while (reads.load() == 0) {
      }
      for (int i = 0; i < kPerThread; ++i) {
        ring.Add(&routes[t], 500 + t, t * 1000 + 7, t * 1'000'000 + 3);
      }
    });
  }
  for (auto& w : writers) w.join();
  done.store(true);
  reader.join();
  CHECK(ring.added() == uint64_t{kThreads} * kPerThread);
  CHECK(reads.load() > 0);
  CHECK(torn.load() == 0);
  const auto kept = ring.Read();
  CHECK(kept.size() <= vitals::internal::SlowRequestRing::kCapacity);
  for (size_t k = 1; k < kept.size(); ++k) CHECK(kept[k - 1].sequence > kept[k].sequence);
}

TEST_CASE("requests in flight and the age of the oldest", "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  vitals::Agent other(f.Opts());  // another agent's requests are not this one's
  auto& metrics = vitals::internal::AgentAccess::Impl(agent).requests();
  CHECK(metrics.RequestsInFlight().count == 0);
  auto first = std::make_unique<vitals::RequestScope>(agent, "GET", "/slow");
  f.clock.AdvanceMs(700);
  vitals::RequestScope other_scope(other, "GET", "/x");
  std::unique_ptr<vitals::RequestScope> second;
  std::thread([&] { second = std::make_unique<vitals::RequestScope>(agent, "GET", "/b"); }).join();
  f.clock.AdvanceMs(300);
  auto in_flight = metrics.RequestsInFlight();
  CHECK(in_flight.count == 2);
  CHECK(in_flight.oldest_nanos == 1'000'000'000);
  first.reset();  // the oldest ends
  in_flight = metrics.RequestsInFlight();
  CHECK(in_flight.count == 1);
  CHECK(in_flight.oldest_nanos == 300'000'000);
  second->Cancel();
  CHECK(metrics.RequestsInFlight().count == 0);
}

TEST_CASE("Record, RouteHandle and the scope agree: methods are normalized", "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  agent.Record("GET", "/a", 200, absl::Milliseconds(1));
  agent.Route("get", "/a").Record(200, absl::Milliseconds(1));
  agent.Record("BREW", "/a", 418, absl::Milliseconds(1));
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, kCount + "{http_request_method=\"GET\",http_route=\"/"
                                   "a\",http_response_status_code=\"200\"}") == 2);
  CHECK(SampleValue(body, kCount + "{http_request_method=\"_OTHER\",http_route=\"/"
                                   "a\",http_response_status_code=\"418\"}") == 1);
}

TEST_CASE("many status codes for one route all count", "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  vitals::RouteHandle route = agent.Route("GET", "/s");
  for (int status = 200; status < 230; ++status) {  // more statuses than the route caches
    route.Record(status, absl::Milliseconds(1));
    route.Record(status, absl::Milliseconds(1));
  }
  const std::string body = agent.RenderText();
  for (int status = 200; status < 230; ++status) {
    CHECK(SampleValue(
              body,
              kCount +
                  "{http_request_method=\"GET\",http_route=\"/s\",http_response_status_code=\"" +
                  std::to_string(status) + "\"}") == 2);
  }
}

TEST_CASE("a scope may end on another thread: Finish and Cancel end it once", "[request]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  auto scope = std::make_unique<vitals::RequestScope>(agent, "GET", "/async");
  f.clock.AdvanceMs(2);
  std::thread([&] { scope.reset(); }).join();
  vitals::RequestScope finished(agent, "GET", "/async");
  f.clock.AdvanceMs(7);
  CHECK(finished.Finish() == absl::Milliseconds(7));
  CHECK(finished.Finish() == absl::ZeroDuration());
  {
    vitals::RequestScope cancelled(agent, "GET", "/async");
    cancelled.Cancel();
  }
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, kCount + "{http_request_method=\"GET\",http_route=\"/"
                                   "async\",http_response_status_code=\"200\"}") == 2);
  CHECK(SampleValue(
            body,
            "http_server_active_requests{http_request_method=\"GET\",http_route=\"/async\"}") == 0);
}

TEST_CASE("request counts are exact under concurrent recording", "[request][concurrency]") {
  vitals::Options o;
  o.read_environment = false;
  vitals::Agent agent(o);
  vitals::RouteHandle h = agent.Route("GET", "/hot");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        if (i % 2) {
          vitals::RequestScope s(h);
          s.set_status(200 + t);
        } else {
          agent.Record("GET", "/hot", 200 + t, absl::Microseconds(i));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string body = agent.RenderText();
  for (int t = 0; t < 4; ++t) {
    CHECK(SampleValue(
              body,
              kCount +
                  "{http_request_method=\"GET\",http_route=\"/hot\",http_response_status_code=\"" +
                  std::to_string(200 + t) + "\"}") == 20000);
  }
  CHECK(SampleValue(
            body, "http_server_active_requests{http_request_method=\"GET\",http_route=\"/hot\"}") ==
        0);
}

}  // namespace
