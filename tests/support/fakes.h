// tests/support/fakes.h: an injected clock and a log sink that keeps its lines.

#ifndef VITALS_TESTS_SUPPORT_FAKES_H_
#define VITALS_TESTS_SUPPORT_FAKES_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vitals/clock.h"
#include "vitals/log.h"
#include "vitals/options.h"

namespace vitals_test {

// Options that ignore the machine's VITALS_* environment, so a test sees only what it sets.
inline vitals::Options QuietOptions() {
  vitals::Options o;
  o.read_environment = false;
  return o;
}

class FakeClock : public vitals::Clock {
 public:
  int64_t NowNanos() const override { return now_.load(); }
  void Advance(int64_t nanos) { now_.fetch_add(nanos); }
  void AdvanceMs(double ms) { Advance(static_cast<int64_t>(ms * 1e6)); }

 private:
  std::atomic<int64_t> now_{1'000'000'000};
};

class CapturingSink : public vitals::LogSink {
 public:
  void Write(vitals::LogSeverity severity, absl::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::string(vitals::LogSeverityName(severity)) + " " + std::string(line));
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  // Whether a line holds `text`.
  bool Contains(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& l : lines_) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A fake clock and a log sink that keeps its lines, with options that use both (and ignore the
// environment). Tests derive their fixture from it and add what they need.
struct ClockAndLog {
  FakeClock clock;
  std::shared_ptr<CapturingSink> sink = std::make_shared<CapturingSink>();
  vitals::Options Options() {
    vitals::Options o = QuietOptions();
    o.clock = &clock;
    o.log_sink = sink;
    return o;
  }
};

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_FAKES_H_
