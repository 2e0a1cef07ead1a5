// The process sampler over canned /proc files and a fake allocator: every figure is known.

#include "agent/process/process_sampler.h"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "absl/strings/str_format.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "vitals/agent.h"

namespace {

using vitals_test::SampleValue;
constexpr double kMiB = 1024 * 1024;

class FakeAllocator : public vitals::AllocatorReader {
 public:
  absl::string_view name() const override { return "tcmalloc"; }
  absl::StatusOr<vitals::HeapStats> Read() override {
    ++reads;
    if (!error.ok()) return error;
    return stats;
  }
  vitals::HeapStats stats;
  absl::Status error;
  std::atomic<int> reads{0};
};

std::string StatLine(int utime, int stime, int threads, long vsize, long rss_pages) {
  return "99 (svc) S 1 99 99 0 -1 4194560 10 0 0 0 " + std::to_string(utime) + " " +
         std::to_string(stime) + " 0 0 20 0 " + std::to_string(threads) + " 0 500 " +
         std::to_string(vsize) + " " + std::to_string(rss_pages) +
         " 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
}

struct Fixture : vitals_test::ClockAndLog {
  vitals_test::TempDir root;
  std::shared_ptr<FakeAllocator> allocator = std::make_shared<FakeAllocator>();
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  Fixture() {
    std::filesystem::create_directories(root.path() + "/self/fd");
    vitals_test::WriteFile(root.path() + "/stat", "cpu 1 2 3\nbtime 1700000000\n");
    WriteStat(StatLine(250, 50, 7, 104857600, 2560));
    vitals_test::WriteFile(root.path() + "/self/limits",
                           "Limit                     Soft Limit           Hard Limit           "
                           "Units     \n"
                           "Max open files            1024                 4096                 "
                           "files     \n"
                           "Max address space         unlimited            unlimited            "
                           "bytes     \n");
    for (int i = 0; i < 5; ++i) AddFd(i);
    allocator->stats.allocated_bytes = 40 * kMiB;
    allocator->stats.reserved_bytes = 64 * kMiB;
    allocator->stats.free_bytes = 20 * kMiB;
    allocator->stats.unmapped_bytes = 4 * kMiB;
    allocator->stats.thread_cache_bytes = 1 * kMiB;
  }
  void WriteStat(const std::string& line) {
    vitals_test::WriteFile(root.path() + "/self/stat", line);
  }
  void AddFd(int i) { vitals_test::WriteFile(root.path() + "/self/fd/" + std::to_string(i), ""); }

  vitals::Options Opts() {
    vitals::Options o = Options();
    o.listen = "127.0.0.1:0";
    o.proc_root = root.path();
    o.allocator_reader = allocator;
    o.sample_interval = absl::Seconds(15);
    o.heap_growth_window = absl::Minutes(5);
    return o;
  }
};

TEST_CASE("one sample serves every process and heap figure exactly", "[sampler]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  REQUIRE(agent.SampleProcessNow().ok());
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "process_cpu_seconds_total") == Approx(300 / f.ticks));
  CHECK(SampleValue(body, "process_resident_memory_bytes") == 2560 * f.page);
  CHECK(SampleValue(body, "process_virtual_memory_bytes") == 104857600);
  CHECK(SampleValue(body, "process_virtual_memory_max_bytes") == 18446744073709551615.0);
  CHECK(SampleValue(body, "process_open_fds") == 5);
  CHECK(SampleValue(body, "process_max_fds") == 1024);
  CHECK(SampleValue(body, "process_start_time_seconds") == Approx(1700000000 + 500 / f.ticks));
  CHECK(SampleValue(body, "process_threads") == 7);
  CHECK(SampleValue(body, "process_heap_bytes") == 40 * kMiB);
  CHECK(SampleValue(body, "vitals_heap_reserved_bytes{allocator=\"tcmalloc\"}") == 64 * kMiB);
  CHECK(SampleValue(body, "vitals_heap_free_bytes{allocator=\"tcmalloc\"}") == 20 * kMiB);
  CHECK(SampleValue(body, "vitals_heap_unmapped_bytes{allocator=\"tcmalloc\"}") == 4 * kMiB);
  CHECK(SampleValue(body, "vitals_heap_thread_cache_bytes{allocator=\"tcmalloc\"}") == kMiB);
  CHECK(SampleValue(body, "vitals_sampler_errors_total{source=\"proc_stat\"}") == 0);
  CHECK(SampleValue(body, "vitals_sampler_errors_total{source=\"heap\"}") == 0);
  // One sample has no trend yet: the growth gauge has no series.
  CHECK(vitals_test::CountLines(body, "vitals_heap_growth_bytes_per_second ") == 0);
  CHECK(body.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
  CHECK(body.find("# TYPE process_heap_bytes gauge\n") != std::string::npos);
}

