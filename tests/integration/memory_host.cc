// A host process for the process-metrics integration tests: runs an agent and obeys commands
// on stdin, so the test decides when memory is allocated, freed, leaked or burned.
//
//   alloc N     allocate and touch N MiB, in 1 MiB blocks, and keep it
//   free        free everything kept (alloc and leak)
//   burn MS     spin until this process has used MS more milliseconds of CPU
//   leak MS     for MS milliseconds, keep 1 MiB more every 100 ms (10 MiB/s)
//   churn MS    for MS milliseconds, allocate 1 MiB every 50 ms and free all every 5 blocks
//   quit
//
// Prints "port P" once serving, then "done K" after the K-th command.

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "vitals/agent.h"

namespace {

constexpr size_t kMiB = 1 << 20;
std::vector<char*> kept;

void Keep(size_t mib) {
  for (size_t i = 0; i < mib; ++i) {
    char* block = static_cast<char*>(std::malloc(kMiB));
    std::memset(block, static_cast<int>(i % 251) + 1, kMiB);  // touch every page
    kept.push_back(block);
  }
}

void FreeAll(std::vector<char*>& blocks) {
  for (char* b : blocks) std::free(b);
  blocks.clear();
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void Burn(double ms) {
  const double until = CpuSeconds() + ms / 1000;
  volatile uint64_t x = 1;
  while (CpuSeconds() < until) {
    for (int i = 0; i < 100000; ++i) x = x * 6364136223846793005ULL + 1;
  }
}

template <typename Step>
void Every(std::chrono::milliseconds period, double total_ms, Step step) {
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::milliseconds(static_cast<int64_t>(total_ms));
  for (auto next = start; next < end; next += period) {
    std::this_thread::sleep_until(next);
    step();
  }
}

}  // namespace

int main() {
  vitals::Options options;
  options.listen = "127.0.0.1:0";
  options.sample_interval = absl::Milliseconds(100);
  options.heap_growth_window = absl::Seconds(4);
  vitals::Agent agent(options);  // the test may override anything with VITALS_*
  if (absl::Status s = agent.Start(); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::printf("port %d\n", agent.port());
  std::fflush(stdout);
  std::string cmd;
  int done = 0;
  while (std::cin >> cmd && cmd != "quit") {
    if (cmd == "alloc") {
      size_t mib;
      std::cin >> mib;
      Keep(mib);
    } else if (cmd == "free") {
      FreeAll(kept);
    } else if (cmd == "burn") {
      double ms;
      std::cin >> ms;
      Burn(ms);
    } else if (cmd == "leak") {
      double ms;
      std::cin >> ms;
      Every(std::chrono::milliseconds(100), ms, [] { Keep(1); });
    } else if (cmd == "churn") {
      double ms;
      std::cin >> ms;
      std::vector<char*> batch;
      Every(std::chrono::milliseconds(50), ms, [&] {
        if (batch.size() == 5) FreeAll(batch);
        char* block = static_cast<char*>(std::malloc(kMiB));
        std::memset(block, 1, kMiB);
        batch.push_back(block);
      });
      FreeAll(batch);
    } else {
      std::cerr << "unknown command " << cmd << "\n";
      return 2;
    }
    std::printf("done %d\n", ++done);
    std::fflush(stdout);
  }
  FreeAll(kept);
  agent.Stop();
  return 0;
}
