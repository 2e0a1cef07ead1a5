// Scrape-time callback metrics (vitals/callback.h; issue 30, item 1): values at each scrape,
// several series from one call, failures contained and counted, a stuck callback bounded by the
// callback timeout, and registrations that come and go while scrapes run.

#include "vitals/callback.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::CountLines;
using vitals_test::SampleValue;

double Failures(const std::string& body, const std::string& metric, const std::string& reason) {
  return SampleValue(
      body, "vitals_callback_failures_total{metric=\"" + metric + "\",reason=\"" + reason + "\"}");
}

TEST_CASE("a gauge callback gives its value at each scrape, and goes with its registration",
          "[callback]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  std::atomic<int> depth{3};
  auto reg = agent.AddGaugeCallback("jobs_queued", "Jobs waiting.",
                                    [&] { return static_cast<double>(depth.load()); });
  REQUIRE(reg.ok());
  CHECK(SampleValue(agent.RenderText(), "jobs_queued") == 3);
  depth = 11;
  CHECK(SampleValue(agent.RenderText(), "jobs_queued") == 11);
  reg->Reset();
  depth = 99;
  const std::string after = agent.RenderText();
  CHECK(CountLines(after, "jobs_queued ") == 0);
  // The name can be taken by a callback again.
  auto again = agent.AddGaugeCallback("jobs_queued", "Jobs waiting.", [] { return 5.0; });
  REQUIRE(again.ok());
  CHECK(SampleValue(agent.RenderText(), "jobs_queued") == 5);
}

TEST_CASE("a counter callback is served as a counter and refuses negative values", "[callback]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  double total = 10;
  auto reg = agent.AddCounterCallback("lib_bytes_read_total", "Bytes the library read.",
                                      [&] { return total; });
  REQUIRE(reg.ok());
  std::string body = agent.RenderText();
  CHECK(absl::StrContains(body, "# TYPE lib_bytes_read_total counter\n"));
  CHECK(SampleValue(body, "lib_bytes_read_total") == 10);
  total = -1;
  body = agent.RenderText();
  CHECK(SampleValue(body, "lib_bytes_read_total") == 10);  // its last value
  CHECK(Failures(body, "lib_bytes_read_total", "error") == 1);
}

TEST_CASE("one callback sets several series, and a series it leaves out is not served",
          "[callback]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  std::vector<std::string> pools = {"main", "batch"};
  auto reg = agent.AddGaugeCallback(
      "pool_connections", "Connections per pool and state.", {"pool", "state"},
      [&](vitals::CallbackObserver& o) {
        for (size_t i = 0; i < pools.size(); ++i) {
          if (absl::Status s = o.Observe(static_cast<double>(i + 1), {pools[i], "idle"}); !s.ok())
            return s;
          if (absl::Status s = o.Observe(10.0 * (i + 1), {pools[i], "used"}); !s.ok()) return s;
        }
        return absl::OkStatus();
      });
  REQUIRE(reg.ok());
  std::string body = agent.RenderText();
  CHECK(SampleValue(body, "pool_connections{pool=\"main\",state=\"idle\"}") == 1);
  CHECK(SampleValue(body, "pool_connections{pool=\"batch\",state=\"used\"}") == 20);
  CHECK(CountLines(body, "pool_connections{") == 4);
  pools = {"batch"};
  body = agent.RenderText();
  CHECK(CountLines(body, "pool_connections{") == 2);
  CHECK(SampleValue(body, "pool_connections{pool=\"batch\",state=\"idle\"}") == 1);
  pools = {"main", "batch"};
  CHECK(CountLines(agent.RenderText(), "pool_connections{") == 4);  // back
}

TEST_CASE("a callback whose label values churn stays under the series limit", "[callback]") {
  vitals::Options o = vitals_test::QuietOptions();
  // Within a round the last round's series still stand until the callback returns: five new
  // peers a round need room for ten.
  o.series_limit = 10;
  vitals::Agent agent(o);
  int round = 0;
  auto reg = agent.AddGaugeCallback(
      "peer_open_streams", "Streams per peer.", {"peer"}, [&](vitals::CallbackObserver& obs) {
        ++round;
        for (int i = 0; i < 5; ++i) {  // five peers, new ones every round
          if (absl::Status s = obs.Observe(i, {"peer-" + std::to_string(round * 10 + i)}); !s.ok())
            return s;
        }
        return absl::OkStatus();
      });
  REQUIRE(reg.ok());
  std::string body;
  for (int i = 0; i < 50; ++i) body = agent.RenderText();
  CHECK(CountLines(body, "peer_open_streams{") == 5);
  INFO(body);
  CHECK(SampleValue(
            body, "peer_open_streams{peer=\"peer-" + std::to_string(round * 10 + 4) + "\"}") == 4);
  CHECK(CountLines(body, "vitals_series_overflow_total{metric=\"peer_open_streams\"}") == 0);
}

TEST_CASE("a callback that throws or fails is counted, and its series keep their last values",
          "[callback]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o = vitals_test::QuietOptions();
  o.log_sink = sink;
  vitals::Agent agent(o);
  int mode = 0;
  auto reg = agent.AddGaugeCallback("flaky", "A flaky reading.", {"part"},
                                    [&](vitals::CallbackObserver& obs) -> absl::Status {
                                      if (mode == 1) throw std::runtime_error("disk on fire");
                                      if (mode == 2) return absl::UnavailableError("backend down");
                                      if (mode == 3) return obs.Observe(1, {"a", "too many"});
                                      return obs.Observe(42, {"a"});
                                    });
  REQUIRE(reg.ok());
  CHECK(SampleValue(agent.RenderText(), "flaky{part=\"a\"}") == 42);
  mode = 1;
  std::string body = agent.RenderText();
  CHECK(SampleValue(body, "flaky{part=\"a\"}") == 42);
  CHECK(Failures(body, "flaky", "exception") == 1);
  mode = 2;
  body = agent.RenderText();
  CHECK(Failures(body, "flaky", "error") == 1);
  mode = 3;
  body = agent.RenderText();
  CHECK(Failures(body, "flaky", "error") == 2);
  CHECK(sink->Contains("callback of metric flaky: threw: disk on fire"));
  CHECK(sink->Contains("backend down"));
  // A callback without labels that throws: the same containment.
  auto thrower = agent.AddGaugeCallback("thrower", "x", []() -> double { throw 7; });
  REQUIRE(thrower.ok());
  CHECK(Failures(agent.RenderText(), "thrower", "exception") == 1);
}