TEST_CASE("later samples move the figures: counters come from /proc, not from sums", "[sampler]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  REQUIRE(agent.SampleProcessNow().ok());
  f.WriteStat(StatLine(400, 100, 9, 209715200, 5120));
  f.AddFd(5);
  f.AddFd(6);
  f.clock.Advance(15'000'000'000);
  f.allocator->stats.allocated_bytes = 70 * kMiB;
  REQUIRE(agent.SampleProcessNow().ok());
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "process_cpu_seconds_total") == Approx(500 / f.ticks));
  CHECK(SampleValue(body, "process_resident_memory_bytes") == 5120 * f.page);
  CHECK(SampleValue(body, "process_threads") == 9);
  CHECK(SampleValue(body, "process_open_fds") == 7);
  CHECK(SampleValue(body, "process_heap_bytes") == 70 * kMiB);
  CHECK(SampleValue(body, "vitals_heap_growth_bytes_per_second") == Approx(2 * kMiB));
}

TEST_CASE("the leak hint: steady growth, a sawtooth and a flat heap", "[sampler]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  auto trend_after = [&](auto heap_at) {
    for (int i = 0; i < 40; ++i) {  // 10 minutes of 15 s samples; the window is 5 minutes
      f.allocator->stats.allocated_bytes = heap_at(i);
      REQUIRE(agent.SampleProcessNow().ok());
      f.clock.Advance(15'000'000'000);
    }
    return SampleValue(agent.RenderText(), "vitals_heap_growth_bytes_per_second");
  };
  SECTION("a leak of 1 MiB per sample") {
    CHECK(trend_after([](int i) { return 100 * kMiB + i * kMiB; }) == Approx(kMiB / 15));
  }
  SECTION("a sawtooth that fills 8 MiB over four samples and flushes") {
    CHECK(std::abs(trend_after([](int i) { return 100 * kMiB + (i % 4) * 2 * kMiB; })) <
          0.05 * (2 * kMiB / 15));
  }
  SECTION("a flat heap") {
    CHECK(trend_after([](int) { return 100 * kMiB; }) == 0);
  }
}

TEST_CASE("a failing source is counted, keeps its last value and leaves the rest served",
          "[sampler]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  REQUIRE(agent.SampleProcessNow().ok());
  std::filesystem::remove(f.root.path() + "/self/limits");
  f.WriteStat("garbage without parentheses");
  f.allocator->error = absl::UnavailableError("allocator is asleep");
  f.AddFd(9);
  absl::Status s = agent.SampleProcessNow();
  CHECK(absl::IsInvalidArgument(s));  // the first failure: stat
  std::string body = agent.RenderText();
  CHECK(SampleValue(body, "vitals_sampler_errors_total{source=\"proc_stat\"}") == 1);
  CHECK(SampleValue(body, "vitals_sampler_errors_total{source=\"proc_limits\"}") == 1);
  CHECK(SampleValue(body, "vitals_sampler_errors_total{source=\"heap\"}") == 1);
  CHECK(SampleValue(body, "vitals_sampler_errors_total{source=\"proc_fd\"}") == 0);
  CHECK(SampleValue(body, "process_open_fds") == 6);            // still read
  CHECK(SampleValue(body, "process_threads") == 7);             // kept
  CHECK(SampleValue(body, "process_max_fds") == 1024);          // kept
  CHECK(SampleValue(body, "process_heap_bytes") == 40 * kMiB);  // kept
  const auto lines = f.sink->lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] ==
        "WARNING process sampler could not read proc_stat: stat: no ')' "
        "after the command name");
  CHECK(lines[1] == "WARNING process sampler could not read proc_limits: cannot open " +
                        f.root.path() + "/self/limits: No such file or directory");
  CHECK(lines[2] == "WARNING process sampler could not read heap: allocator is asleep");
}

