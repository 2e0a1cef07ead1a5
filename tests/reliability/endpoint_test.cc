// The endpoint under idle, slow, flooding and hostile clients, with real sockets: one case per
// row of the table in issue 12, each failing if that behaviour comes back. Latency bounds here
// are ten times the targets in BENCHMARKS.md (which records the measured figures), so a loaded
// CI machine does not fail them, while the failures they guard against (scrapes held for 30 s,
// Stop() taking seconds, hosts that never exit) still do.

#include <httplib.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "agent/profiling/profiler.h"
#include "examples/cpu_work.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "tests/support/profiler_state.h"
#include "tests/support/sockets.h"
#include "vitals/agent.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using vitals_test::ConnectLoopback;
using vitals_test::ReadUntilClose;
using vitals_test::SendAll;
using vitals_test::StatusOf;

constexpr auto kScrapeBound = 1s;  // target 100 ms (BENCHMARKS.md)

vitals::Options Loopback() { return vitals_test::LoopbackOptions(); }

// One scrape over a new connection: how long until the whole body was read, and its status.
struct Scrape {
  int status = -1;
  std::chrono::milliseconds took{0};
  size_t bytes = 0;
};
Scrape ScrapeOnce(int port) {
  Scrape s;
  const auto start = Clock::now();
  const std::string reply = vitals_test::RawExchange(
      port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 30s);
  s.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  s.status = StatusOf(reply);
  s.bytes = reply.size();
  return s;
}

double Sample(vitals::Agent& agent, const std::string& series) {
  return vitals_test::SampleValue(agent.RenderText(), series);
}

using vitals_test::WaitUntil;

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

// True when `fd` has nothing to read yet (its request is still being answered).
bool StillWaiting(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}

TEST_CASE("100 idle connections held: a scrape answers at once", "[reliability]") {
  REQUIRE(vitals_test::RaiseFdLimit(4096));
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  std::vector<int> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(ConnectLoopback(agent.port()));
  REQUIRE(WaitUntil([&] { return Sample(agent, "vitals_http_connections") >= 100; }));
  const Scrape s = ScrapeOnce(agent.port());
  WARN("scrape with 100 idle connections: " << s.took.count() << " ms");
  CHECK(s.status == 200);
  CHECK(s.took < kScrapeBound);
  CloseAll(idle);
}

TEST_CASE("1000 idle connections: every one is accepted and a scrape answers at once",
          "[reliability]") {
  REQUIRE(vitals_test::RaiseFdLimit(4096));
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) {
    const int fd = ConnectLoopback(agent.port());
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  REQUIRE(WaitUntil([&] { return Sample(agent, "vitals_http_connections") >= 1000; }));
  CHECK(Sample(agent, "vitals_http_connections_closed_total{reason=\"limit\"}") == 0);
  for (int i = 0; i < 3; ++i) {
    const Scrape s = ScrapeOnce(agent.port());
    WARN("scrape with 1,000 idle connections: " << s.took.count() << " ms");
    CHECK(s.status == 200);
    CHECK(s.took < kScrapeBound);
  }
  CloseAll(idle);
}

TEST_CASE("100 clients sending their request head a byte at a time: scrapes answer at once",
          "[reliability]") {
  REQUIRE(vitals_test::RaiseFdLimit(4096));
  vitals::Options o = Loopback();
  o.http_header_timeout = absl::Seconds(30);  // the trickle is not cut during the test
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  std::vector<int> slow;
  for (int i = 0; i < 100; ++i) slow.push_back(ConnectLoopback(agent.port()));
  const std::string head = "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\n";
  // Every client has sent part of its head before each scrape (counted, not hoped for).
  for (size_t byte = 0; byte < 10; ++byte) {
    for (int fd : slow) REQUIRE(send(fd, &head[byte], 1, MSG_NOSIGNAL) == 1);
    const Scrape s = ScrapeOnce(agent.port());
    CHECK(s.status == 200);
    CHECK(s.took < kScrapeBound);
    if (byte == 9) WARN("scrape with 100 slow-header clients: " << s.took.count() << " ms");
  }
  for (int fd : slow) {
    bool closed = true;
    ReadUntilClose(fd, 0ms, &closed);
    CHECK_FALSE(closed);  // still waiting for the rest of their heads, not dropped
  }
  CloseAll(slow);
}