TEST_CASE("a stuck callback delays a scrape by the callback timeout at most, reported once",
          "[callback]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o = vitals_test::QuietOptions();
  o.log_sink = sink;
  o.callback_timeout = absl::Milliseconds(50);
  vitals::Agent agent(o);
  std::atomic<bool> stick{false};
  absl::Notification entered, release;
  auto slow = agent.AddGaugeCallback("slow_reading", "Slow.", [&] {
    if (stick.load()) {
      entered.Notify();
      release.WaitForNotification();
    }
    return 1.0;
  });
  std::atomic<int> fast_value{1};
  auto fast = agent.AddGaugeCallback("fast_reading", "Fast.",
                                     [&] { return static_cast<double>(fast_value.load()); });
  REQUIRE(slow.ok());
  REQUIRE(fast.ok());
  CHECK(SampleValue(agent.RenderText(), "slow_reading") == 1);
  stick = true;
  fast_value = 2;
  // This scrape waits for the round up to the timeout, then serves the last values.
  std::string body = agent.RenderText();
  REQUIRE(entered.HasBeenNotified());
  CHECK(SampleValue(body, "slow_reading") == 1);
  CHECK(Failures(body, "slow_reading", "timeout") == 1);
  // Scrapes while it stays stuck return (without waiting: the round is late) and report the
  // overrun only once.
  for (int i = 0; i < 3; ++i) body = agent.RenderText();
  CHECK(Failures(body, "slow_reading", "timeout") == 1);
  CHECK(sink->Contains("callback of metric slow_reading: still running after 50ms"));
  stick = false;
  release.Notify();
  // Once it returns, its late round ends and rounds run again: the fast callback's new value
  // arrives (a scrape that comes while the late round finishes serves the last values).
  fast_value = 3;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (SampleValue(agent.RenderText(), "fast_reading") != 3 && absl::Now() < deadline) {
  }
  CHECK(SampleValue(agent.RenderText(), "fast_reading") == 3);
  CHECK(Failures(agent.RenderText(), "slow_reading", "timeout") == 1);
}

TEST_CASE("callback names are their own: no handles, no second callback", "[callback]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  REQUIRE(agent.AddCounter("orders_total", "Orders.").ok());
  CHECK(agent.AddCounterCallback("orders_total", "Orders.", [] { return 1.0; }).status().code() ==
        absl::StatusCode::kAlreadyExists);
  auto reg = agent.AddGaugeCallback("temp_celsius", "Temp.", [] { return 20.0; });
  REQUIRE(reg.ok());
  CHECK(agent.AddGauge("temp_celsius", "Temp.").status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(agent.AddGaugeCallback("temp_celsius", "Temp.", [] { return 1.0; }).status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(agent.AddGaugeCallback("bad name", "x", [] { return 1.0; }).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(agent.AddGaugeCallback("no_fn", "x", std::function<double()>()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  vitals::CallbackRegistration moved = std::move(*reg);
  CHECK(moved.registered());
  CHECK(SampleValue(agent.RenderText(), "temp_celsius") == 20);
}

TEST_CASE("a callback may scrape, and may unregister itself, without deadlock", "[callback]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  std::string inner;
  auto scraping = agent.AddGaugeCallback("scraping", "x", [&] {
    inner = agent.RenderText();  // does not wait for its own round
    return 1.0;
  });
  REQUIRE(scraping.ok());
  CHECK(SampleValue(agent.RenderText(), "scraping") == 1);
  CHECK(absl::StrContains(inner, "# TYPE scraping gauge"));
  scraping->Reset();

  vitals::CallbackRegistration self;
  int calls = 0;
  auto reg = agent.AddGaugeCallback("once", "x", [&] {
    ++calls;
    self.Reset();  // from its own call: does not wait for itself
    return 1.0;
  });
  REQUIRE(reg.ok());
  self = std::move(*reg);
  agent.RenderText();
  agent.RenderText();
  CHECK(calls == 1);
  CHECK(!self.registered());
}

TEST_CASE("registrations come and go while scrapes run", "[callback][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  std::atomic<bool> done{false};
  std::vector<std::thread> scrapers;
  std::atomic<int> scrapes{0};
  for (int t = 0; t < 2; ++t) {
    scrapers.emplace_back([&] {
      while (!done.load()) {
        agent.RenderText();
        scrapes.fetch_add(1);
      }
    });
  }
  auto state = std::make_shared<int>(0);
  for (int i = 0; i < 200; ++i) {
    auto reg = agent.AddGaugeCallback("churn", "x", {"i"}, [state, i](vitals::CallbackObserver& o) {
      ++*state;
      return o.Observe(i, {std::to_string(i % 7)});
    });
    REQUIRE(reg.ok());
    if (i % 2 == 0) agent.RenderText();
  }  // each registration is destroyed while the scrapers run
  done = true;
  for (auto& t : scrapers) t.join();
  CHECK(scrapes.load() > 0);
  CHECK(CountLines(agent.RenderText(), "churn{") == 0);
}

}  // namespace
