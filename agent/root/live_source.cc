#include "agent/root/live_source.h"

#include <algorithm>
#include <limits>

namespace vitals {
namespace internal {

exporters::LiveView LiveSource::View() {
  exporters::LiveView v;
  v.now = absl::Now();
  v.service = config_.service;
  v.version = config_.version;
  v.profiling.enabled = config_.profiling;
  v.profiling.auto_enabled = config_.auto_profile;
  v.totals = exporters::ReadLiveTotals(*registry_);
  const int64_t clock_now = clock_->NowNanos();
  // Agent-clock readings (an arbitrary epoch) to wall time, through one pair of readings.
  auto wall = [&](int64_t at_nanos) { return v.now - absl::Nanoseconds(clock_now - at_nanos); };

  // HTTP requests and RPC server calls together: in flight, and the slow ones, newest first.
  int64_t oldest_nanos = 0;
  for (const RequestMetrics* m : {requests_, rpc_}) {
    if (m == nullptr) continue;
    const RequestMetrics::InFlight in_flight = m->RequestsInFlight();
    v.in_flight.count += in_flight.count;
    oldest_nanos = std::max(oldest_nanos, in_flight.oldest_nanos);
    v.slow_requests_total += m->slow_requests().added();
    const bool rpc = m->kind() == RequestKind::kRpc;
    for (const SlowRequestRing::Entry& e : m->slow_requests().Read()) {
      char buf[16];
      v.slow_requests.push_back(exporters::LiveView::SlowRequest{
          wall(e.at_nanos), e.route->method, e.route->route, e.status,
          static_cast<double>(e.duration_nanos) * 1e-9,
          rpc ? std::string(GrpcCodeName(e.status, buf)) : std::string()});
    }
  }
  v.in_flight.oldest_seconds = static_cast<double>(oldest_nanos) * 1e-9;
  std::stable_sort(v.slow_requests.begin(), v.slow_requests.end(),
                   [](const exporters::LiveView::SlowRequest& a,
                      const exporters::LiveView::SlowRequest& b) { return a.at > b.at; });
  if (v.slow_requests.size() > SlowRequestRing::kCapacity) {
    v.slow_requests.resize(SlowRequestRing::kCapacity);
  }
  if (db_ != nullptr) {
    for (StatementTable::Row& r : db_->statements().Top(kTopStatements)) {
      exporters::LiveView::Statement s{
          std::move(r.system), std::move(r.text), std::move(r.table), r.calls,
          r.total_seconds,     r.max_seconds,     std::nullopt};
      if (r.plan != nullptr) {
        exporters::LiveView::Statement::Plan p;
        p.at = wall(r.plan->at_nanos);
        p.top = r.plan->top;
        p.text = r.plan->text;
        p.error = r.plan->error;
        for (const StatementPlan::Candidate& c : r.plan->candidates) {
          p.candidates.push_back({c.table, c.columns, c.rows, c.table_rows});
        }
        s.plan = std::move(p);
      }
      v.statements.push_back(std::move(s));
    }
    for (NPlusOneTable::Pattern& p : db_->n_plus_one_patterns().Read()) {
      v.n_plus_one.push_back(exporters::LiveView::NPlusOne{
          std::move(p.method), std::move(p.route), std::move(p.statement), std::move(p.table),
          p.requests, p.last_calls, p.max_calls, wall(p.last_at_nanos)});
    }
  }
  for (const Registry::Budget& b : registry_->SeriesBudget()) {
    v.series_total += static_cast<double>(b.series);
    if (v.series_budget.size() < exporters::LiveView::kMaxSeriesBudgetRows) {
      v.series_budget.push_back(exporters::LiveView::SeriesBudget{
          b.family->name(), static_cast<double>(b.series), static_cast<double>(b.limit),
          b.overflowed,
          b.expires ? static_cast<double>(b.expired) : std::numeric_limits<double>::quiet_NaN()});
    }
  }
  const ThreadCpu::Look threads = threads_.Take();
  v.threads.count = threads.count;
  v.threads.window_seconds = threads.window_seconds;
  for (const ThreadCpu::Thread& t : threads.busiest) {
    v.threads.busiest.push_back(
        exporters::LiveView::Thread{t.tid, t.name, t.cpu_seconds, t.cpu_share});
  }
  v.history_interval_seconds = absl::ToDoubleSeconds(config_.interval);
  v.history = history_->Read();
  return v;
}

}  // namespace internal
}  // namespace vitals
