// Process and heap metrics of a real process (tests/integration/memory_host.cc), read over its
// real /metrics endpoint while the test makes it allocate, free, leak and burn CPU. Runs once
// on glibc malloc and, in the non-sanitizer build, on tcmalloc both preloaded and linked.

#include <dirent.h>
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "tests/support/metrics_text.h"
#include "tests/support/process.h"

namespace {

using namespace std::chrono_literals;
using vitals_test::SampleValue;
constexpr double kMiB = 1024 * 1024;

class Host {
 public:
  Host(const std::string& binary, std::map<std::string, std::string> env)
      : process_({vitals_test::BinaryDir() + "/tests/" + binary}, std::move(env), dir_.path()) {
    REQUIRE(process_.WaitForOutput("port ", 20s));
    const std::string out = process_.Stdout();
    port_ = std::stoi(out.substr(out.find("port ") + 5));
  }
  ~Host() { process_.Send("quit\n"); }

  std::string Metrics() {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10);
    auto res = client.Get("/metrics");
    return res && res->status == 200 ? res->body : "";
  }
  double Value(const std::string& series) { return SampleValue(Metrics(), series); }

  // Runs one command and waits for the host to finish it.
  void Run(const std::string& command) {
    INFO("command: " << command);
    REQUIRE(process_.Send(command + "\n"));
    REQUIRE(process_.WaitForOutput("done " + std::to_string(++commands_) + "\n", 60s));
  }

  // Polls the metric until `ok(value)` holds (true) or 20 s pass (false). The sampler runs
  // every 100 ms; the bound is generous so a loaded machine does not fail the test.
  bool WaitFor(const std::string& series, const std::function<bool(double)>& ok) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ok(Value(series))) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  int OpenFds() const {
    int n = 0;
    DIR* dir = opendir(("/proc/" + std::to_string(process_.pid()) + "/fd").c_str());
    if (dir == nullptr) return -1;
    while (const dirent* e = readdir(dir)) n += e->d_name[0] != '.';
    closedir(dir);
    return n;
  }

 private:
  vitals_test::TempDir dir_;
  vitals_test::Subprocess process_;
  int port_ = 0;
  int commands_ = 0;
};

void CheckMemoryAndCpu(Host& host, const std::string& allocator) {
  REQUIRE(host.WaitFor("process_heap_bytes", [](double v) { return v > 0; }));
  const std::string body = host.Metrics();
  INFO(body);
  CHECK(SampleValue(body, "vitals_heap_reserved_bytes{allocator=\"" + allocator + "\"}") > 0);
  CHECK(SampleValue(body, "process_start_time_seconds") > 1.6e9);
  CHECK(SampleValue(body, "process_max_fds") > 0);
  CHECK(SampleValue(body, "process_threads") >= 2);  // main + sampler + HTTP workers

  const double heap0 = SampleValue(body, "process_heap_bytes");
  const double rss0 = SampleValue(body, "process_resident_memory_bytes");
  host.Run("alloc 64");
  CHECK(host.WaitFor("process_heap_bytes", [&](double v) { return v - heap0 >= 60 * kMiB; }));
  CHECK(host.WaitFor("process_resident_memory_bytes",
                     [&](double v) { return v - rss0 >= 60 * kMiB; }));
  const double peak = host.Value("process_heap_bytes");
  host.Run("free");
  CHECK(host.WaitFor("process_heap_bytes", [&](double v) { return peak - v >= 56 * kMiB; }));

  const double cpu0 = host.Value("process_cpu_seconds_total");
  REQUIRE(cpu0 >= 0);
  host.Run("burn 1000");
  CHECK(host.WaitFor("process_cpu_seconds_total", [&](double v) { return v - cpu0 >= 0.8; }));

  // The scrape itself holds a socket in the host, hence "within 2".
  CHECK(host.WaitFor("process_open_fds",
                     [&](double v) { return std::abs(v - host.OpenFds()) <= 2; }));
}

void CheckLeakHint(Host& host) {
  // The window is 4 s (memory_host.cc); each phase lasts longer than that.
  host.Run("churn 5000");
  const double steady = host.Value("vitals_heap_growth_bytes_per_second");
  INFO("slope after a steady allocate/free workload: " << steady);
  CHECK(std::abs(steady) < 1 * kMiB);
  host.Run("leak 5000");  // 10 MiB/s
  const double leaking = host.Value("vitals_heap_growth_bytes_per_second");
  INFO("slope during a 10 MiB/s leak: " << leaking);
  CHECK(leaking > 5 * kMiB);
  CHECK(leaking < 20 * kMiB);
  host.Run("free");
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
const char kDefaultAllocator[] = "sanitizer";
#else
const char kDefaultAllocator[] = "glibc";
#endif

TEST_CASE("process metrics of a real process on glibc malloc", "[integration][process]") {
  Host host("memory_host", {});
  CheckMemoryAndCpu(host, kDefaultAllocator);
  CheckLeakHint(host);
}

#ifdef VITALS_TEST_TCMALLOC
TEST_CASE("process metrics of the same binary with tcmalloc preloaded",
          "[integration][process][tcmalloc]") {
  Host host("memory_host", {{"LD_PRELOAD", VITALS_TEST_TCMALLOC}});
  CheckMemoryAndCpu(host, "tcmalloc");
  CheckLeakHint(host);
}

TEST_CASE("process metrics of a host linked with tcmalloc", "[integration][process][tcmalloc]") {
  Host host("memory_host_tcmalloc", {});
  CheckMemoryAndCpu(host, "tcmalloc");
  const std::string body = host.Metrics();
  CHECK(SampleValue(body, "vitals_heap_thread_cache_bytes{allocator=\"tcmalloc\"}") >= 0);
  CHECK(SampleValue(body, "vitals_heap_unmapped_bytes{allocator=\"tcmalloc\"}") >= 0);
}
#endif

}  // namespace
