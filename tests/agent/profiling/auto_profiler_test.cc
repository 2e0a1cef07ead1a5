// The automatic profiler's trigger, cooldown, keeping and stopping, with a fake clock and a
// capture the test controls (the real profiler is exercised through an agent in
// tests/exporters/pprof_endpoint_test.cc and against the demo in tests/integration).

#include "agent/profiling/auto_profiler.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <string>

#include "exporters/text_format.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"

namespace {

using vitals::internal::AutoProfiler;
using vitals::internal::RouteLabels;

constexpr int64_t kSecond = 1'000'000'000;

// A capture the test holds open until it says what it returns; it also ends when cancelled.
class ScriptedCapture {
 public:
  AutoProfiler::Capture fn() {
    return [this](absl::Duration duration,
                  const std::function<bool()>& cancelled) -> absl::StatusOr<std::string> {
      std::unique_lock<std::mutex> lock(mu_);
      ++running_;
      last_duration_ = duration;
      cv_.notify_all();
      while (!result_.has_value()) {
        if (cancelled()) {
          --running_;
          saw_cancel_ = true;
          return absl::CancelledError("stopped");
        }
        cv_.wait_for(lock, std::chrono::milliseconds(5));
      }
      absl::StatusOr<std::string> r = *result_;
      result_.reset();
      --running_;
      ++finished_;
      cv_.notify_all();
      return r;
    };
  }
  // Lets the capture in progress end with `result`; waits until it has.
  void Finish(absl::StatusOr<std::string> result) {
    std::unique_lock<std::mutex> lock(mu_);
    const int before = finished_;
    result_ = std::move(result);
    cv_.notify_all();
    // A capture that never ends is a failure here, not a hang.
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return finished_ > before; }));
  }
  int running() {
    std::lock_guard<std::mutex> lock(mu_);
    return running_;
  }
  bool saw_cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    return saw_cancel_;
  }
  absl::Duration last_duration() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_duration_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<absl::StatusOr<std::string>> result_;
  int running_ = 0, finished_ = 0;
  bool saw_cancel_ = false;
  absl::Duration last_duration_;
};

struct Fixture : vitals_test::ClockAndLog {
  vitals::internal::RateLimitedLog log{sink, &clock, 1000, 1000};
  vitals::internal::Registry registry{1000};
  ScriptedCapture capture;
  RouteLabels slow_get{"GET", "/reports/:id"};
  RouteLabels slow_post{"POST", "/upload"};

