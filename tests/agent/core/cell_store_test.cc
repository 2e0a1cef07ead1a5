#include "agent/core/cell_store.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "tests/support/fakes.h"
#include "vitals/agent.h"

namespace {

using vitals::internal::CellStore;

TEST_CASE("counts from many threads add up exactly", "[cells][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto family = agent.AddCounter("work_total", "Work done.", {"kind"});
  REQUIRE(family.ok());
  auto counter = family->WithLabels({"a"});
  REQUIRE(counter.ok());
  auto hist = agent.AddHistogram("work_seconds", "Work time.", {0.1, 1});
  REQUIRE(hist.ok());
  auto h = hist->WithLabels({});
  REQUIRE(h.ok());

  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter->Increment();
        h->Observe((i % 3) * 0.5);  // 0, 0.5, 1.0
      }
      (void)t;
    });
  }
  // Scrape while they write: values only ever grow and the body stays well-formed.
  double last = 0;
  for (int i = 0; i < 20; ++i) {
    double v = counter->Value();
    REQUIRE(v >= last);
    last = v;
  }
  for (auto& t : threads) t.join();  // threads exit: their arenas keep their values
  REQUIRE(counter->Value() == kThreads * kPerThread);
  REQUIRE(h->Count() == uint64_t{kThreads} * kPerThread);
  // Each thread observed 0, 0.5, 1.0 in turn; 100000 = 33334 + 33333 + 33333.
  REQUIRE(h->Sum() == Approx(kThreads * (33333 * 0.5 + 33333 * 1.0)));
}

TEST_CASE("values of exited threads survive, and new threads keep adding", "[cells][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto c = agent.AddGauge("level", "A level.")->WithLabels({});
  REQUIRE(c.ok());
  for (int round = 0; round < 50; ++round) {
    std::thread([&] {
      c->Add(2);
      c->Add(-1);
    }).join();
  }
  REQUIRE(c->Value() == 50);
  c->Set(7);
  std::thread([&] { c->Increment(); }).join();
  REQUIRE(c->Value() == 8);
}

TEST_CASE("freed cells are zeroed before reuse", "[cells]") {
  CellStore& store = CellStore::Get();
  int64_t base = store.Allocate(4);
  REQUIRE(base >= 0);
  vitals::internal::AddF64(vitals::internal::ThreadCell(base + 2), 5.0);
  REQUIRE(store.ReadF64(base + 2) == 5.0);
  store.Free(base, 4);
  int64_t again = store.Allocate(4);
  REQUIRE(again == base);
  REQUIRE(store.ReadF64(again + 2) == 0.0);
  store.Free(again, 4);
}

TEST_CASE("a range never straddles a chunk", "[cells]") {
  CellStore& store = CellStore::Get();
  std::vector<int64_t> got;
  for (int i = 0; i < 40; ++i) {
    int64_t b = store.Allocate(100);
    REQUIRE(b >= 0);
    REQUIRE((b >> vitals::internal::kChunkShift) == ((b + 99) >> vitals::internal::kChunkShift));
    got.push_back(b);
  }
  for (int64_t b : got) store.Free(b, 100);
  REQUIRE(store.Allocate(0) == -1);
  REQUIRE(store.Allocate(vitals::internal::kChunkCells + 1) == -1);
}

// A render that is stopped in the middle of a family (by its own callback) must not stop a
// thread that records for the first time, exits, or creates a series. Were any of those to
// take a lock the render holds, this test would time out instead of passing.
TEST_CASE("a first record, a thread exit and a new series never wait for a render",
          "[cells][concurrency]") {
  vitals::internal::Registry registry(100000);
  auto family = registry.GetOrCreate("render_total", "Rendered.",
                                     vitals::internal::MetricType::kCounter, {"i"}, {});
  REQUIRE(family.ok());
  for (int i = 0; i < 1000; ++i) {
    const std::string v = std::to_string(i);
    const absl::string_view view = v;
    (*family)->Find(absl::MakeConstSpan(&view, 1));
  }
  const absl::string_view first = "0";
  vitals::Counter counter = vitals::internal::Family::MakeHandle<vitals::Counter>(
      (*family)->Find(absl::MakeConstSpan(&first, 1)));

  std::mutex mu;
  std::condition_variable cv;
  bool in_render = false, recorded = false, release = false;
  std::thread renderer([&] {
    bool once = false;
    (*family)->Visit([&](const vitals::internal::Series&, const double*) {
      if (once) return;
      once = true;
      std::unique_lock<std::mutex> lock(mu);
      in_render = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return in_render; }));
  }
  std::thread newcomer([&] {
    counter.Increment();  // this thread's first record: claims an arena
    const absl::string_view fresh = "created-during-render";
    (*family)->Find(absl::MakeConstSpan(&fresh, 1));   // a new series
    std::thread([&] { counter.Increment(); }).join();  // a record and an exit
    std::lock_guard<std::mutex> lock(mu);
    recorded = true;
    cv.notify_all();
  });
  bool finished;
  {
    std::unique_lock<std::mutex> lock(mu);
    finished = cv.wait_for(lock, std::chrono::seconds(10), [&] { return recorded; });
    release = true;
    cv.notify_all();
  }
  newcomer.join();
  renderer.join();
  CHECK(finished);
  CHECK(counter.Value() == 2);
}

TEST_CASE("short-lived threads reuse arenas and their totals stay exact", "[cells][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto c = agent.AddCounter("short_total", "Short threads.")->WithLabels({});
  REQUIRE(c.ok());
  std::thread([&] { c->Increment(); }).join();  // make sure one free arena exists
  const size_t before = CellStore::Get().arena_count();
  for (int i = 0; i < 2000; ++i) {
    std::thread([&] { c->Increment(); }).join();
  }
  CHECK(c->Value() == 2001);
  // One thread at a time: the same few arenas serve them all (others may be alive in the
  // test binary, hence a small allowance, not 2000).
  CHECK(CellStore::Get().arena_count() <= before + 2);
}

}  // namespace
