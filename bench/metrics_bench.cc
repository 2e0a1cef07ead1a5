// vitals vs prometheus-cpp 1.0.1, side by side in one run.
//
//   build/bench/metrics_bench --benchmark_min_time=1
//
// Each pair measures the same work: a pre-resolved histogram observe, a labelled record with the
// label values given as strings on every call, a counter increment, a whole timed request
// (clock reads included), and producing the /metrics body for 10,000 histogram series (with the
// peak extra heap a scrape needs, counted by this program's operator new).

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "agent/core/cell_store.h"
#include "agent/core/exemplar.h"
#include "agent/core/family.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "vitals/agent.h"

// --- heap accounting (whole process) ---
namespace {
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};
void Track(int64_t delta) {
  int64_t now = g_live.fetch_add(delta, std::memory_order_relaxed) + delta;
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}
}  // namespace

void* operator new(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  Track(static_cast<int64_t>(malloc_usable_size(p)));
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  Track(-static_cast<int64_t>(malloc_usable_size(p)));
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }

namespace {

// The agent's default duration buckets (20 bounds, 50 us .. 10 s), for both sides: what the
// built-in request histogram uses, and so what g_route records into.
const std::vector<double> kBuckets = vitals::DefaultRequestDurationBuckets();

vitals::Agent* g_agent;
vitals::Histogram g_vitals_hist;
vitals::Histogram g_vitals_native_hist;    // the same buckets, native buckets kept too
vitals::Histogram g_vitals_exemplar_hist;  // the same buckets, exemplars kept
const vitals::TraceContext kTrace = vitals::TraceContext::FromTraceparent(
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
vitals::Counter g_vitals_counter;
vitals::RouteHandle g_route;
vitals::UpstreamHandle g_upstream;
vitals::ExecutorMonitor g_executor;
std::shared_ptr<prometheus::Registry> g_registry;
prometheus::Histogram* g_prom_hist;
prometheus::Family<prometheus::Histogram>* g_prom_hist_family;
prometheus::Counter* g_prom_counter;
prometheus::Gauge* g_prom_active;

}  // namespace

void BenchSetup() {
  vitals::Options o;
  o.read_environment = false;
  g_agent = new vitals::Agent(o);
  g_vitals_hist = *g_agent->AddHistogram("bench_seconds", "Bench.", kBuckets)->WithLabels({});
  vitals::HistogramFeatures native;
  native.native = true;
  g_vitals_native_hist =
      *g_agent->AddHistogram("bench_native_seconds", "Bench.", kBuckets, {}, native)
           ->WithLabels({});
  vitals::HistogramFeatures exemplars;
  exemplars.exemplars = true;
  g_vitals_exemplar_hist =
      *g_agent->AddHistogram("bench_exemplar_seconds", "Bench.", kBuckets, {}, exemplars)
           ->WithLabels({});
  g_vitals_counter = *g_agent->AddCounter("bench_total", "Bench.")->WithLabels({});
  g_route = g_agent->Route("GET", "/users/:id");
  g_upstream = g_agent->Upstream("GET", "10.0.0.7", 8080);
  vitals::ExecutorOptions executor;
  executor.pool_size = 8;
  executor.queue_capacity = 1000;  // the costlier case: remaining capacity kept too
  g_executor = *g_agent->Executor("bench", executor);
  g_registry = std::make_shared<prometheus::Registry>();
  g_prom_hist_family = &prometheus::BuildHistogram()
                            .Name("http_server_request_duration_seconds")
                            .Help("Bench.")
                            .Register(*g_registry);
  g_prom_hist = &g_prom_hist_family->Add({}, kBuckets);
  g_prom_counter =
      &prometheus::BuildCounter().Name("bench_total").Help("Bench.").Register(*g_registry).Add({});
  g_prom_active = &prometheus::BuildGauge()
                       .Name("http_server_active_requests")
                       .Help("Bench.")
                       .Register(*g_registry)
                       .Add({{"http_request_method", "GET"}, {"http_route", "/users/:id"}});
}

namespace {

double Value(int64_t i) { return static_cast<double>(i & 1023) * 0.001; }

// --- histogram observe on a pre-resolved handle ---
void BM_Observe_Vitals(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) g_vitals_hist.Observe(Value(++i));
}
BENCHMARK(BM_Observe_Vitals)->Threads(1)->Threads(2)->UseRealTime();

// The same observe into a histogram that also keeps native buckets (issue 18): one more
// restartable add, into the cell of the value's native bucket.
void BM_Observe_VitalsNative(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) g_vitals_native_hist.Observe(Value(++i));
}
BENCHMARK(BM_Observe_VitalsNative)->Threads(1)->Threads(2)->UseRealTime();

