#include "agent/db/db_metrics.h"

#include <atomic>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "agent/core/family_spec.h"
#include "agent/core/names.h"
#include "agent/db/sql_normalize.h"

namespace vitals {
namespace internal {
namespace {

std::atomic<uint64_t> g_next_id{1};

// Per thread, the last statements seen, so prepared statements (same text every call) are
// normalized and resolved to their series once.
struct StatementEntry {
  uint64_t owner = 0;  // DbMetrics id; 0 = empty
  std::string system, db_namespace, server_address;
  int server_port = 0;
  std::string raw;
  DbMetrics::Call call;
};
constexpr size_t kStatementCacheSize = 64;
thread_local StatementEntry tls_statements[kStatementCacheSize];

}  // namespace

absl::StatusOr<std::unique_ptr<DbMetrics>> DbMetrics::Create(Registry& registry,
                                                             const Options& options,
                                                             const Clock* clock,
                                                             RateLimitedLog* log) {
  std::unique_ptr<DbMetrics> m(new DbMetrics());
  m->id_ = g_next_id.fetch_add(1);
  m->clock_ = clock;
  m->log_ = log;
  m->n_plus_one_log_ = std::make_unique<LogThrottle>(log, clock, absl::Minutes(1));
  m->statements_ = std::make_unique<StatementTable>(kMaxStatements);
  m->threshold_ = static_cast<uint32_t>(options.n_plus_one_threshold);
  absl::Status s = CreateFamilies(
      registry,
      {
          {&m->duration_,
           "db_client_operation_duration_seconds",
           "Duration of database calls, by database system, operation (SELECT, INSERT, ...), "
           "main table and, for failed calls, error type.",
           MetricType::kHistogram,
           {"db_system_name", "db_operation_name", "db_collection_name", "error_type",
            "db_namespace", "server_address", "server_port"},
           // 50 us .. 10 s: a superset of OpenTelemetry's advice for db.client.operation.
           // duration (1 ms .. 10 s), which puts every in-memory or loopback query in one bucket.
           DefaultRequestDurationBuckets(),
           DurationExtras(options.native_histograms, /*exemplars=*/false)},
          {&m->n_plus_one_,
           "vitals_db_n_plus_one_total",
           "Requests that ran one normalized statement at least the N+1 threshold times "
           "(default 5), by route and the table of that statement: a loop of queries a join "
           "would replace.",
           MetricType::kCounter,
           {"http_route", "db_collection_name"}},
          {&m->index_candidates_,
           "vitals_db_index_candidates_total",
           "Plans of slow statements that read a whole table to filter it (a sequential scan "
           "with a filter over at least explain_min_rows estimated rows), by table: a missing "
           "index.",
           MetricType::kCounter,
           {"db_system_name", "db_namespace", "db_collection_name"}},
          {&m->explains_,
           "vitals_db_explains_total",
           "EXPLAINs of slow statements (explain_threshold), by outcome: ok, failed, timeout, "
           "or skipped (no plan source, input over 1 MiB, queue full).",
           MetricType::kCounter,
           {"db_system_name", "outcome"}},
          {&m->pool_count_,
           "db_client_connections_usage",
           "Connections in the pool, by state: idle or used.",
           MetricType::kGauge,
           {"db_client_connection_pool_name", "db_client_connection_state"}},
          {&m->pool_max_,
           "db_client_connection_max",
           "The most connections the pool allows.",
           MetricType::kGauge,
           {"db_client_connection_pool_name"}},
          {&m->pool_pending_,
           "db_client_connection_pending_requests",
           "Callers waiting for a connection from the pool now.",
           MetricType::kGauge,
           {"db_client_connection_pool_name"}},
          {&m->pool_wait_,
           "db_client_connection_wait_time_seconds",
           "Time callers waited to get a connection from the pool.",
           MetricType::kHistogram,
           {"db_client_connection_pool_name"},
           {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}},
          {&m->pool_use_,
           "db_client_connection_use_time_seconds",
           "Time between taking a connection from the pool and giving it back.",
           MetricType::kHistogram,
           {"db_client_connection_pool_name"},
           {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}},
          {&m->pool_create_,
           "db_client_connection_create_time_seconds",
           "Time it took to open a new connection.",
           MetricType::kHistogram,
           {"db_client_connection_pool_name"},
           {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}},
          {&m->pool_timeouts_,
           "db_client_connection_timeouts_total",
           "Callers that gave up waiting for a connection.",
           MetricType::kCounter,
           {"db_client_connection_pool_name"}},
      });
  if (!s.ok()) return s;
  if (options.explain_threshold > absl::ZeroDuration()) {
    m->explain_nanos_ = absl::ToInt64Nanoseconds(options.explain_threshold);
    m->explainer_ = std::make_unique<Explainer>(
        Explainer::Config{options.explain_interval, static_cast<double>(options.explain_min_rows)},
        clock, log, m->index_candidates_, m->explains_);
  }
  return m;
}

DbMetrics::Call DbMetrics::Resolve(const DbTarget& target, absl::string_view statement) {
  const absl::string_view system = target.system;
  const size_t raw_hash = absl::HashOf(system, statement, target.server_port);
  StatementEntry& e = tls_statements[raw_hash % kStatementCacheSize];
  if (e.owner != id_ || e.raw != statement || e.system != system ||
      e.server_port != target.server_port || e.db_namespace != target.db_namespace ||
      e.server_address != target.server_address) {
    NormalizedSql n;
    NormalizeSql(statement, &n);
    const std::string port = target.server_port > 0 ? std::to_string(target.server_port) : "";
    const absl::string_view labels[] = {
        system, n.operation, n.table, "", target.db_namespace, target.server_address, port};
    e.call.duration = duration_->Find(labels);
    e.call.stats = statements_->Find(system, n.text, n.table);
    e.call.hash = absl::HashOf(n.text);
    e.owner = id_;
    e.system.assign(system.data(), system.size());
    e.db_namespace.assign(target.db_namespace.data(), target.db_namespace.size());
    e.server_address.assign(target.server_address.data(), target.server_address.size());
    e.server_port = target.server_port;
    e.raw.assign(statement.data(), std::min(statement.size(), kMaxStatementBytes));
  }
  return e.call;
}

void DbMetrics::RecordCall(const Call& call, int64_t nanos, int64_t start_nanos, int64_t end_nanos,
                           absl::string_view error_type, const PlanInput* plan) {
  Series* series = call.duration;
  if (ABSL_PREDICT_FALSE(!error_type.empty())) {
    // The failed call's series: the same system, operation and table, with its error type.
    const std::vector<std::string>& v = call.duration->values;
    const absl::string_view labels[] = {v[0], v[1], v[2], ErrorTypeLabel(error_type),
                                        v[4], v[5], v[6]};
    series = duration_->Find(labels);
  }
  ObserveInto(*series, ObservedSeconds(nanos));
  StatementTable::Record(call.stats, nanos);
  if (ABSL_PREDICT_FALSE(plan != nullptr && explain_nanos_ > 0 && nanos >= explain_nanos_ &&
                         error_type.empty())) {
    explainer_->Offer(call.stats, call.duration->values, plan->statement, plan->params);
  }

  RequestDb* db = ThreadCurrentRequest().Live();
  if (db == nullptr) return;
  if (end_nanos >= start_nanos) {
    db->LogCall(CallKind::kDb, call.stats != nullptr ? &call.stats->text : nullptr, start_nanos,
                end_nanos);
  } else {
    db->LogCallNanos(CallKind::kDb, ObservedNanos(nanos));
  }
  if (db->Count(call.hash) == threshold_) Detected(*db, call);
}

void DbMetrics::Detected(RequestDb& db, const Call& call) {
  if (db.detecting.exchange(true, std::memory_order_acq_rel)) return;  // once per request
  const RouteLabels* route = db.route.load(std::memory_order_relaxed);
  const std::string& table = call.duration->values[2];
  const absl::string_view labels[] = {
      route != nullptr ? absl::string_view(route->route) : absl::string_view("unknown"), table};
  AddToSeries(*n_plus_one_->Find(labels), 1.0);
  // The statement table's text (normalized, cut at 1,024 bytes; "(other statements)" once the
  // table is full).
  db.statement = call.stats != nullptr ? call.stats->text : std::string();
  db.table = table;
  db.detected_hash.store(call.hash, std::memory_order_relaxed);
  db.detected.store(true, std::memory_order_release);
}

void DbMetrics::RequestFinished(const RouteLabels& route, const RequestDb& db) {
  if (!db.detected.load(std::memory_order_acquire)) return;
  const uint64_t hash = db.detected_hash.load(std::memory_order_relaxed);
  const uint32_t count = db.CountOf(hash);
  patterns_.Add(route.method, route.route, hash, db.statement, db.table, count, clock_->NowNanos());
  // One line per (route, statement) a minute; the throttle adds how many requests it held back.
  const std::string statement =
      db.statement.size() > 200 ? db.statement.substr(0, 200) + "..." : db.statement;
  n_plus_one_log_->Log(
      absl::StrCat(route.method, " ", route.route, "\n", hash), LogSeverity::kWarning,
      absl::StrCat("N+1 queries: ", route.method, " ", route.route, " ran `", statement, "` ",
                   count, " times in one request; use one join or one IN (...) query"));
}

DbPool DbMetrics::Pool(absl::string_view name) {
  const absl::string_view one[] = {name};
  const absl::string_view idle[] = {name, "idle"};
  const absl::string_view used[] = {name, "used"};
  DbPool p;
  p.idle_ = Family::MakeHandle<Gauge>(pool_count_->Find(idle));
  p.used_ = Family::MakeHandle<Gauge>(pool_count_->Find(used));
  p.pending_ = Family::MakeHandle<Gauge>(pool_pending_->Find(one));
  p.max_ = Family::MakeHandle<Gauge>(pool_max_->Find(one));
  p.wait_ = Family::MakeHandle<Histogram>(pool_wait_->Find(one));
  p.use_ = Family::MakeHandle<Histogram>(pool_use_->Find(one));
  p.create_ = Family::MakeHandle<Histogram>(pool_create_->Find(one));
  p.timeouts_ = Family::MakeHandle<Counter>(pool_timeouts_->Find(one));
  return p;
}

}  // namespace internal
}  // namespace vitals