TEST_CASE(
    "5000 connection attempts held: threads stay bounded, RSS grows <= 32 MB, and the "
    "scraper still gets in",
    "[reliability]") {
  REQUIRE(vitals_test::RaiseFdLimit(8192));
  vitals::Agent agent(Loopback());  // default cap: 1,024 connections
  REQUIRE(agent.Start().ok());
  REQUIRE(ScrapeOnce(agent.port()).status == 200);
  const int threads_before = vitals_test::ThreadCount();
  const long rss_before = vitals_test::ResidentBytes();
  std::vector<int> flood;
  for (int i = 0; i < 5000; ++i) {
    const int fd = vitals_test::ConnectNonBlocking(agent.port());
    REQUIRE(fd >= 0);
    flood.push_back(fd);
  }
  REQUIRE(WaitUntil([&] {
    return Sample(agent, "vitals_http_connections_closed_total{reason=\"limit\"}") >= 3900;
  }));
  const Scrape s = ScrapeOnce(agent.port());
  const int threads_after = vitals_test::ThreadCount();
  const long rss_after = vitals_test::ResidentBytes();
  WARN("5,000 attempts: scrape " << s.took.count() << " ms, threads " << threads_before << " -> "
                                 << threads_after << ", RSS +" << (rss_after - rss_before) / 1024
                                 << " KiB");
  CHECK(s.status == 200);
  CHECK(s.took < kScrapeBound);
  CHECK(threads_after == threads_before);
  CHECK(rss_after - rss_before <= 32L << 20);
  CHECK(Sample(agent, "vitals_http_connections") <= 1024);
  CloseAll(flood);
}

std::string SymbolBody(size_t addresses) {
  const auto fn = reinterpret_cast<uintptr_t>(&demo::CpuHeavyWork);
  std::string body;
  for (size_t i = 0; i < addresses; ++i) absl::StrAppendFormat(&body, "0x%x+", fn + i % 64);
  return body;
}

std::string SymbolRequest(const std::string& body) {
  return "POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST_CASE("symbol requests: 2500 addresses answer fast, past the cap is 413, chunked too",
          "[reliability]") {
  vitals::Options o = Loopback();
  o.profiling = true;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  const std::string body = SymbolBody(2500);  // about 10 KB... in hex, 37 KB
  vitals_test::RawExchange(agent.port(), SymbolRequest(SymbolBody(1)));  // builds the table
  const auto start = Clock::now();
  const std::string reply = vitals_test::RawExchange(agent.port(), SymbolRequest(body));
  const auto took = Clock::now() - start;
  CHECK(StatusOf(reply) == 200);
  CHECK(vitals_test::CountLines(vitals_test::BodyOf(reply), "0x") == 2500);
  const double us_per_address = std::chrono::duration<double, std::micro>(took).count() / 2500.0;
  WARN("symbol lookup: " << us_per_address << " us per address");
  CHECK(us_per_address < 500);  // target 50 us; absl::Symbolize took 1,100 us

  const std::string over = SymbolBody(vitals::internal::kMaxSymbolAddresses + 1);
  CHECK(StatusOf(vitals_test::RawExchange(agent.port(), SymbolRequest(over))) == 413);
  std::string chunked =
      "POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 80; ++i)
    chunked += "8000\r\n" + std::string(0x8000, '+') + "\r\n";  // 2.5 MiB
  chunked += "0\r\n\r\n";
  CHECK(StatusOf(vitals_test::RawExchange(agent.port(), chunked)) == 413);
  CHECK(ScrapeOnce(agent.port()).status == 200);
}

