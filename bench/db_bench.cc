// The cost of recording one database call inside a request, against what a service does by hand
// with prometheus-cpp (a labelled histogram observe per call), in one run.
//
//   build/bench/db_bench --benchmark_min_time=0.5
//
// vitals' call also normalizes the statement (cached per distinct text and thread), finds the
// request current on the thread and counts the call for its query total and N+1 detection;
// prometheus-cpp's only observes a histogram (its labels given per call, or pre-resolved).

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "vitals/agent.h"

namespace {

// The buckets db_client_operation_duration_seconds has in the agent, for the baseline too.
const std::vector<double> kBuckets = vitals::DefaultRequestDurationBuckets();
const char* kStatements[] = {"SELECT name FROM users WHERE id = ?",
                             "SELECT id, user_id, total FROM orders WHERE user_id = ?",
                             "UPDATE accounts SET balance = balance - ? WHERE id = ?"};

vitals::Agent* g_agent;
vitals::RouteHandle g_route;
std::shared_ptr<prometheus::Registry> g_registry;
prometheus::Family<prometheus::Histogram>* g_prom_family;
prometheus::Histogram* g_prom_hist;

}  // namespace

void BenchSetup() {
  vitals::Options o;
  o.read_environment = false;
  o.process_metrics = false;
  o.n_plus_one_threshold = 100000;  // measure recording, not the (once per request) warning
  g_agent = new vitals::Agent(o);
  g_route = g_agent->Route("GET", "/orders");
  g_registry = std::make_shared<prometheus::Registry>();
  g_prom_family = &prometheus::BuildHistogram()
                       .Name("db_client_operation_duration_seconds")
                       .Help("Bench.")
                       .Register(*g_registry);
  g_prom_hist = &g_prom_family->Add({{"db_system_name", "sqlite"},
                                     {"db_operation_name", "SELECT"},
                                     {"db_collection_name", "users"}},
                                    kBuckets);
}

namespace {

// Prepared statements (the same text every call), inside a request.
void BM_DbRecord_Vitals(benchmark::State& state) {
  vitals::RequestScope scope(g_route);
  int64_t i = 0;
  for (auto _ : state) {
    g_agent->RecordDbOperation("sqlite", kStatements[++i % 3], absl::Microseconds(i & 1023));
  }
}
BENCHMARK(BM_DbRecord_Vitals)->Threads(1)->Threads(2)->UseRealTime();

// Statements with their values inlined: every call's text is new and is normalized.
void BM_DbRecordLiterals_Vitals(benchmark::State& state) {
  vitals::RequestScope scope(g_route);
  std::vector<std::string> texts;
  for (int k = 0; k < 256; ++k) {
    texts.push_back("SELECT name, email FROM users WHERE id = " + std::to_string(k * 7919) +
                    " AND status = 'active'");
  }
  int64_t i = 0;
  for (auto _ : state) {
    g_agent->RecordDbOperation("sqlite", texts[++i & 255], absl::Microseconds(i & 1023));
  }
}
BENCHMARK(BM_DbRecordLiterals_Vitals)->Threads(1)->Threads(2)->UseRealTime();

// What a service writes by hand: label values per call.
void BM_DbRecordLabels_PrometheusCpp(benchmark::State& state) {
  static const char* kOps[] = {"SELECT", "SELECT", "UPDATE"};
  static const char* kTables[] = {"users", "orders", "accounts"};
  int64_t i = 0;
  for (auto _ : state) {
    ++i;
    g_prom_family
        ->Add({{"db_system_name", "sqlite"},
               {"db_operation_name", kOps[i % 3]},
               {"db_collection_name", kTables[i % 3]}},
              kBuckets)
        .Observe(static_cast<double>(i & 1023) * 1e-6);
  }
}
BENCHMARK(BM_DbRecordLabels_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

// The floor: a pre-resolved prometheus-cpp histogram, no labels, no statement, no request.
void BM_DbRecordPreResolved_PrometheusCpp(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) g_prom_hist->Observe(static_cast<double>(++i & 1023) * 1e-6);
}
BENCHMARK(BM_DbRecordPreResolved_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