// The same observe with a trace offered as the bucket's exemplar on every call: a clock read
// and two loads of the slot; a write only when the slot's exemplar is 100 ms old.
void BM_Observe_VitalsExemplar(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) g_vitals_exemplar_hist.Observe(Value(++i), kTrace);
}
BENCHMARK(BM_Observe_VitalsExemplar)->Threads(1)->Threads(2)->UseRealTime();

void BM_Observe_PrometheusCpp(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) g_prom_hist->Observe(Value(++i));
}
BENCHMARK(BM_Observe_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

// --- memory per histogram series: classic buckets alone, with native buckets, with
// exemplars. Creates 2,000 series of each kind (14 buckets, one observation each) in fresh
// families and reports the per-CPU cell memory they took (every CPU copy and the fallback
// stripe, from the cell store's chunk count) plus the exemplar slots, per series.
void SeriesMemory(benchmark::State& state, const char* name, const vitals::HistogramFeatures& f) {
  constexpr int kMany = 2000;
  // Cells are never given back to the process (families live as long as the agent), and a
  // native family takes 574,000 of the 8 million: repeated many times, this would exhaust them
  // for every benchmark after it. Measured once per kind and process.
  static std::set<std::string> measured;
  if (!measured.insert(name).second) {
    state.SkipWithError("measured once per process (run with --benchmark_repetitions=1)");
    return;
  }
  for (auto _ : state) {
    static int generation = 0;
    const std::string family_name = std::string(name) + std::to_string(++generation);
    auto family = *g_agent->AddHistogram(family_name, "Bench.", kBuckets, {"i"}, f);
    vitals::internal::CellStore& store = vitals::internal::CellStore::Get();
    const size_t per_cpu_before = store.promoted_bytes();
    const size_t promoted_before = store.promoted_series();
    // 300 records each: enough to move a series to per-CPU cells while the limit allows.
    for (int i = 0; i < kMany; ++i) {
      vitals::Histogram h = *family.WithLabels({std::to_string(i)});
      for (int r = 0; r < 300; ++r) h.Observe(0.01);
    }
    const double promoted = static_cast<double>(store.promoted_series() - promoted_before);
    uint32_t shared_cells = 0;  // a series' cells, classic and native
    vitals::internal::AgentAccess::Impl(*g_agent).registry().ForEachFamily(
        [&](vitals::internal::Family& each) {
          if (each.name() != family_name) return;
          const vitals::internal::Series* s = each.Find({absl::string_view("0")});
          shared_cells = s->num_cells + s->native_cells();
        });
    const double slots =
        f.exemplars ? (kBuckets.size() + 1) * sizeof(vitals::internal::ExemplarSlot) : 0;
    state.counters["shared_bytes_per_series"] =
        static_cast<double>(vitals::internal::CellStore::SharedBytes(shared_cells));
    state.counters["per_cpu_bytes_per_promoted"] =
        promoted == 0 ? 0 : static_cast<double>(store.promoted_bytes() - per_cpu_before) / promoted;
    state.counters["promoted_series"] = promoted;
    state.counters["exemplar_bytes_per_series"] = static_cast<double>(slots);
    state.counters["cpu_copies"] = store.copies();
  }
}
void BM_SeriesMemory_Classic(benchmark::State& state) { SeriesMemory(state, "mem_classic", {}); }
BENCHMARK(BM_SeriesMemory_Classic)->Iterations(1);
void BM_SeriesMemory_Native(benchmark::State& state) {
  vitals::HistogramFeatures f;
  f.native = true;
  SeriesMemory(state, "mem_native", f);
}
BENCHMARK(BM_SeriesMemory_Native)->Iterations(1);
void BM_SeriesMemory_Exemplars(benchmark::State& state) {
  vitals::HistogramFeatures f;
  f.exemplars = true;
  SeriesMemory(state, "mem_exemplars", f);
}
BENCHMARK(BM_SeriesMemory_Exemplars)->Iterations(1);

// --- an outbound call's record on a pre-resolved upstream handle (issue 19): the baseline is
// prometheus-cpp's observe on a pre-resolved histogram (BM_Observe_PrometheusCpp) ---
void BM_UpstreamRecord_Vitals(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) g_upstream.Record(200, absl::Microseconds(++i & 1023));
}
BENCHMARK(BM_UpstreamRecord_Vitals)->Threads(1)->Threads(2)->UseRealTime();

