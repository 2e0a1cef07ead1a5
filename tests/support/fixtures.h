// tests/support/fixtures.h: what many tests share: agent options on loopback, a latch, a CPU
// burner for the profiler to sample, and waiting for a condition (never for a fixed time).

#ifndef VITALS_TESTS_SUPPORT_FIXTURES_H_
#define VITALS_TESTS_SUPPORT_FIXTURES_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "examples/cpu_work.h"
#include "tests/support/fakes.h"
#include "vitals/options.h"

namespace vitals_test {

// QuietOptions() serving on a free loopback port.
inline vitals::Options LoopbackOptions() {
  vitals::Options o = QuietOptions();
  o.listen = "127.0.0.1:0";
  return o;
}

// Polls `done` until it holds (true) or `timeout` passes (false).
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

// Counts down to zero once; Wait() gives up after `timeout` (a test that hangs is a failure).
class Latch {
 public:
  explicit Latch(int n) : n_(n) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_ <= 0) cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return n_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_;
};

// Keeps one core busy with the demo's CPU-heavy function while it lives, so CPU profiles
// gather samples.
class CpuBurner {
 public:
  CpuBurner()
      : thread_([this] {
          while (!stop_.load()) sink_ = sink_ + demo::CpuHeavyWork(20);
        }) {}
  ~CpuBurner() {
    stop_.store(true);
    thread_.join();
  }
  CpuBurner(const CpuBurner&) = delete;
  CpuBurner& operator=(const CpuBurner&) = delete;

 private:
  std::atomic<bool> stop_{false};
  volatile double sink_ = 0;
  std::thread thread_;
};

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_FIXTURES_H_