TEST_CASE("a failing source logs at most once a minute, then says how many it skipped",
          "[sampler]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  f.allocator->error = absl::UnavailableError("no answer");
  for (int i = 0; i < 4; ++i) {  // 0, 15, 30, 45 s
    (void)agent.SampleProcessNow();
    f.clock.Advance(15'000'000'000);
  }
  CHECK(f.sink->lines().size() == 1);
  (void)agent.SampleProcessNow();  // 60 s
  const auto lines = f.sink->lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] ==
        "WARNING process sampler could not read heap: no answer (3 more since the last such "
        "line)");
  CHECK(SampleValue(agent.RenderText(), "vitals_sampler_errors_total{source=\"heap\"}") == 5);
  // A heap that never answered has no figure at all, rather than a made-up zero.
  CHECK(SampleValue(agent.RenderText(), "process_heap_bytes") == -1);
}

TEST_CASE("a missing /proc counts every procfs source and serves the heap", "[sampler]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.proc_root = f.root.path() + "/nowhere";
  vitals::Agent agent(o);
  CHECK(absl::IsNotFound(agent.SampleProcessNow()));
  const std::string body = agent.RenderText();
  for (const char* source : {"proc_stat", "proc_limits", "proc_fd", "proc_boot_time"}) {
    CHECK(SampleValue(body,
                      std::string("vitals_sampler_errors_total{source=\"") + source + "\"}") == 1);
  }
  CHECK(SampleValue(body, "process_heap_bytes") == 40 * kMiB);
  CHECK(SampleValue(body, "process_resident_memory_bytes") == -1);
}

TEST_CASE("an allocator that knows less serves less", "[sampler]") {
  Fixture f;
  f.allocator->stats = vitals::HeapStats();
  f.allocator->stats.allocated_bytes = 3 * kMiB;
  vitals::Agent agent(f.Opts());
  REQUIRE(agent.SampleProcessNow().ok());
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "process_heap_bytes") == 3 * kMiB);
  CHECK(vitals_test::CountLines(body, "vitals_heap_reserved_bytes{") == 0);
  CHECK(vitals_test::CountLines(body, "vitals_heap_thread_cache_bytes{") == 0);
}

