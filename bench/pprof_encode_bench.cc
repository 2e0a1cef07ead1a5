// What serving a profile as a symbolized, gzipped profile.proto costs: one real CPU profile of
// this process (gperftools' format, captured once at start over VITALS_BENCH_CAPTURE_SECONDS,
// default 30, while four threads run varied work: the demo's CPU route, sorting, maps, string
// formatting, regular expressions), then turned into what /debug/pprof/profile serves, again
// and again. Each iteration does what a request does: read the process's mappings, name every
// address (ELF symbol tables, cached while the mappings stay), open a libdw session and look up
// file, line and inlined calls, encode and gzip. `first_ms` is the first conversion in the
// process, which also builds the ELF symbol table (later ones reuse it while the mappings stay).
//
//   VITALS_BENCH_CAPTURE_SECONDS=30 build/bench/pprof_encode_bench --benchmark_repetitions=5

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "agent/base/gzip.h"
#include "agent/profiling/pprof_proto.h"
#include "examples/cpu_work.h"
#include "vitals/agent.h"

namespace {

std::string* g_legacy;  // the captured profile, gperftools' format
int g_capture_seconds = 30;
double g_first_ms = 0;  // the first conversion, which also builds the process's symbol table

// Work with many distinct stacks, across the binary, libstdc++, libc and abseil.
void VariedWork(std::atomic<bool>& stop, int seed) {
  std::mt19937 rng(seed);
  const std::regex pattern("([a-z]+)-([0-9]+)");
  volatile double sink = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    switch (rng() % 4) {
      case 0:
        sink = sink + demo::CpuHeavyWork(20);
        break;
      case 1: {
        std::vector<uint32_t> v(20000);
        for (auto& x : v) x = rng();
        std::sort(v.begin(), v.end());
        sink = sink + v[100];
        break;
      }
      case 2: {
        std::map<std::string, int> m;
        for (int i = 0; i < 2000; ++i) m[absl::StrFormat("key-%08x", rng())] = i;
        sink = sink + static_cast<double>(m.size());
        break;
      }
      default: {
        std::smatch match;
        const std::string text = absl::StrFormat("item-%d", rng() % 100000);
        for (int i = 0; i < 200; ++i) sink = sink + std::regex_match(text, match, pattern);
      }
    }
  }
}

void BM_CpuProfileToPprof(benchmark::State& state) {
  size_t gz_bytes = 0, proto_bytes = 0;
  for (auto _ : state) {
    auto gz = vitals::internal::CpuProfileToPprof(*g_legacy, 1, 1);
    if (!gz.ok()) {
      state.SkipWithError(std::string(gz.status().message()).c_str());
      return;
    }
    gz_bytes = gz->size();
    benchmark::DoNotOptimize(gz);
  }
  auto gz = vitals::internal::CpuProfileToPprof(*g_legacy, 1, 1);
  std::string proto;
  if (gz.ok() && vitals::internal::GzipDecompress(*gz, proto)) proto_bytes = proto.size();
  auto data = vitals::internal::ParseLegacyCpuProfile(*g_legacy);
  size_t samples = 0;
  if (data.ok()) {
    for (const auto& s : data->samples) samples += static_cast<size_t>(s.values[0]);
  }
  state.counters["capture_s"] = g_capture_seconds;
  state.counters["first_ms"] = g_first_ms;
  state.counters["samples"] = static_cast<double>(samples);
  state.counters["stacks"] = data.ok() ? static_cast<double>(data->samples.size()) : 0;
  state.counters["legacy_bytes"] = static_cast<double>(g_legacy->size());
  state.counters["proto_bytes"] = static_cast<double>(proto_bytes);
  state.counters["gz_bytes"] = static_cast<double>(gz_bytes);
}
BENCHMARK(BM_CpuProfileToPprof)->Unit(benchmark::kMillisecond)->MinTime(2);

}  // namespace

void BenchSetup() {
  if (const char* s = std::getenv("VITALS_BENCH_CAPTURE_SECONDS")) g_capture_seconds = std::atoi(s);
  if (g_capture_seconds < 1) g_capture_seconds = 1;
  vitals::Options options;
  options.read_environment = false;
  options.http_enabled = false;
  options.profile_max_duration = absl::Seconds(g_capture_seconds);
  vitals::Agent agent(options);
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) workers.emplace_back([&stop, i] { VariedWork(stop, i); });
  auto legacy =
      agent.CpuProfile(absl::Seconds(g_capture_seconds), vitals::ProfileFormat::kGperftools);
  stop = true;
  for (auto& t : workers) t.join();
  g_legacy = new std::string(legacy.ok() ? *legacy : "");
  const auto start = std::chrono::steady_clock::now();
  auto first = vitals::internal::CpuProfileToPprof(*g_legacy, 1, 1);
  g_first_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  benchmark::DoNotOptimize(first);
  if (!legacy.ok())
    std::fprintf(stderr, "capture failed: %s\n", legacy.status().ToString().c_str());
}
