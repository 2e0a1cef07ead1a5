// What many live threads cost: N threads each record once into each of 1,000 histogram series
// (14 buckets, OpenTelemetry's default bounds) and stay alive; then one render of the whole
// exposition, the resident memory the threads' records added, and the cost of one observe on
// a pre-resolved handle while they live. vitals against prometheus-cpp doing the same work.
//
//   threads_bench                  every configuration, each in a fresh child process; a table
//   threads_bench --threads=1,64   only these thread counts
//   threads_bench --short-lived=N  also N short-lived threads (4 at a time), each recording
//                                  once into 10 series and exiting (default 100,000; 0 skips)
//   threads_bench --check          also exits 1 when a total is not exact, when vitals' extra
//                                  RSS at 512 live threads passes 16 MB, or when the short-lived
//                                  threads grew it by more than 2 MB (times are printed, never
//                                  checked: they are the machine's, not the code's)
//
// Each configuration runs in its own process (this program re-executed with --child), so the
// memory of one does not hide in the next. Extra RSS counts everything the threads added,
// their stacks included; prometheus-cpp's column is that floor, since its memory does not
// grow with threads.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "vitals/agent.h"

namespace {

constexpr int kSeries = 1000;
const std::vector<double> kBounds = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                     0.5,   0.75, 1,     2.5,  5,     7.5, 10};

double ResidentMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return -1;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// What the two implementations must offer the measurement.
class Impl {
 public:
  virtual ~Impl() = default;
  virtual void Observe(int series, double value) = 0;
  virtual size_t Render() = 0;  // the body's size
  virtual double TotalCount() = 0;
};

class Vitals : public Impl {
 public:
  Vitals() {
    vitals::Options o;
    o.read_environment = false;
    o.http_enabled = false;
    o.process_metrics = false;
    o.series_limit = 10 * kSeries;
    agent_ = std::make_unique<vitals::Agent>(o);
    auto family = agent_->AddHistogram("work_seconds", "Work.", kBounds, {"series"});
    for (int i = 0; i < kSeries; ++i) {
      handles_.push_back(*family->WithLabels({std::to_string(i)}));
    }
  }
  void Observe(int series, double value) override { handles_[series].Observe(value); }
  size_t Render() override { return agent_->RenderText().size(); }
  double TotalCount() override {
    double total = 0;
    for (const auto& h : handles_) total += static_cast<double>(h.Count());
    return total;
  }

 private:
  std::unique_ptr<vitals::Agent> agent_;
  std::vector<vitals::Histogram> handles_;
};

class PrometheusCpp : public Impl {
 public:
  PrometheusCpp() {
    auto& family =
        prometheus::BuildHistogram().Name("work_seconds").Help("Work.").Register(registry_);
    for (int i = 0; i < kSeries; ++i) {
      handles_.push_back(&family.Add({{"series", std::to_string(i)}}, kBounds));
    }
  }
  void Observe(int series, double value) override { handles_[series]->Observe(value); }
  size_t Render() override {
    return prometheus::TextSerializer().Serialize(registry_.Collect()).size();
  }
  double TotalCount() override {
    double total = 0;
    for (auto* h : handles_) total += static_cast<double>(h->Collect().histogram.sample_count);
    return total;
  }

 private:
  prometheus::Registry registry_;
  std::vector<prometheus::Histogram*> handles_;
};

std::unique_ptr<Impl> MakeImpl(const std::string& name) {
  if (name == "vitals") return std::make_unique<Vitals>();
  return std::make_unique<PrometheusCpp>();
}

// Short-lived threads, in this process: prints "0 extra_rss_mib 0 exact". Four run at a time;
// each records once into 10 series and exits.
int ShortLivedChild(const std::string& impl_name, int threads) {
  std::unique_ptr<Impl> impl = MakeImpl(impl_name);
  impl->Render();
  // Warm up: the first threads bring the allocator's per-thread structures and the cells'
  // memory into being; what is measured is what the rest add.
  std::thread([&] {
    for (int s = 0; s < 10; ++s) impl->Observe(s, 0.001);
  }).join();
  const double rss_before = ResidentMiB();
  constexpr int kAtOnce = 4;
  for (int done = 0; done < threads; done += kAtOnce) {
    std::thread batch[kAtOnce];
    for (int b = 0; b < kAtOnce; ++b) {
      batch[b] = std::thread([&, b] {
        for (int s = 0; s < 10; ++s) impl->Observe((done + b + s * 97) % kSeries, 0.001 * s);
      });
    }
    for (auto& t : batch) t.join();
  }
  const double extra_rss = ResidentMiB() - rss_before;
  const int ran = (threads + kAtOnce - 1) / kAtOnce * kAtOnce;
  const bool exact = impl->TotalCount() == 10.0 * ran + 10;
  std::printf("0 %.1f 0 %d\n", extra_rss, exact ? 1 : 0);
  return 0;
}

