#include "agent/base/rate_limited_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "tests/support/fakes.h"
#include "vitals/agent.h"

namespace {

TEST_CASE("a burst passes, then the rate limit holds and reports what it dropped", "[log]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals_test::FakeClock clock;
  vitals::internal::RateLimitedLog log(sink, &clock, /*per_second=*/1, /*burst=*/3);
  for (int i = 0; i < 100; ++i) log.Log(vitals::LogSeverity::kWarning, "line");
  CHECK(sink->lines().size() == 3);
  CHECK(log.suppressed_total() == 97);
  clock.AdvanceMs(1000);
  log.Log(vitals::LogSeverity::kWarning, "again");
  auto lines = sink->lines();
  REQUIRE(lines.size() == 4);
  CHECK(lines[3] == "WARNING again (97 similar lines suppressed by the rate limit)");
  log.Log(vitals::LogSeverity::kWarning, "too soon");
  CHECK(sink->lines().size() == 4);
  clock.AdvanceMs(10000);  // a long quiet spell refills the burst, no more
  for (int i = 0; i < 10; ++i) log.Log(vitals::LogSeverity::kInfo, "x");
  CHECK(sink->lines().size() == 7);
}

TEST_CASE("a line as the stderr sink writes it: RFC 3339 time, severity, thread id, message",
          "[log]") {
  const absl::Time t = absl::FromUnixMicros(1796539720123456);  // 2026-12-06T06:48:40.123456Z
  CHECK(vitals::internal::FormatLogLine(t, vitals::LogSeverity::kWarning, 41873,
                                        "N+1 queries: GET /a ran\n`SELECT ?`\r\n5 times") ==
        "2026-12-06T06:48:40.123456Z WARNING 41873 vitals: N+1 queries: GET /a ran `SELECT ?`  5 "
        "times");
}

TEST_CASE("the stderr sink writes one formatted line per call, with the writer's thread id",
          "[log]") {
  // Catch stderr in a pipe for the duration of the writes.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const int saved = dup(STDERR_FILENO);
  REQUIRE(dup2(fds[1], STDERR_FILENO) == STDERR_FILENO);
  pid_t writer_tid = 0;
  const absl::Time before = absl::Now();
  std::thread writer([&] {
    writer_tid = gettid();
    vitals::StderrLogSink()->Write(vitals::LogSeverity::kError, "disk full");
  });
  writer.join();
  const absl::Time after = absl::Now();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  std::smatch m;
  REQUIRE(std::regex_match(
      out, m,
      std::regex(R"((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) ERROR (\d+) vitals: disk full\n)")));
  CHECK(std::stol(m[2]) == writer_tid);
  absl::Time stamped;
  std::string err;
  REQUIRE(absl::ParseTime(absl::RFC3339_full, m[1].str(), &stamped, &err));
  CHECK(stamped >= absl::FromUnixMicros(absl::ToUnixMicros(before)));
  CHECK(stamped <= after);
}

TEST_CASE("lines below the log level are dropped and use none of the rate limit", "[log]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals_test::FakeClock clock;
  vitals::internal::RateLimitedLog log(sink, &clock, /*per_second=*/1, /*burst=*/2,
                                       vitals::LogSeverity::kWarning);
  for (int i = 0; i < 10; ++i) log.Log(vitals::LogSeverity::kInfo, "chatter");
  log.Log(vitals::LogSeverity::kWarning, "first");
  log.Log(vitals::LogSeverity::kError, "second");
  CHECK(sink->lines() == std::vector<std::string>{"WARNING first", "ERROR second"});
  CHECK(log.suppressed_total() == 0);
}

TEST_CASE("VITALS_LOG_LEVEL keeps a breaker's recoveries out and its openings in", "[log]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  setenv("VITALS_LOG_LEVEL", "warning", 1);
  vitals::Options o;
  o.log_sink = sink;
  o.http_enabled = false;
  o.process_metrics = false;
  vitals::Agent agent(o);
  unsetenv("VITALS_LOG_LEVEL");
  CHECK(agent.options().log_level == vitals::LogSeverity::kWarning);
  vitals_test::FakeClock clock;
  vitals::CircuitBreakerOptions b;
  b.sliding_window_size = 2;
  b.minimum_number_of_calls = 2;
  b.wait_duration_in_open_state = absl::Seconds(1);
  b.permitted_calls_in_half_open_state = 1;
  b.clock = &clock;
  vitals::CircuitBreaker breaker("db", b, &agent);
  for (int i = 0; i < 2; ++i) (void)breaker.Execute([] { return absl::InternalError("x"); });
  REQUIRE(breaker.state() == vitals::CircuitBreaker::State::kOpen);  // a WARNING line
  clock.AdvanceMs(1500);
  REQUIRE(breaker.Execute([] { return absl::OkStatus(); }).ok());  // INFO: half-open, closed
  REQUIRE(breaker.state() == vitals::CircuitBreaker::State::kClosed);
  const std::vector<std::string> lines = sink->lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("WARNING circuit breaker \"db\": closed -> open", 0) == 0);
}

}  // namespace
