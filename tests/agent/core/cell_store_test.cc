#include "agent/core/cell_store.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "tests/support/agent_internals.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
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

  constexpr int kThreads = 32;  // many more than CPUs: records are preempted mid-add
  constexpr int kPerThread = 50000;
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
  for (auto& t : threads) t.join();  // threads exit: their records stay in the CPU copies
  REQUIRE(counter->Value() == kThreads * kPerThread);
  REQUIRE(h->Count() == uint64_t{kThreads} * kPerThread);
  // Each thread observed 0, 0.5, 1.0 in turn; 50000 = 16667 + 16667 + 16666.
  REQUIRE(h->Sum() == Approx(kThreads * (16667 * 0.5 + 16666 * 1.0)));
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
  vitals::internal::AddToCell(base + 2, 5.0);
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
    counter.Increment();  // this thread's first record
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

TEST_CASE("short-lived threads cost nothing and their totals stay exact", "[cells][concurrency]") {
  CellStore& store = CellStore::Get();  // the store itself: no agent thread records meanwhile
  const int64_t base = store.Allocate(1);
  REQUIRE(base >= 0);
  std::thread([&] { vitals::internal::AddToCell(base, 1.0); }).join();  // allocates the chunk
  const size_t chunks = store.chunk_count();
  for (int i = 0; i < 5000; ++i) {
    std::thread([&] { vitals::internal::AddToCell(base, 1.0); }).join();
  }
  CHECK(store.ReadF64(base) == 5001);
  // Cells belong to CPUs, not threads: 5,000 threads that came and went allocated nothing.
  CHECK(store.chunk_count() == chunks);
  store.Free(base, 1);
}

TEST_CASE("2,000 live threads record exactly into cells that do not grow with them", "[cells]") {
  // The store itself, not an agent: an agent's own threads could record into a new chunk
  // meanwhile and blur what is measured.
  CellStore& store = CellStore::Get();
  constexpr uint32_t kCells = 200;
  const int64_t base = store.Allocate(kCells);
  REQUIRE(base >= 0);
  vitals::internal::AddToCell(base, 1.0);  // allocates the chunk
  const size_t chunks = store.chunk_count();

  constexpr int kThreads = 2000;
  std::mutex mu;
  std::condition_variable cv;
  int recorded = 0;
  bool release = false;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (uint32_t i = 0; i < kCells; ++i) vitals::internal::AddToCell(base + i, 1.0);
      std::unique_lock<std::mutex> lock(mu);
      ++recorded;
      cv.notify_all();
      // Stay alive until every thread recorded (bounded: the main thread releases them, or
      // gives up, within its own deadline).
      cv.wait_for(lock, std::chrono::seconds(120), [&] { return release; });
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    const bool all =
        cv.wait_for(lock, std::chrono::seconds(60), [&] { return recorded == kThreads; });
    if (!all) {  // release the ones that did, and fail
      release = true;
      cv.notify_all();
      lock.unlock();
      for (auto& t : threads) t.join();
      FAIL("only " << recorded << " of " << kThreads << " threads recorded within 60 s");
    }
    // All 2,000 alive at once: the totals are exact and no cell memory was added for them.
    double total = 0;
    for (uint32_t i = 0; i < kCells; ++i) total += store.ReadF64(base + i);
    CHECK(total == double{kThreads} * kCells + 1);
    CHECK(store.chunk_count() == chunks);
    release = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  store.Free(base, kCells);
}

TEST_CASE("rseq is used unless glibc's tunable turns it off", "[cells]") {
#ifdef VITALS_HAVE_RSEQ
  const bool expect_rseq = std::getenv("EXPECT_NO_RSEQ") == nullptr;
#else
  const bool expect_rseq = false;
#endif
  CHECK(CellStore::Get().rseq_active() == expect_rseq);
  // One copy per present CPU and one fallback stripe with rseq; without it, no CPU copies and
  // twice as many stripes as CPUs (at least 4, at most 512).
  const uint32_t present = vitals::internal::CpuCopiesFromList(
      vitals_test::ReadFile("/sys/devices/system/cpu/present"), 1);
  CHECK(CellStore::Get().copies() ==
        (expect_rseq ? present + 1 : std::clamp<uint32_t>(2 * present, 4, 512)));
}