// One configuration, in this process: prints "render_ms extra_rss_mib observe_ns exact".
int Child(const std::string& impl_name, int threads) {
  std::unique_ptr<Impl> impl = MakeImpl(impl_name);
  impl->Render();  // buffers that every later render reuses
  const double rss_before = ResidentMiB();

  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool release = false;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int s = 0; s < kSeries; ++s) impl->Observe(s, 0.001 * ((s + t) % 20000));
      std::unique_lock<std::mutex> lock(mu);
      ++ready;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready == threads; });
  }
  const double extra_rss = ResidentMiB() - rss_before;

  std::vector<double> renders;
  for (int i = 0; i < 7; ++i) {
    const auto start = std::chrono::steady_clock::now();
    impl->Render();
    renders.push_back(Seconds(std::chrono::steady_clock::now() - start) * 1e3);
  }
  std::sort(renders.begin(), renders.end());

  constexpr int kObserves = 2000000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kObserves; ++i) impl->Observe(i % kSeries, 0.3);
  const double observe_ns = Seconds(std::chrono::steady_clock::now() - start) * 1e9 / kObserves;

  const double expected = static_cast<double>(threads) * kSeries + kObserves;
  const bool exact = impl->TotalCount() == expected;
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : pool) t.join();
  std::printf("%.2f %.1f %.1f %d\n", renders[renders.size() / 2], extra_rss, observe_ns,
              exact ? 1 : 0);
  return 0;
}

struct Row {
  double render_ms = -1, rss_mib = -1, observe_ns = -1;
  bool exact = false;
};

Row RunChild(const std::string& self, const std::string& impl, int threads, bool short_lived) {
  const std::string command = self + " --child --impl=" + impl +
                              " --threads=" + std::to_string(threads) +
                              (short_lived ? " --short-lived-child" : "");
  Row row;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return row;
  char buf[256] = {};
  if (std::fgets(buf, sizeof buf, p) != nullptr) {
    int exact = 0;
    if (std::sscanf(buf, "%lf %lf %lf %d", &row.render_ms, &row.rss_mib, &row.observe_ns, &exact) ==
        4) {
      row.exact = exact == 1;
    }
  }
  pclose(p);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  bool child = false, check = false, short_child = false;
  int short_lived = 100000;
  std::string impl = "vitals";
  std::vector<int> counts = {1, 8, 64, 512, 2000};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--child") {
      child = true;
    } else if (a == "--short-lived-child") {
      short_child = true;
    } else if (a == "--check") {
      check = true;
    } else if (a.rfind("--impl=", 0) == 0) {
      impl = a.substr(7);
    } else if (a.rfind("--short-lived=", 0) == 0) {
      short_lived = std::atoi(a.c_str() + 14);
    } else if (a.rfind("--threads=", 0) == 0) {
      counts.clear();
      std::stringstream list(a.substr(10));
      std::string n;
      while (std::getline(list, n, ',')) counts.push_back(std::atoi(n.c_str()));
    } else {
      std::fprintf(stderr, "usage: %s [--threads=1,8,64] [--short-lived=N] [--check]\n", argv[0]);
      return 2;
    }
  }
  if (child && short_child) return ShortLivedChild(impl, counts.empty() ? 1 : counts[0]);
  if (child) return Child(impl, counts.empty() ? 1 : counts[0]);

  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) return 2;
  std::printf(
      "N live threads, each recorded once into each of %d histogram series (%zu bounds)\n\n",
      kSeries, kBounds.size());
  std::printf(
      "| live threads | render: vitals | prometheus-cpp | extra RSS: vitals | prometheus-cpp "
      "| observe: vitals | prometheus-cpp | totals exact |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (int n : counts) {
    const Row v = RunChild(self, "vitals", n, false);
    const Row p = RunChild(self, "prometheus-cpp", n, false);
    std::printf("| %d | %.1f ms | %.1f ms | %+.1f MB | %+.1f MB | %.1f ns | %.1f ns | %s |\n", n,
                v.render_ms, p.render_ms, v.rss_mib, p.rss_mib, v.observe_ns, p.observe_ns,
                v.exact && p.exact ? "yes" : "NO");
    std::fflush(stdout);
    ok = ok && v.exact && p.exact && v.render_ms >= 0;
    if (n == 512 && v.rss_mib > 16) ok = false;
  }
  if (short_lived > 0) {
    const Row v = RunChild(self, "vitals", short_lived, true);
    const Row p = RunChild(self, "prometheus-cpp", short_lived, true);
    std::printf("\n%d short-lived threads, 4 at a time, each recording once into 10 series\n\n",
                short_lived);
    std::printf("| | extra RSS: vitals | prometheus-cpp | totals exact |\n|---|---|---|---|\n");
    std::printf("| short-lived | %+.1f MB | %+.1f MB | %s |\n", v.rss_mib, p.rss_mib,
                v.exact && p.exact ? "yes" : "NO");
    ok = ok && v.exact && p.exact && v.rss_mib >= -1 && v.rss_mib <= 2;
  }
  if (check && !ok) {
    std::fprintf(stderr, "threads_bench: over budget or inexact\n");
    return 1;
  }
  return 0;
}