// --- a circuit breaker's permit and outcome (issue 19) against a mutex-guarded breaker with
// the same count-based window (the usual hand-written one; resilience4j guards its window
// with a lock too) ---
class MutexBreaker {
 public:
  explicit MutexBreaker(int window) : ring_(static_cast<size_t>(window), 0) {}
  bool TryAcquire() {
    std::lock_guard<std::mutex> lock(mu_);
    return !open_;
  }
  void OnResult(bool failed) {
    std::lock_guard<std::mutex> lock(mu_);
    uint8_t& slot = ring_[pos_++ % ring_.size()];
    if (slot != 0) {
      --calls_;
      failures_ -= slot == 2;
    }
    slot = failed ? 2 : 1;
    ++calls_;
    failures_ += failed;
    if (calls_ >= 100 && failures_ * 2 >= calls_) open_ = true;
  }

 private:
  std::mutex mu_;
  std::vector<uint8_t> ring_;
  size_t pos_ = 0;
  int calls_ = 0, failures_ = 0;
  bool open_ = false;
};

// Bound to the agent, so each call also observes resilience4j_circuitbreaker_calls_seconds
// (work the mutex baseline does not do).
void BM_Breaker_Vitals(benchmark::State& state) {
  static vitals::CircuitBreaker* breaker = new vitals::CircuitBreaker("bench", {}, g_agent);
  int64_t i = 0;
  for (auto _ : state) {
    auto permit = breaker->TryAcquire();
    if (permit) breaker->OnSuccess(permit, absl::Microseconds(++i & 1023));
  }
}
BENCHMARK(BM_Breaker_Vitals)->Threads(1)->Threads(2)->UseRealTime();

// The same breaker without an agent: the window alone, as the mutex baseline.
void BM_Breaker_VitalsNoMetrics(benchmark::State& state) {
  static vitals::CircuitBreaker* breaker = new vitals::CircuitBreaker("bench-alone");
  int64_t i = 0;
  for (auto _ : state) {
    auto permit = breaker->TryAcquire();
    if (permit) breaker->OnSuccess(permit, absl::Microseconds(++i & 1023));
  }
}
BENCHMARK(BM_Breaker_VitalsNoMetrics)->Threads(1)->Threads(2)->UseRealTime();

void BM_Breaker_Mutex(benchmark::State& state) {
  static MutexBreaker* breaker = new MutexBreaker(100);
  for (auto _ : state) {
    if (breaker->TryAcquire()) breaker->OnResult(false);
  }
}
BENCHMARK(BM_Breaker_Mutex)->Threads(1)->Threads(2)->UseRealTime();

// --- a task reported to an executor (issue 19): submit, start, finish ---
// vitals: ExecutorMonitor::Submitted and a TaskScope (three clock reads, the queue, remaining
// capacity and active gauges, the completed counter, the wait and run histograms, a stall slot).
void BM_TaskReport_Vitals(benchmark::State& state) {
  for (auto _ : state) {
    const vitals::TaskTicket ticket = g_executor.Submitted();
    vitals::TaskScope task(g_executor, ticket, "bench_task");
  }
}
BENCHMARK(BM_TaskReport_Vitals)->Threads(1)->Threads(2)->UseRealTime();