// The CPUs this process may run on.
std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;  // 0: the calling thread
}

TEST_CASE("a record lands in the copy of the CPU it runs on", "[cells]") {
  CellStore& store = CellStore::Get();
  const int64_t base = store.Allocate(1);
  REQUIRE(base >= 0);
  const std::vector<int> cpus = AllowedCpus();
  REQUIRE(!cpus.empty());
  std::thread([&] {
    for (size_t i = 0; i < cpus.size(); ++i) {
      REQUIRE(PinTo(cpus[i]));
      vitals::internal::AddToCell(base, static_cast<double>(i + 1));
    }
  }).join();
  double total = 0;
  for (size_t i = 0; i < cpus.size(); ++i) total += static_cast<double>(i + 1);
  CHECK(store.ReadF64(base) == total);
  if (store.rseq_active()) {
    // Each CPU's record sits in that CPU's own copy; the fallback stripe stays empty.
    for (size_t i = 0; i < cpus.size(); ++i) {
      CHECK(store.ReadCopy(base, cpus[i]) == static_cast<double>(i + 1));
    }
    CHECK(store.ReadCopy(base, store.copies() - 1) == 0);
  } else {
    // Without rseq one thread keeps to one fallback stripe wherever it runs.
    int stripes_used = 0;
    for (uint32_t copy = 0; copy < store.copies(); ++copy) {
      if (store.ReadCopy(base, copy) != 0) ++stripes_used;
    }
    CHECK(stripes_used == 1);
  }
  store.Free(base, 1);
}

TEST_CASE("threads moved between CPUs while they record keep exact totals",
          "[cells][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto c = agent.AddCounter("moved_total", "Moved.")->WithLabels({});
  auto h = agent.AddHistogram("moved_seconds", "Moved.", {0.5})->WithLabels({});
  REQUIRE(c.ok());
  REQUIRE(h.ok());
  CellStore& store = CellStore::Get();
  const int64_t cell = store.Allocate(1);  // recorded into beside them, to see where adds land
  REQUIRE(cell >= 0);
  const std::vector<int> cpus = AllowedCpus();
  INFO("this test moves threads between CPUs: it needs at least two (it has " << cpus.size()
                                                                              << ")");
  REQUIRE(cpus.size() >= 2);
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  constexpr int kPerRound = 500;
  std::atomic<int> migrations{0};
  std::atomic<int> multi_cpu_threads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<bool> ran_on(CPU_SETSIZE, false);
      for (int r = 0; r < kRounds; ++r) {
        // Move to the next CPU: the kernel migrates the thread, mid-stream of records.
        if (PinTo(cpus[(t + r) % cpus.size()])) migrations.fetch_add(1);
        const int now = sched_getcpu();
        if (now >= 0 && now < CPU_SETSIZE) ran_on[now] = true;
        for (int i = 0; i < kPerRound; ++i) {
          c->Increment();
          h->Observe(i % 2);  // 0 and 1: one per bucket, sum += 1 every other call
          vitals::internal::AddToCell(cell, 1.0);
        }
      }
      if (std::count(ran_on.begin(), ran_on.end(), true) >= 2) multi_cpu_threads.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  // The moves happened: every thread ran on at least two CPUs, and with rseq its adds landed
  // in at least two CPUs' copies.
  CHECK(migrations.load() == kThreads * kRounds);
  CHECK(multi_cpu_threads.load() == kThreads);
  if (store.rseq_active()) {
    int copies_used = 0;
    for (int cpu : cpus) copies_used += store.ReadCopy(cell, static_cast<uint32_t>(cpu)) > 0;
    CHECK(copies_used >= 2);
  }
  constexpr double kTotal = double{kThreads} * kRounds * kPerRound;
  CHECK(store.ReadF64(cell) == kTotal);
  CHECK(c->Value() == kTotal);
  CHECK(h->Count() == static_cast<uint64_t>(kTotal));
  CHECK(h->Sum() == kTotal / 2);
  store.Free(cell, 1);
}

std::atomic<int> g_handled{0};
vitals::Counter g_signal_counter;

void RecordFromSignal(int) {
  g_signal_counter.Increment();
  g_handled.fetch_add(1, std::memory_order_release);
}