  std::unique_ptr<AutoProfiler> Make(AutoProfiler::Config config = {}) {
    auto p = AutoProfiler::Create(registry, config, capture.fn(), &clock, &log);
    REQUIRE(p.ok());
    (*p)->Start("http://127.0.0.1:9464/debug/pprof/auto/profile?id=");
    return *std::move(p);
  }
  // `n` slow requests, `gap` seconds apart on the fake clock.
  void Slow(AutoProfiler& p, const RouteLabels& route, int n, double gap_seconds = 0.5) {
    for (int i = 0; i < n; ++i) {
      p.SlowRequest(route, clock.NowNanos());
      clock.Advance(static_cast<int64_t>(gap_seconds * kSecond));
    }
  }
  double Captured() {
    std::string text;
    vitals::exporters::TextFormat(nullptr).Render(registry, text);
    return vitals_test::SampleValue(text, "vitals_auto_profiles_total{trigger=\"slow_requests\"}");
  }
  bool LogHas(const std::string& needle) {
    for (const std::string& line : sink->lines()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_CASE_METHOD(Fixture, "a burst of slow requests within the window captures one profile",
                 "[auto_profile]") {
  AutoProfiler::Config config;
  config.slow_requests = 3;
  config.duration = absl::Seconds(7);
  auto p = Make(config);
  Slow(*p, slow_get, 2);
  CHECK(p->triggers() == 0);  // two are not a burst of three
  Slow(*p, slow_post, 1);
  CHECK(p->triggers() == 1);
  REQUIRE(vitals_test::WaitUntil([&] { return capture.running() == 1; }));
  CHECK(capture.last_duration() == absl::Seconds(7));
  CHECK(p->List().empty());  // nothing kept until it is done
  capture.Finish(std::string("profile-bytes"));
  REQUIRE(vitals_test::WaitUntil([&] { return p->List().size() == 1; }));
  const vitals::AutoProfileInfo info = p->List()[0];
  CHECK(info.id == 1);
  CHECK(info.trigger == "slow_requests");
  CHECK(info.bytes == 13);
  REQUIRE(info.routes.size() == 2);
  CHECK(info.routes[0].method == "GET");  // the route with the most slow requests first
  CHECK(info.routes[0].route == "/reports/:id");
  CHECK(info.routes[0].slow_requests == 2);
  CHECK(info.routes[1].route == "/upload");
  CHECK(*p->Get(1) == "profile-bytes");
  CHECK(absl::IsNotFound(p->Get(2).status()));
  CHECK(Captured() == 1);
  // One line says where to fetch it.
  CHECK(vitals_test::WaitUntil(
      [&] { return LogHas("go tool pprof http://127.0.0.1:9464/debug/pprof/auto/profile?id=1"); }));
  CHECK(LogHas("GET /reports/:id x2"));
}

TEST_CASE_METHOD(Fixture, "slow requests spread wider than the window trigger nothing",
                 "[auto_profile]") {
  AutoProfiler::Config config;
  config.slow_requests = 3;
  auto p = Make(config);
  Slow(*p, slow_get, 20, 5.1);  // any three span more than 10 s
  CHECK(p->triggers() == 0);
  Slow(*p, slow_get, 3, 4.9);  // three within 9.8 s
  CHECK(p->triggers() == 1);
}

TEST_CASE_METHOD(Fixture, "one capture at a time, then none until the cooldown ends",
                 "[auto_profile]") {
  AutoProfiler::Config config;
  config.slow_requests = 2;
  config.cooldown = absl::Minutes(10);
  auto p = Make(config);
  Slow(*p, slow_get, 2);
  REQUIRE(p->triggers() == 1);
  REQUIRE(vitals_test::WaitUntil([&] { return capture.running() == 1; }));
  Slow(*p, slow_get, 10);  // during the capture
  CHECK(p->triggers() == 1);
  capture.Finish(std::string("a"));
  REQUIRE(vitals_test::WaitUntil([&] { return p->armed_at() != INT64_MAX; }));
  clock.Advance(5 * 60 * kSecond);
  Slow(*p, slow_get, 10);  // inside the cooldown
  CHECK(p->triggers() == 1);
  clock.Advance(5 * 60 * kSecond);
  Slow(*p, slow_get, 2);  // after it
  CHECK(p->triggers() == 2);
  REQUIRE(vitals_test::WaitUntil([&] { return capture.running() == 1; }));
  capture.Finish(std::string("b"));
  REQUIRE(vitals_test::WaitUntil([&] { return p->List().size() == 2; }));
  CHECK(p->List()[0].id == 2);  // newest first
  CHECK(Captured() == 2);
}

TEST_CASE_METHOD(Fixture, "only the last few are kept, and never more bytes than the bound",
                 "[auto_profile]") {
  AutoProfiler::Config config;
  config.slow_requests = 1;
  config.cooldown = absl::Seconds(1);
  config.keep = 2;
  config.max_bytes = 100;
  auto p = Make(config);
  auto one = [&](std::string bytes) {
    REQUIRE(vitals_test::WaitUntil([&] { return p->armed_at() != INT64_MAX; }));
    const int64_t before = p->triggers();
    clock.Advance(2 * kSecond);
    Slow(*p, slow_get, 1);
    REQUIRE(p->triggers() == before + 1);
    REQUIRE(vitals_test::WaitUntil([&] { return capture.running() == 1; }));
    capture.Finish(std::move(bytes));
  };
  one(std::string(10, 'a'));
  one(std::string(10, 'b'));
  one(std::string(10, 'c'));
  REQUIRE(vitals_test::WaitUntil([&] { return p->List().size() == 2 && p->List()[0].id == 3; }));
  CHECK(p->List()[1].id == 2);
  CHECK(absl::IsNotFound(p->Get(1).status()));
  one(std::string(60, 'd'));
  one(std::string(60, 'e'));  // 120 bytes with d: d goes
  REQUIRE(vitals_test::WaitUntil([&] { return !p->List().empty() && p->List()[0].id == 5; }));
  CHECK(p->List().size() == 1);
  one(std::string(101, 'f'));  // larger than the bound alone: dropped, said so
  CHECK(vitals_test::WaitUntil([&] { return LogHas("automatic profile 6 (101 bytes)"); }));
  CHECK(p->List().size() == 1);
  CHECK(p->List()[0].id == 5);
}

TEST_CASE_METHOD(Fixture, "Stop ends a capture in progress at once and keeps nothing of it",
                 "[auto_profile]") {
  AutoProfiler::Config config;
  config.slow_requests = 1;
  config.duration = absl::Hours(1);
  auto p = Make(config);
  Slow(*p, slow_get, 1);
  REQUIRE(vitals_test::WaitUntil([&] { return capture.running() == 1; }));
  p->Stop();  // would wait an hour if the capture were not cancelled
  CHECK(capture.saw_cancel());
  CHECK(p->List().empty());
  CHECK(Captured() == 0);
  Slow(*p, slow_get, 5);  // stopped: nothing triggers
  CHECK(p->triggers() == 1);
}

TEST_CASE_METHOD(Fixture, "a burst during an on-demand profile is skipped and re-armed",
                 "[auto_profile]") {
  AutoProfiler::Config config;
  config.slow_requests = 1;
  auto p = Make(config);
  Slow(*p, slow_get, 1);
  REQUIRE(vitals_test::WaitUntil([&] { return capture.running() == 1; }));
  const int64_t now = clock.NowNanos();
  capture.Finish(absl::AlreadyExistsError("a CPU profile is already being taken"));
  REQUIRE(vitals_test::WaitUntil([&] { return p->armed_at() != INT64_MAX; }));
  CHECK(p->armed_at() == now);  // armed again without waiting for the cooldown
  CHECK(LogHas("automatic profile skipped"));
  Slow(*p, slow_get, 1, 0);
  CHECK(p->triggers() == 2);
  REQUIRE(vitals_test::WaitUntil([&] { return capture.running() == 1; }));
  const int64_t trigger = clock.NowNanos();
  capture.Finish(absl::UnavailableError("no samples"));
  REQUIRE(vitals_test::WaitUntil([&] { return p->armed_at() != INT64_MAX; }));
  CHECK(p->armed_at() == trigger + 10 * 60 * kSecond);  // a failure waits for the cooldown
  CHECK(LogHas("automatic profile failed: no samples"));
  Slow(*p, slow_get, 5, 0);
  CHECK(p->triggers() == 2);
  CHECK(Captured() == 0);
}

TEST_CASE("the defaults are the documented ones", "[auto_profile]") {
  const AutoProfiler::Config config;
  CHECK(config.max_bytes == size_t{32} << 20);  // "32 MiB at most in all"
  CHECK(config.window == absl::Seconds(10));
  CHECK(config.slow_requests == vitals::Options().auto_profile_slow_requests);
  CHECK(config.keep == vitals::Options().auto_profile_keep);
}

TEST_CASE_METHOD(Fixture, "a bad configuration is refused", "[auto_profile]") {
  AutoProfiler::Config config;
  config.slow_requests = 0;
  CHECK(absl::IsInvalidArgument(
      AutoProfiler::Create(registry, config, capture.fn(), &clock, &log).status()));
}

}  // namespace
