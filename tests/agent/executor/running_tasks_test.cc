// RunningTasks: the slots a pool's running tasks claim so a scan can find stalls, lock-free.

#include "agent/executor/running_tasks.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace {

using vitals::internal::RunningTasks;

std::vector<RunningTasks::Running> ScanAll(const RunningTasks& tasks) {
  std::vector<RunningTasks::Running> out;
  tasks.Scan([&](const RunningTasks::Running& r) { out.push_back(r); });
  return out;
}

TEST_CASE("running tasks: claim, scan, release", "[executor]") {
  RunningTasks tasks(4);
  const uint32_t a = tasks.Claim(100, "resize");
  const uint32_t b = tasks.Claim(200, std::string(100, 'x'));
  REQUIRE(a != RunningTasks::kNoSlot);
  REQUIRE(b != RunningTasks::kNoSlot);
  CHECK(a != b);
  auto seen = ScanAll(tasks);
  REQUIRE(seen.size() == 2);
  const auto& ra = seen[0].start_nanos == 100 ? seen[0] : seen[1];
  const auto& rb = seen[0].start_nanos == 100 ? seen[1] : seen[0];
  CHECK(ra.name == "resize");
  CHECK(rb.name == std::string(RunningTasks::kMaxNameBytes, 'x'));  // cut
  CHECK(ra.id != rb.id);
  const uint64_t old_id = ra.id;
  tasks.Release(a);
  seen = ScanAll(tasks);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].start_nanos == 200);
  // The same slot again (this thread's hint): a new run, a new id.
  const uint32_t again = tasks.Claim(300, "");
  CHECK(again == a);
  for (const auto& r : ScanAll(tasks)) {
    if (r.start_nanos == 300) {
      CHECK(r.id != old_id);
      CHECK(r.name.empty());
    }
  }
  tasks.Release(RunningTasks::kNoSlot);  // ignored
}

TEST_CASE("running tasks: when every slot is busy a task runs unwatched", "[executor]") {
  RunningTasks tasks(2);
  CHECK(tasks.Claim(1, "a") != RunningTasks::kNoSlot);
  CHECK(tasks.Claim(2, "b") != RunningTasks::kNoSlot);
  CHECK(tasks.Claim(3, "c") == RunningTasks::kNoSlot);
  CHECK(tasks.unwatched() == 1);
  CHECK(ScanAll(tasks).size() == 2);
}

TEST_CASE("running tasks: a scan racing claims and releases never sees a torn task",
          "[executor][concurrency]") {
  RunningTasks tasks(8);
  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      running.fetch_add(1);
      // The name spells the start, so a scan can tell a torn copy. The next name is made
      // while the task runs, so tasks are running most of the time.
      int64_t start = t * 1'000'000'000LL;
      std::string name = absl::StrCat("task-", start);
      while (!stop.load(std::memory_order_relaxed)) {
        const uint32_t slot = tasks.Claim(start, name);
        name = absl::StrCat("task-", ++start);
        tasks.Release(slot);
      }
    });
  }
  while (running.load() < 4) std::this_thread::yield();
  // At least 20,000 scans, and on until 1,000 running tasks were seen (counted, not hoped
  // for: on a loaded machine the workers may not run during the first scans).
  uint64_t seen = 0, torn = 0;
  for (uint64_t round = 0; (round < 20000 || seen < 1000) && round < 500'000'000; ++round) {
    tasks.Scan([&](const RunningTasks::Running& r) {
      ++seen;
      if (r.name != absl::StrCat("task-", r.start_nanos)) ++torn;
    });
    if (round % 1024 == 0) std::this_thread::yield();
  }
  stop = true;
  for (auto& w : workers) w.join();
  CHECK(torn == 0);
  CHECK(seen >= 1000);
  CHECK(tasks.unwatched() == 0);  // 4 threads never fill 8 slots
  CHECK(ScanAll(tasks).empty());
}

}  // namespace