TEST_CASE("two CPU profiles and eight symbol requests in flight: scrapes answer at once",
          "[reliability]") {
  vitals::Options o = Loopback();
  o.profiling = true;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  vitals_test::CpuBurner burner;  // something for the profiler to sample
  std::vector<int> profiles, symbols;
  for (int i = 0; i < 2; ++i) {
    profiles.push_back(ConnectLoopback(agent.port()));
    SendAll(profiles.back(),
            "GET /debug/pprof/profile?seconds=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  // Large answers that this test does not read yet: all eight stay in flight meanwhile.
  const std::string request = SymbolRequest(SymbolBody(vitals::internal::kMaxSymbolAddresses));
  for (int i = 0; i < 8; ++i) {
    symbols.push_back(ConnectLoopback(agent.port()));
    REQUIRE(SendAll(symbols.back(), request));
  }
  REQUIRE(WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  std::chrono::milliseconds worst{0};
  int overlapped = 0;  // scrapes that began and ended with the profile and symbols in flight
  for (int i = 0; i < 5; ++i) {
    const bool before = StillWaiting(symbols.back()) && vitals_test::CpuProfileRunning();
    const Scrape s = ScrapeOnce(agent.port());
    CHECK(s.status == 200);
    worst = std::max(worst, s.took);
    overlapped += before && StillWaiting(symbols.back()) && vitals_test::CpuProfileRunning();
  }
  WARN("worst scrape with 2 profiles and 8 symbol requests in flight: " << worst.count() << " ms");
  CHECK(worst < kScrapeBound);
  CHECK(overlapped > 0);
  // Every symbol request is then answered in full; of the two profiles one ran and one got 409.
  for (int fd : symbols) {
    const std::string reply = ReadUntilClose(fd, 20s);
    CHECK(StatusOf(reply) == 200);
    CHECK(vitals_test::CountLines(vitals_test::BodyOf(reply), "0x") ==
          static_cast<int>(vitals::internal::kMaxSymbolAddresses));
  }
  std::vector<int> statuses;
  for (int fd : profiles) statuses.push_back(StatusOf(ReadUntilClose(fd, 20s)));
  std::sort(statuses.begin(), statuses.end());
  CHECK(statuses == std::vector<int>{200, 409});
  CloseAll(symbols);
  CloseAll(profiles);
}

TEST_CASE("Stop() and the destructor are prompt, 30 cycles in a row", "[reliability]") {
  std::chrono::milliseconds worst{0};
  for (int i = 0; i < 30; ++i) {
    auto agent = std::make_unique<vitals::Agent>(Loopback());
    REQUIRE(agent->Start().ok());
    REQUIRE(ScrapeOnce(agent->port()).status == 200);
    const int idle = ConnectLoopback(agent->port());
    const auto start = Clock::now();
    agent->Stop();
    agent.reset();
    worst = std::max(worst,
                     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
    close(idle);
  }
  WARN("worst Stop() + destructor over 30 cycles: " << worst.count() << " ms");
  CHECK(worst < 1000ms);  // target 100 ms; civetweb took 2,000 ms every time
}

TEST_CASE("Stop() with a profile and symbol requests in flight cancels them: clients get an error",
          "[reliability]") {
  vitals::Options o = Loopback();
  o.profiling = true;
  auto agent = std::make_unique<vitals::Agent>(o);
  REQUIRE(agent->Start().ok());
  vitals_test::CpuBurner burner;
  const int profile = ConnectLoopback(agent->port());
  SendAll(profile, "GET /debug/pprof/profile?seconds=30 HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  std::vector<int> symbols;
  const std::string request = SymbolRequest(SymbolBody(vitals::internal::kMaxSymbolAddresses));
  for (int i = 0; i < 8; ++i) {
    symbols.push_back(ConnectLoopback(agent->port()));
    SendAll(symbols.back(), request);
  }
  const auto start = Clock::now();
  agent.reset();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  WARN("destructor with a profile and 8 symbol requests in flight: " << took.count() << " ms");
  CHECK(took < 3000ms);  // target 1 s
  bool closed = false;
  const std::string reply = ReadUntilClose(profile, 5s, &closed);
  CHECK((StatusOf(reply) == 503 || (reply.empty() && closed)));
  CHECK(closed);
  for (int fd : symbols) {
    bool done = false;
    ReadUntilClose(fd, 5s, &done);
    CHECK(done);  // answered (or cut) and closed, never left hanging
  }
  close(profile);
  CloseAll(symbols);
}

TEST_CASE("a host given SIGTERM during a symbol flood exits promptly", "[reliability]") {
  vitals_test::TempDir dir;
  const int port = vitals_test::FreePort();
  vitals_test::Subprocess demo(
      {vitals_test::BinaryDir() + "/examples/demo_service", "--port=0", "--load-rps=0"},
      {{"VITALS_LISTEN", "127.0.0.1:" + std::to_string(port)}, {"VITALS_PROFILING", "1"}},
      dir.path());
  REQUIRE(demo.WaitForOutput("metrics: http://", 10s));
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::thread> flood;
  const std::string request = SymbolRequest(SymbolBody(20000));
  for (int i = 0; i < 8; ++i) {
    flood.emplace_back([&] {
      while (!stop.load()) {
        const std::string reply = vitals_test::RawExchange(port, request, 5s);
        if (StatusOf(reply) == 200) ++answered;
        if (reply.empty()) std::this_thread::sleep_for(10ms);
      }
    });
  }
  REQUIRE(WaitUntil([&] { return answered.load() >= 8; }));  // the flood is on
  const auto start = Clock::now();
  demo.Signal(SIGTERM);
  const int code = demo.Wait(std::chrono::milliseconds(10000));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  stop.store(true);
  for (auto& t : flood) t.join();
  WARN("demo exit after SIGTERM during a symbol flood: " << took.count() << " ms");
  CHECK(code == 0);
  CHECK(took < 5000ms);  // it used to be still alive 60 s later
}

TEST_CASE("while a 100000-series family renders in a loop, 1000 new threads record at once",
          "[reliability]") {
  vitals::Options o = Loopback();
  o.series_limit = 100000;
  vitals::Agent agent(o);
  auto big = agent.AddCounter("big_total", "Many series.", {"i"});
  REQUIRE(big.ok());
  for (int i = 0; i < 100000; ++i) big->WithLabels({std::to_string(i)})->Increment();
  auto fresh = agent.AddCounter("fresh_total", "First records.")->WithLabels({});
  REQUIRE(fresh.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> renders{0};
  std::thread renderer([&] {
    while (!stop.load()) {
      agent.RenderText();
      ++renders;
    }
  });
  REQUIRE(WaitUntil([&] { return renders.load() >= 1; }));
  int64_t worst_ns = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t ns = 0;
    std::thread([&] {
      const auto start = Clock::now();
      fresh->Increment();  // this thread's first record
      ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    }).join();
    worst_ns = std::max(worst_ns, ns);
  }
  stop.store(true);
  renderer.join();
  WARN("worst first record during renders: " << worst_ns / 1000 << " us over " << renders.load()
                                             << " renders");
  CHECK(fresh->Value() == 1000);
  CHECK(worst_ns < 100'000'000);  // target 1 ms; it waited up to 562 ms for the render's lock
}

TEST_CASE("2000 label values of 100 KB each: memory stays bounded", "[reliability]") {
  vitals::Agent agent(Loopback());
  auto family = agent.AddCounter("huge_total", "Huge label values.", {"v"});
  REQUIRE(family.ok());
  std::string value(100 * 1024, 'v');
  // Heap in use (glibc's count of allocated bytes), not RSS: free memory left by earlier cases
  // would hide growth from RSS.
  const size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 2000; ++i) {
    const std::string prefix = absl::StrFormat("%06d", i);
    value.replace(0, prefix.size(), prefix);
    family->WithLabels({value})->Increment();
  }
  const long grew = static_cast<long>(mallinfo2().uordblks) - static_cast<long>(before);
  WARN("2,000 values of 100 KB: heap +" << grew / 1024 << " KiB");
  CHECK(grew < 40L << 20);  // values are kept cut at 1 KiB: ~3 copies of 2 MB, not 200 MB
  const std::string body = agent.RenderText();
  CHECK(vitals_test::CountLines(body, "huge_total{") == 2000);
}

}  // namespace

namespace quiet {

TEST_CASE("the demo at default settings logs at most 20 lines a minute", "[reliability]") {
  vitals_test::TempDir dir;
  const int port = vitals_test::FreePort();
  vitals_test::Subprocess demo({vitals_test::BinaryDir() + "/examples/demo_service", "--port=0"},
                               {{"VITALS_LISTEN", "127.0.0.1:" + std::to_string(port)}},
                               dir.path());
  REQUIRE(demo.WaitForOutput("metrics: http://", 10s));
  // A full minute of the default load (slow requests, N+1 requests, a leak, cache misses):
  // long enough for every once-a-minute line to have come once and been held back after.
  const auto start = Clock::now();
  std::this_thread::sleep_for(61s);
  REQUIRE(demo.running());
  const std::string log = demo.Stderr();
  // The agent's lines: "<RFC 3339 time> <SEVERITY> <thread> vitals: <message>".
  const std::regex agent_line(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (INFO|WARNING|ERROR) \d+ vitals: )");
  int lines = 0;
  {
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) lines += std::regex_search(line, agent_line);
  }
  WARN("demo log over "
       << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count()
       << " s: " << lines << " lines\n"
       << log);
  CHECK(lines <= 20);
  CHECK(lines >= 1);  // it does report: the N+1 route and the slow tail are there to be seen
  CHECK(log.find("vitals: vitals:") == std::string::npos);  // the prefix appears once
}

}  // namespace quiet