TEST_CASE("the memory log line is off by default and periodic when asked for", "[sampler]") {
  Fixture f;
  {
    vitals::Agent agent(f.Opts());
    REQUIRE(agent.SampleProcessNow().ok());
    CHECK(f.sink->lines().empty());
  }
  vitals::Options o = f.Opts();
  o.memory_log_interval = absl::Seconds(60);
  vitals::Agent agent(o);
  for (int i = 0; i < 5; ++i) {  // 0, 15, 30, 45, 60 s: lines at 0 and 60
    f.allocator->stats.allocated_bytes = 40 * kMiB + i * 15 * kMiB;
    REQUIRE(agent.SampleProcessNow().ok());
    f.clock.Advance(15'000'000'000);
  }
  const auto lines = f.sink->lines();
  REQUIRE(lines.size() == 2);
  const std::string rss = absl::StrFormat("%.1f", 2560 * f.page / kMiB);
  CHECK(lines[0] ==
        "INFO vitals memory: rss " + rss + " MB, heap 40.0 MB (reserved 64.0 MB) tcmalloc");
  CHECK(lines[1] == "INFO vitals memory: rss " + rss +
                        " MB, heap 100.0 MB (reserved 64.0 MB) tcmalloc, heap trend +60.00 MB/min");
}

TEST_CASE("Start takes the first sample and Stop ends a long interval at once", "[sampler]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.sample_interval = absl::Hours(1);
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  CHECK(f.allocator->reads == 1);
  CHECK(SampleValue(agent.RenderText(), "process_heap_bytes") == 40 * kMiB);
  const auto before = std::chrono::steady_clock::now();
  agent.Stop();
  // Without a wakeup this would take an hour; the bound is generous so the test never
  // depends on the machine's speed.
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(5));
  REQUIRE(agent.Start().ok());  // restartable
  CHECK(f.allocator->reads == 2);
}

TEST_CASE("the sampler thread samples on its interval", "[sampler][concurrency]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.sample_interval = absl::Milliseconds(10);
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // The fake allocator is read on the sampler thread; the scrapes race with it on purpose.
  while (SampleValue(agent.RenderText(), "process_threads") != 9 &&
         std::chrono::steady_clock::now() < deadline) {
    f.WriteStat(StatLine(1, 1, 9, 1, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(SampleValue(agent.RenderText(), "process_threads") == 9);
  agent.Stop();
}

TEST_CASE("process metrics can be turned off", "[sampler]") {
  Fixture f;
  // The same agent with them on serves them, from the same fake /proc and allocator...
  {
    vitals::Agent on(f.Opts());
    REQUIRE(on.Start().ok());
    const std::string body = on.RenderText();
    CHECK(SampleValue(body, "process_threads") == 7);
    CHECK(SampleValue(body, "process_heap_bytes") > 0);
    CHECK(f.allocator->reads > 0);
  }
  const int reads = f.allocator->reads;
  // ... and with them off: no sampler (the allocator is never read), no process or heap family,
  // while the rest of the agent serves.
  vitals::Options o = f.Opts();
  o.process_metrics = false;
  vitals::Agent agent(o);
  CHECK(absl::IsFailedPrecondition(agent.SampleProcessNow()));
  REQUIRE(agent.Start().ok());
  agent.Record("GET", "/x", 200, absl::Milliseconds(1));
  const std::string body = agent.RenderText();
  CHECK(body.find("process_") == std::string::npos);
  CHECK(body.find("vitals_heap_") == std::string::npos);
  CHECK(body.find("vitals_sampler_") == std::string::npos);
  CHECK(f.allocator->reads == reads);
  CHECK(vitals_test::CountLines(body, "vitals_build_info{") == 1);
  CHECK(body.find("http_route=\"/x\"") != std::string::npos);
}

TEST_CASE("heap metrics can be turned off while process metrics stay", "[sampler]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.heap_metrics = false;
  vitals::Agent agent(o);
  REQUIRE(agent.SampleProcessNow().ok());
  const std::string body = agent.RenderText();
  CHECK(f.allocator->reads == 0);
  CHECK(SampleValue(body, "process_threads") == 7);
  CHECK(SampleValue(body, "process_heap_bytes") == -1);
}

TEST_CASE("the detected allocator is the one this test runs on", "[sampler]") {
  auto reader = vitals::DetectAllocatorReader();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  CHECK(reader->name() == "sanitizer");
#else
  CHECK(reader->name() == "glibc");
  CHECK(absl::IsNotFound(vitals::TcmallocAllocatorReader().status()));
#endif
  auto stats = reader->Read();
  REQUIRE(stats.ok());
  CHECK(stats->allocated_bytes > 0);
  CHECK(vitals::GlibcAllocatorReader()->Read().ok());
}

}  // namespace
