#include "agent/process/thread_cpu.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "tests/support/fakes.h"
#include "tests/support/process.h"

namespace {

using vitals::internal::ThreadCpu;

// A /proc with threads under self/task, their CPU time in clock ticks.
struct FakeProc {
  vitals_test::TempDir root;
  void Thread(int tid, const std::string& name, uint64_t utime, uint64_t stime) {
    std::filesystem::create_directories(root.path() + "/self/task/" + std::to_string(tid));
    vitals_test::WriteFile(root.path() + "/self/task/" + std::to_string(tid) + "/stat",
                           std::to_string(tid) + " (" + name + ") S 1 1 1 0 -1 0 0 0 0 0 " +
                               std::to_string(utime) + " " + std::to_string(stime) +
                               " 0 0 20 0 1 0 100 1000 10 0\n");
  }
};

TEST_CASE("the busiest threads are the ones whose CPU time grew most since the last look",
          "[threads]") {
  FakeProc proc;
  proc.Thread(10, "main", 500, 100);  // the most CPU since start, idle from here on
  proc.Thread(11, "db-writer", 10, 0);
  proc.Thread(12, "spinner (hot)", 20, 5);
  vitals_test::FakeClock clock;
  ThreadCpu::Config config;
  config.proc_root = proc.root.path();
  config.top = 2;
  ThreadCpu threads(config, &clock);
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));

  ThreadCpu::Look first = threads.Take();
  CHECK(first.count == 3);
  CHECK(first.window_seconds == 0);  // no earlier look: no shares yet
  REQUIRE(first.busiest.size() == 2);
  CHECK(first.busiest[0].tid == 10);  // by CPU since start, then
  CHECK(first.busiest[0].cpu_seconds == Approx(600 * tick));

  // Two seconds later the spinner used 1.5 CPU-seconds more, db-writer a little.
  const auto ticks = [&](double seconds) { return static_cast<uint64_t>(seconds / tick + 0.5); };
  proc.Thread(12, "spinner (hot)", 20 + ticks(1.0), 5 + ticks(0.5));
  proc.Thread(11, "db-writer", 10 + ticks(0.2), 0);
  clock.AdvanceMs(2000);
  ThreadCpu::Look second = threads.Take();
  CHECK(second.window_seconds == Approx(2.0));
  REQUIRE(second.busiest.size() == 2);
  CHECK(second.busiest[0].tid == 12);
  CHECK(second.busiest[0].name == "spinner (hot)");  // a name with parentheses and spaces
  CHECK(second.busiest[0].cpu_share == Approx(0.75).epsilon(0.02));
  CHECK(second.busiest[1].tid == 11);
  CHECK(second.busiest[1].cpu_share == Approx(0.1).epsilon(0.05));
}

TEST_CASE("looks closer together than the window answer the previous look", "[threads]") {
  FakeProc proc;
  proc.Thread(10, "main", 5, 0);
  vitals_test::FakeClock clock;
  ThreadCpu::Config config;
  config.proc_root = proc.root.path();
  ThreadCpu threads(config, &clock);
  CHECK(threads.Take().count == 1);
  proc.Thread(11, "new", 0, 0);
  clock.AdvanceMs(500);
  CHECK(threads.Take().count == 1);  // the same answer: within min_window (1 s)
  clock.AdvanceMs(600);
  CHECK(threads.Take().count == 2);
}

TEST_CASE("past max_threads the threads are counted but not read, and a bad stat is skipped",
          "[threads]") {
  FakeProc proc;
  for (int tid = 10; tid < 20; ++tid) proc.Thread(tid, "w", 1, 0);
  std::filesystem::create_directories(proc.root.path() + "/self/task/20");
  vitals_test::WriteFile(proc.root.path() + "/self/task/20/stat", "garbage");
  vitals_test::FakeClock clock;
  ThreadCpu::Config config;
  config.proc_root = proc.root.path();
  config.max_threads = 4;
  config.top = 100;
  ThreadCpu::Look look = ThreadCpu(config, &clock).Take();
  CHECK(look.count == 11);
  CHECK(look.busiest.size() == 4);
  config.max_threads = 100;
  look = ThreadCpu(config, &clock).Take();
  CHECK(look.busiest.size() == 10);  // the garbage one is left out

  config.proc_root = proc.root.path() + "/missing";
  look = ThreadCpu(config, &clock).Take();
  CHECK(look.count == 0);
  CHECK(look.busiest.empty());
}

}  // namespace