// The same figures kept with prometheus-cpp (the gauges and counter are atomics there, the
// histograms take their mutex), timed with steady_clock; no stall watch.
struct PromExecutor {
  PromExecutor() {
    auto& gauges =
        prometheus::BuildGauge().Name("executor_gauges").Help("Bench.").Register(*g_registry);
    queued = &gauges.Add({{"g", "queued"}});
    remaining = &gauges.Add({{"g", "remaining"}});
    active = &gauges.Add({{"g", "active"}});
    completed = &prometheus::BuildCounter()
                     .Name("executor_completed_tasks_total")
                     .Help("Bench.")
                     .Register(*g_registry)
                     .Add({});
    auto& hists =
        prometheus::BuildHistogram().Name("executor_seconds").Help("Bench.").Register(*g_registry);
    run = &hists.Add({{"h", "run"}}, kBuckets);
    idle = &hists.Add({{"h", "idle"}}, kBuckets);
  }
  prometheus::Gauge *queued, *remaining, *active;
  prometheus::Counter* completed;
  prometheus::Histogram *run, *idle;
};

void BM_TaskReport_PrometheusCpp(benchmark::State& state) {
  static PromExecutor* e = new PromExecutor();
  for (auto _ : state) {
    e->queued->Increment();
    e->remaining->Decrement();
    const auto submitted = std::chrono::steady_clock::now();
    const auto started = std::chrono::steady_clock::now();
    e->queued->Decrement();
    e->remaining->Increment();
    e->idle->Observe(std::chrono::duration<double>(started - submitted).count());
    e->active->Increment();
    const auto finished = std::chrono::steady_clock::now();
    e->run->Observe(std::chrono::duration<double>(finished - started).count());
    e->completed->Increment();
    e->active->Decrement();
  }
}
BENCHMARK(BM_TaskReport_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

// --- record with method/route/status strings on every call ---
const char* kRoutes[] = {"/users/:id", "/orders", "/search", "/cart/:id"};

void BM_RecordLabels_Vitals(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) {
    ++i;
    g_agent->Record("GET", kRoutes[i & 3], 200, absl::Microseconds(i & 1023));
  }
}
BENCHMARK(BM_RecordLabels_Vitals)->Threads(1)->Threads(2)->UseRealTime();

