// What an agent with default options costs a host that records nothing: resident memory added by
// constructing and starting it (and serving one scrape), and the largest single allocation it
// makes while being constructed and started.
//
//   footprint_bench           prints the figures
//   footprint_bench --check   also exits 1 when over the budget (4 MiB of RSS, nothing >= 1 MiB)
//
// malloc and friends are interposed in this program to see every allocation's size (operator
// new goes through malloc). Not meaningful under a sanitizer, which replaces malloc itself.

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "vitals/agent.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

std::atomic<bool> g_tracking{false};
std::atomic<size_t> g_largest{0};

void Note(size_t n) {
  if (!g_tracking.load(std::memory_order_relaxed)) return;
  size_t seen = g_largest.load(std::memory_order_relaxed);
  while (n > seen && !g_largest.compare_exchange_weak(seen, n)) {
  }
}

long ResidentKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

}  // namespace

extern "C" {
void* malloc(size_t n) {
  Note(n);
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) {
  Note(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) {
  Note(n);
  return __libc_realloc(p, n);
}
void* memalign(size_t align, size_t n) {
  Note(n);
  return __libc_memalign(align, n);
}
void* aligned_alloc(size_t align, size_t n) {
  Note(n);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) {
  Note(n);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}

int main(int argc, char** argv) {
  const bool check = argc > 1 && std::strcmp(argv[1], "--check") == 0;
  // Warm up what any host has already paid for: a thread, stdio, the allocator.
  std::thread([] {}).join();
  std::printf("footprint of one vitals::Agent with default options (listen on 127.0.0.1:0)\n");
  malloc_trim(0);
  const long before = ResidentKiB();

  g_tracking.store(true);
  vitals::Options options;
  options.read_environment = false;
  options.listen = "127.0.0.1:0";
  // The interposed malloc above is not glibc's as far as the agent can tell, so it would log
  // that it cannot read the heap; keep this program's output to the table.
  struct Quiet : vitals::LogSink {
    void Write(vitals::LogSeverity, absl::string_view) override {}
  };
  options.log_sink = std::make_shared<Quiet>();
  auto* agent = new vitals::Agent(options);
  const size_t largest_construct = g_largest.load();
  const absl::Status started = agent->Start();
  g_tracking.store(false);
  const size_t largest_start = g_largest.load();
  if (!started.ok()) {
    std::fprintf(stderr, "Start failed: %s\n", std::string(started.message()).c_str());
    return 2;
  }
  const long after_start = ResidentKiB();
  // One scrape, as Prometheus would make: render the body the endpoint serves.
  const std::string body = agent->RenderText();
  const long after_scrape = ResidentKiB();

  std::printf("| what | value | budget |\n|---|---|---|\n");
  std::printf("| largest allocation while constructing | %zu B | < 1 MiB |\n", largest_construct);
  std::printf("| largest allocation while constructing and starting | %zu B | < 1 MiB |\n",
              largest_start);
  std::printf("| RSS added by construction + Start() | %ld KiB | |\n", after_start - before);
  std::printf("| RSS added after one scrape (%zu B body) | %ld KiB | <= 4096 KiB |\n", body.size(),
              after_scrape - before);
  delete agent;
  if (check && (largest_start >= (size_t{1} << 20) || after_scrape - before > 4096)) {
    std::printf("OVER BUDGET\n");
    return 1;
  }
  return 0;
}