TEST_CASE("a signal handler recording into the cell a thread is adding to loses nothing",
          "[cells][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto c = agent.AddCounter("signalled_total", "Signalled.")->WithLabels({});
  REQUIRE(c.ok());
  g_signal_counter = *c;
  g_handled.store(0);
  struct sigaction action = {}, previous = {};
  action.sa_handler = &RecordFromSignal;
  sigemptyset(&action.sa_mask);
  REQUIRE(sigaction(SIGUSR1, &action, &previous) == 0);

  std::atomic<bool> stop{false}, started{false};
  std::atomic<long> loop_adds{0};
  std::thread adder([&] {
    long n = 0;
    started.store(true);
    while (!stop.load(std::memory_order_relaxed)) {
      c->Increment();
      ++n;
    }
    loop_adds.store(n);
  });
  constexpr int kSignals = 2000;
  bool all_handled = vitals_test::WaitUntil([&] { return started.load(); });
  for (int i = 0; i < kSignals && all_handled; ++i) {
    all_handled = pthread_kill(adder.native_handle(), SIGUSR1) == 0;
    // One signal at a time: the next is sent once this one was handled (counted, not slept;
    // a signal not handled within 10 s is a failure, not a hang).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (all_handled && g_handled.load(std::memory_order_acquire) != i + 1) {
      std::this_thread::yield();
      all_handled = std::chrono::steady_clock::now() < deadline;
    }
  }
  stop.store(true);
  adder.join();
  REQUIRE(all_handled);
  sigaction(SIGUSR1, &previous, nullptr);
  CHECK(g_handled.load() == kSignals);
  CHECK(c->Value() == static_cast<double>(loop_adds.load() + kSignals));
  g_signal_counter = vitals::Counter();
}

TEST_CASE("scrapes while threads record see growing values and exact totals",
          "[cells][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto c = agent.AddCounter("scraped_total", "Scraped.")->WithLabels({});
  REQUIRE(c.ok());
  constexpr int kWriters = 6;
  constexpr int kPerWriter = 200000;
  std::atomic<int> writers_done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerWriter; ++i) c->Increment();
      writers_done.fetch_add(1);
    });
  }
  std::atomic<int> scrapes{0}, regressions{0};
  std::vector<std::thread> scrapers;
  for (int s = 0; s < 2; ++s) {
    scrapers.emplace_back([&] {
      double last = 0;
      do {
        const std::string text = agent.RenderText();
        const size_t at = text.find("\nscraped_total ");
        if (at == std::string::npos) {
          regressions.fetch_add(1);
          return;
        }
        const double v = std::strtod(text.c_str() + at + 15, nullptr);
        if (v < last) regressions.fetch_add(1);
        last = v;
        scrapes.fetch_add(1);
      } while (writers_done.load() < kWriters);
    });
  }
  for (auto& t : threads) t.join();
  for (auto& t : scrapers) t.join();
  CHECK(scrapes.load() >= 2);
  CHECK(regressions.load() == 0);
  CHECK(c->Value() == double{kWriters} * kPerWriter);
}

bool PerCpu(const vitals::internal::SeriesCells& s) { return s.cpu0.load() != nullptr; }

vitals::HistogramFeatures NativeOn() {
  vitals::HistogramFeatures f;
  f.native = true;
  return f;
}