void BM_RecordLabels_PrometheusCpp(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) {
    ++i;
    g_prom_hist_family
        ->Add({{"http_request_method", "GET"},
               {"http_route", kRoutes[i & 3]},
               {"http_response_status_code", "200"}},
              kBuckets)
        .Observe(Value(i));
  }
}
BENCHMARK(BM_RecordLabels_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

// --- counter increment ---
void BM_Counter_Vitals(benchmark::State& state) {
  for (auto _ : state) g_vitals_counter.Increment();
}
BENCHMARK(BM_Counter_Vitals)->Threads(1)->Threads(2)->UseRealTime();

void BM_Counter_PrometheusCpp(benchmark::State& state) {
  for (auto _ : state) g_prom_counter->Increment();
}
BENCHMARK(BM_Counter_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

// --- a whole timed request: clock reads, the in-flight count up/down, duration observe ---
// (vitals keeps the in-flight count per route and sums it into the active gauge at scrape;
// prometheus-cpp has to move its gauge on every request to offer the same metric.)
void BM_RequestScope_Vitals(benchmark::State& state) {
  for (auto _ : state) {
    vitals::RequestScope scope(g_route);
    scope.set_status(200);
  }
}
BENCHMARK(BM_RequestScope_Vitals)->Threads(1)->Threads(2)->UseRealTime();

// The same timed request from a traced caller: its trace offered as the exemplar of the
// duration's bucket (issue 18's bound: within 1.5x of the untraced request).
void BM_RequestScope_VitalsTraced(benchmark::State& state) {
  for (auto _ : state) {
    vitals::RequestScope scope(g_route);
    scope.set_trace(kTrace);
    scope.set_status(200);
  }
}
BENCHMARK(BM_RequestScope_VitalsTraced)->Threads(1)->Threads(2)->UseRealTime();

void BM_RequestScope_PrometheusCpp(benchmark::State& state) {
  for (auto _ : state) {
    g_prom_active->Increment();
    const auto start = std::chrono::steady_clock::now();
    const auto end = std::chrono::steady_clock::now();
    g_prom_hist->Observe(std::chrono::duration<double>(end - start).count());
    g_prom_active->Decrement();
  }
}
BENCHMARK(BM_RequestScope_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

#if defined(__x86_64__)
// The floor under a timed request on this machine: two TSC reads and two per-CPU adds (a
// sum/count pair and one bucket), with none of a request's bookkeeping. BM_RequestScope_Vitals
// over this is what route, status, database and liveness bookkeeping cost.
void BM_RequestFloor_TwoTscTwoAdds(benchmark::State& state) {
  static const uint64_t cells = vitals::internal::CellStore::Get().Allocate(4);
  for (auto _ : state) {
    const uint64_t start = __rdtsc();
    const uint64_t end = __rdtsc();
    vitals::internal::AddToPair(cells, static_cast<double>(end - start) * 1e-9);
    vitals::internal::AddToCell(cells + 2, 1.0);
  }
}
BENCHMARK(BM_RequestFloor_TwoTscTwoAdds)->Threads(1)->UseRealTime();
#endif

// --- the /metrics body for 10,000 histogram series ---
constexpr int kSeries = 10000;

std::string RouteName(int i) { return "/r" + std::to_string(i % 1000) + "/:id"; }

// One scrape of 10,000 histogram series in `format`, into a reused buffer.
void Exposition10kVitals(benchmark::State& state, vitals::exporters::ExpositionFormat format) {
  vitals::Options o;
  o.read_environment = false;
  o.series_limit = kSeries;
  vitals::Agent agent(o);
  for (int i = 0; i < kSeries; ++i) {
    agent.Record(i % 2 ? "GET" : "POST", RouteName(i), 200 + (i / 2000),
                 absl::Milliseconds(i % 97));
  }
  std::string body;
  auto& exporter = vitals::internal::AgentAccess::Impl(agent).prometheus();
  exporter.Render(body, format);  // warm the reused buffer, as after the first scrape
  int64_t peak_extra = 0;
  for (auto _ : state) {
    const int64_t before = g_live.load();
    g_peak.store(before);
    exporter.Render(body, format);
    peak_extra = std::max<int64_t>(peak_extra, g_peak.load() - before);
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["body_bytes"] = static_cast<double>(body.size());
  state.counters["peak_extra_bytes"] = static_cast<double>(peak_extra);
}

void BM_Exposition10k_Vitals(benchmark::State& state) {
  Exposition10kVitals(state, vitals::exporters::ExpositionFormat::kText);
}
// The same scrape in the formats Prometheus asks for first: OpenMetrics (by default) and
// protobuf (with native histograms on).
void BM_Exposition10k_VitalsOpenMetrics(benchmark::State& state) {
  Exposition10kVitals(state, vitals::exporters::ExpositionFormat::kOpenMetrics);
}
BENCHMARK(BM_Exposition10k_VitalsOpenMetrics)->Unit(benchmark::kMillisecond)->UseRealTime();
void BM_Exposition10k_VitalsProtobuf(benchmark::State& state) {
  Exposition10kVitals(state, vitals::exporters::ExpositionFormat::kProtobuf);
}
BENCHMARK(BM_Exposition10k_VitalsProtobuf)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Exposition10k_Vitals)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Exposition10k_PrometheusCpp(benchmark::State& state) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildHistogram()
                     .Name("http_server_request_duration_seconds")
                     .Help("Bench.")
                     .Register(*registry);
  for (int i = 0; i < kSeries; ++i) {
    family
        .Add({{"http_request_method", i % 2 ? "GET" : "POST"},
              {"http_route", RouteName(i)},
              {"http_response_status_code", std::to_string(200 + i / 2000)}},
             kBuckets)
        .Observe((i % 97) * 0.001);
  }
  prometheus::TextSerializer serializer;
  std::string body;
  int64_t peak_extra = 0;
  for (auto _ : state) {
    const int64_t before = g_live.load();
    g_peak.store(before);
    body = serializer.Serialize(registry->Collect());
    peak_extra = std::max<int64_t>(peak_extra, g_peak.load() - before);
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["body_bytes"] = static_cast<double>(body.size());
  state.counters["peak_extra_bytes"] = static_cast<double>(peak_extra);
}
BENCHMARK(BM_Exposition10k_PrometheusCpp)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
