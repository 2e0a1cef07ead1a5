// The agent's endpoint under held connections and long handlers, its Stop() time, and how long
// a thread's first record waits while a large family renders. A plain program (not Google
// Benchmark): each figure is a latency under a condition, printed as a BENCHMARKS.md table.
//
//   endpoint_bench [--quick]

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "agent/profiling/profiler.h"
#include "examples/cpu_work.h"
#include "tests/support/fixtures.h"
#include "tests/support/profiler_state.h"
#include "tests/support/sockets.h"
#include "vitals/agent.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

vitals::Options Loopback() { return vitals_test::LoopbackOptions(); }

// Median and worst of `n` scrapes, each on a new connection, whole body read.
std::pair<double, double> Scrapes(int port, int n) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    const std::string reply = vitals_test::RawExchange(
        port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (vitals_test::StatusOf(reply) != 200) std::fprintf(stderr, "scrape failed\n");
    ms.push_back(Ms(Clock::now() - start));
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.back()};
}

void Row(const char* what, std::pair<double, double> r, const char* target) {
  std::printf("| %s | %.2f ms | %.2f ms | %s |\n", what, r.first, r.second, target);
}

void HeldConnections(int n, bool slow_header) {
  vitals::Agent agent(Loopback());
  if (!agent.Start().ok()) return;
  std::vector<int> held;
  for (int i = 0; i < n; ++i) {
    const int fd = vitals_test::ConnectLoopback(agent.port());
    if (slow_header) vitals_test::SendAll(fd, "GET /metrics HTTP/1.1\r\nHo");
    held.push_back(fd);
  }
  // Let the server accept them all before measuring.
  for (int i = 0; i < 400; ++i) {
    if (agent.RenderText().find(absl::StrFormat("vitals_http_connections %d\n", n)) !=
        std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::string what = absl::StrFormat("scrape with %d %s connections held", n,
                                           slow_header ? "slow-header" : "idle");
  Row(what.c_str(), Scrapes(agent.port(), 50), "<= 100 ms");
  for (int fd : held) close(fd);
}

void LongHandlers() {
  vitals::Options o = Loopback();
  o.profiling = true;
  vitals::Agent agent(o);
  if (!agent.Start().ok()) return;
  vitals_test::CpuBurner burner;
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(vitals_test::ConnectLoopback(agent.port()));
    vitals_test::SendAll(held.back(), "GET /debug/pprof/profile?seconds=5 HTTP/1.1\r\n\r\n");
  }
  std::string body;
  const auto fn = reinterpret_cast<uintptr_t>(&demo::CpuHeavyWork);
  for (int i = 0; i < 65536; ++i) absl::StrAppendFormat(&body, "0x%x+", fn + i % 64);
  for (int i = 0; i < 8; ++i) {
    held.push_back(vitals_test::ConnectLoopback(agent.port()));
    vitals_test::SendAll(held.back(), absl::StrFormat("POST /debug/pprof/symbol HTTP/1.1\r\n"
                                                      "Content-Length: %d\r\n\r\n%s",
                                                      body.size(), body));
  }
  Row("scrape with 2 CPU profiles and 8 symbol requests (65,536 addresses) in flight",
      Scrapes(agent.port(), 50), "<= 100 ms");
  for (int fd : held) close(fd);
}

void StopTimes() {
  std::vector<double> idle, busy;
  for (int i = 0; i < 30; ++i) {
    auto agent = std::make_unique<vitals::Agent>(Loopback());
    if (!agent->Start().ok()) return;
    const int fd = vitals_test::ConnectLoopback(agent->port());
    const auto start = Clock::now();
    agent.reset();
    idle.push_back(Ms(Clock::now() - start));
    close(fd);
  }
  vitals_test::CpuBurner burner;
  for (int i = 0; i < 5; ++i) {
    vitals::Options o = Loopback();
    o.profiling = true;
    auto agent = std::make_unique<vitals::Agent>(o);
    if (!agent->Start().ok()) return;
    const int fd = vitals_test::ConnectLoopback(agent->port());
    vitals_test::SendAll(fd, "GET /debug/pprof/profile?seconds=30 HTTP/1.1\r\n\r\n");
    vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); });
    const auto start = Clock::now();
    agent.reset();
    busy.push_back(Ms(Clock::now() - start));
    close(fd);
  }
  std::sort(idle.begin(), idle.end());
  std::sort(busy.begin(), busy.end());
  Row("Stop() + destructor, an idle connection open (30 cycles)",
      {idle[idle.size() / 2], idle.back()}, "<= 100 ms");
  Row("Stop() + destructor during a 30 s CPU profile (5 cycles)",
      {busy[busy.size() / 2], busy.back()}, "<= 1 s");
}

void SymbolLookups() {
  std::string body;
  const auto fn = reinterpret_cast<uintptr_t>(&demo::CpuHeavyWork);
  for (int i = 0; i < 65536; ++i) absl::StrAppendFormat(&body, "0x%x+", fn + i % 4096);
  auto start = Clock::now();
  auto first = vitals::internal::SymbolizeForPprof(body, nullptr);  // builds the table
  const double first_ms = Ms(Clock::now() - start);
  start = Clock::now();
  auto again = vitals::internal::SymbolizeForPprof(body, nullptr);
  const double again_us = Ms(Clock::now() - start) * 1000 / 65536;
  if (!first.ok() || !again.ok()) return;
  std::printf("| symbol request of 65,536 addresses: first (builds the table) | %.1f ms | | |\n",
              first_ms);
  std::printf("| symbol request of 65,536 addresses, per address | %.2f us | | <= 50 us |\n",
              again_us);
}

void FirstRecordDuringRender(int series) {
  vitals::Options o = Loopback();
  o.series_limit = series;
  vitals::Agent agent(o);
  auto big = agent.AddCounter("big_total", "Many series.", {"i"});
  for (int i = 0; i < series; ++i) big->WithLabels({std::to_string(i)})->Increment();
  auto fresh = agent.AddCounter("fresh_total", "First records.")->WithLabels({});
  std::atomic<bool> stop{false};
  std::atomic<int> renders{0};
  std::thread renderer([&] {
    while (!stop.load()) {
      agent.RenderText();
      ++renders;
    }
  });
  while (renders.load() == 0) std::this_thread::yield();
  std::vector<double> us;
  for (int i = 0; i < 1000; ++i) {
    double t = 0;
    std::thread([&] {
      const auto start = Clock::now();
      fresh->Increment();
      t = Ms(Clock::now() - start) * 1000;
    }).join();
    us.push_back(t);
  }
  stop.store(true);
  renderer.join();
  std::sort(us.begin(), us.end());
  std::printf(
      "| first record of 1,000 new threads while a %d-series family renders (%d renders) "
      "| %.1f us | %.1f us | <= 1 ms |\n",
      series, renders.load(), us[us.size() / 2], us.back());
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (!vitals_test::RaiseFdLimit(4096)) std::fprintf(stderr, "cannot raise the fd limit\n");
  std::printf("| condition | median | worst | target |\n|---|---|---|---|\n");
  for (int n : {0, 100, 1000}) {
    if (quick && n > 100) break;
    HeldConnections(n, false);
  }
  HeldConnections(quick ? 10 : 1000, true);
  if (!quick) LongHandlers();
  StopTimes();
  SymbolLookups();
  FirstRecordDuringRender(quick ? 1000 : 100000);
  return 0;
}