TEST_CASE("a series starts shared and moves to per-CPU cells once written often", "[cells]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  vitals::Counter c = *agent.AddCounter("forms_total", "Forms.")->WithLabels({});
  vitals::Histogram h =
      *agent.AddHistogram("forms_seconds", "Forms.", {0.1, 1}, {}, NativeOn())->WithLabels({});
  vitals::internal::Series* cs = vitals_test::SeriesNamed(agent, "forms_total");
  vitals::internal::Series* hs = vitals_test::SeriesNamed(agent, "forms_seconds");
  REQUIRE(cs != nullptr);
  REQUIRE(hs != nullptr);
  CHECK_FALSE(PerCpu(*cs));
  CHECK_FALSE(PerCpu(*hs));
  // 50 rounds are 150 shared records of this thread (an observe with native buckets is two):
  // at most three votes (one in 64) among them, so both stay shared.
  for (int i = 0; i < 50; ++i) {
    c.Increment();
    h.Observe(0.5);
  }
  CHECK_FALSE(PerCpu(*cs));
  CHECK_FALSE(PerCpu(*hs));
  CHECK(c.Value() == 50);
  CHECK(h.Count() == 50);
  // 370 more rounds cast 17 or more votes, turn and turn about (64 is not a multiple of 3):
  // at least four each, so both move (to the fallback stripes where rseq is off).
  for (int i = 0; i < 370; ++i) {
    c.Increment(2);
    h.Observe(0.05);
  }
  CHECK(PerCpu(*cs));
  CHECK(PerCpu(*hs));
  for (int i = 0; i < 1000; ++i) {
    c.Increment();
    h.Observe(2);
  }
  // Nothing moved between the forms: each holds what was recorded while it was the one used.
  CHECK(c.Value() == 50 + 740 + 1000);
  CHECK(h.Count() == 1420);
  CHECK(h.Sum() == Approx(50 * 0.5 + 370 * 0.05 + 1000 * 2.0));
  const std::string body = agent.RenderText();
  CHECK(body.find("forms_seconds_bucket{le=\"0.1\"} 370\n") != std::string::npos);
  CHECK(body.find("forms_seconds_bucket{le=\"1\"} 420\n") != std::string::npos);
  CHECK(body.find("forms_seconds_count 1420\n") != std::string::npos);
  CHECK(body.find("forms_total 1790\n") != std::string::npos);
}

TEST_CASE("the per-CPU memory limit bounds promotion: the rest stay shared and exact", "[cells]") {
  CellStore& store = CellStore::Get();
  vitals::Options o = vitals_test::QuietOptions();
  o.per_cpu_memory_mib = 0;  // nothing more may move
  vitals::Agent agent(o);
  CHECK(store.per_cpu_limit() == 0);
  auto family = agent.AddHistogram("bounded_seconds", "Bounded.", {0.1, 1}, {"i"});
  std::vector<vitals::Histogram> hs;
  std::vector<vitals::internal::Series*> series;
  for (int i = 0; i < 5; ++i) {
    hs.push_back(*family->WithLabels({std::to_string(i)}));
    series.push_back(vitals_test::SeriesNamed(agent, "bounded_seconds", {std::to_string(i)}));
    REQUIRE(series.back() != nullptr);
  }
  for (int r = 0; r < 1000; ++r) hs[0].Observe(0.5);
  CHECK_FALSE(PerCpu(*series[0]));
  CHECK(hs[0].Count() == 1000);
  // Room for three more such series: the first three written often move, the others stay.
  store.SetPerCpuLimit(store.promoted_bytes() + 3 * store.PerCpuBytes(*series[0]));
  for (int i = 0; i < 5; ++i) {
    for (int r = 0; r < 1000; ++r) hs[i].Observe(0.05);
  }
  int per_cpu = 0;
  for (auto* s : series) per_cpu += PerCpu(*s) ? 1 : 0;
  CHECK(store.promoted_bytes() <= store.per_cpu_limit());
  // The agent's own series may take a share of the room meanwhile; never more than it has.
  CHECK(per_cpu >= 1);
  CHECK(per_cpu <= 3);
  CHECK_FALSE(PerCpu(*series[4]));
  for (int i = 0; i < 5; ++i) CHECK(hs[i].Count() == (i == 0 ? 2000 : 1000));
  store.SetPerCpuLimit(vitals::internal::kDefaultPerCpuLimitBytes);
}

TEST_CASE("totals stay exact while writers race scrapes and the move to per-CPU cells",
          "[cells][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  vitals::Counter c = *agent.AddCounter("moving_total", "Moving.")->WithLabels({});
  vitals::Histogram h =
      *agent.AddHistogram("moving_seconds", "Moving.", {0.1, 1}, {}, NativeOn())->WithLabels({});
  vitals::internal::Series* hs = vitals_test::SeriesNamed(agent, "moving_seconds");
  REQUIRE(hs != nullptr);
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 20000;
  std::atomic<int> ready{0}, done{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&] {
      ready.fetch_add(1);
      while (!go.load()) {
      }
      for (int i = 0; i < kPerWriter; ++i) {
        c.Increment();
        h.Observe(i % 2 == 0 ? 0.05 : 0.5);
      }
      done.fetch_add(1);
    });
  }
  std::atomic<int> regressions{0}, scrapes{0};
  std::thread scraper([&] {
    double last_count = 0, last_total = 0;
    while (done.load() < kWriters) {
      const std::string body = agent.RenderText();
      const double count = vitals_test::SampleValue(body, "moving_seconds_count");
      const double total = vitals_test::SampleValue(body, "moving_total");
      if (count < last_count || total < last_total) regressions.fetch_add(1);
      last_count = count;
      last_total = total;
      scrapes.fetch_add(1);
    }
  });
  while (ready.load() < kWriters) {
  }
  go = true;  // every writer starts on the shared form at once
  for (auto& w : writers) w.join();
  scraper.join();
  CHECK(regressions.load() == 0);
  CHECK(scrapes.load() >= 1);
  CHECK(PerCpu(*hs));
  CHECK(c.Value() == double{kWriters} * kPerWriter);
  CHECK(h.Count() == uint64_t{kWriters} * kPerWriter);
  CHECK(h.Sum() == Approx(kWriters * kPerWriter / 2 * 0.55));
  const std::string body = agent.RenderText();
  CHECK(vitals_test::SampleValue(body, "moving_seconds_bucket{le=\"0.1\"}") ==
        kWriters * kPerWriter / 2);
}

TEST_CASE("the CPU count comes from the kernel's present list", "[cells]") {
  using vitals::internal::CpuCopiesFromList;
  CHECK(CpuCopiesFromList("0-1\n", 7) == 2);
  CHECK(CpuCopiesFromList("0", 7) == 1);
  CHECK(CpuCopiesFromList("0-3,8-11", 7) == 12);
  CHECK(CpuCopiesFromList("0,2,5", 7) == 6);
  CHECK(CpuCopiesFromList("0-100000", 7) == vitals::internal::kMaxCpus);
  CHECK(CpuCopiesFromList("", 7) == 7);
  CHECK(CpuCopiesFromList("x-1", 7) == 7);
  CHECK(CpuCopiesFromList("3-1", 7) == 7);
}

TEST_CASE("a bigger host can be emulated only before the store is used", "[cells]") {
  const uint32_t copies = vitals::internal::CellStore::Get().copies();  // in use from here
  CHECK(!vitals::internal::EmulateCpusForBenchmark(96));
  CHECK(vitals::internal::CellStore::Get().copies() == copies);
  CHECK(!vitals::internal::EmulateCpusForBenchmark(0));
}

}  // namespace

namespace {

TEST_CASE_METHOD(vitals_test::ClockAndLog,
                 "the per-CPU cells' use and limit are metrics, and a full store says so once",
                 "[cells]") {
  vitals::internal::CellStore& store = vitals::internal::CellStore::Get();
  {
    vitals::Agent agent(Options());  // per_cpu_memory_mib 16: room to spare
    const std::string body = agent.RenderText();
    CHECK(vitals_test::SampleValue(body, "vitals_per_cpu_memory_limit_bytes") == 16 << 20);
    CHECK(vitals_test::SampleValue(body, "vitals_per_cpu_memory_bytes") ==
          static_cast<double>(store.promoted_bytes()));
    CHECK_FALSE(sink->Contains("per-CPU cells are full"));
  }
  vitals::Options o = Options();
  o.per_cpu_memory_mib = 0;  // no room: the first series written often cannot move
  vitals::Agent agent(o);
  const vitals::Counter busy = *agent.GetCounter("busy_total", "Busy.", {{"k", "v"}});
  for (int i = 0; i < 100000 && !store.per_cpu_full(); ++i) busy.Increment();
  REQUIRE(store.per_cpu_full());
  const std::string body = agent.RenderText();
  CHECK(vitals_test::SampleValue(body, "vitals_per_cpu_memory_limit_bytes") == 0);
  CHECK(vitals_test::SampleValue(body, "busy_total{k=\"v\"}") == busy.Value());  // still exact
  agent.RenderText();
  const std::vector<std::string> lines = sink->lines();
  CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
          return l.find("per-CPU cells are full") != std::string::npos;
        }) == 1);
}

}  // namespace
