// agent/root/agent_impl.h: what an Agent is made of. Not API.
//
// Construction order is destruction order reversed, and it matters: readers must be gone before
// what they read (a render after the families were freed is a use after free). The HTTP server
// and every agent thread stop first (Stop(), from the destructor), the final push goes, the
// registry's life ends (handles that outlive the agent record nothing from then), then request
// metrics and families (cells) go, then the log. The server is the agent's, not an exporter's: it
// serves the routes of every HTTP exporter (/metrics, /debug/pprof/*) and an index of them.

#ifndef VITALS_AGENT_ROOT_AGENT_IMPL_H_
#define VITALS_AGENT_ROOT_AGENT_IMPL_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "agent/base/mutex.h"
#include "agent/base/periodic_thread.h"
#include "agent/base/rate_limited_log.h"
#include "agent/cache/cache_metrics.h"
#include "agent/core/registry.h"
#include "agent/db/db_metrics.h"
#include "agent/executor/executor_metrics.h"
#include "agent/http/http_server.h"
#include "agent/process/process_sampler.h"
#include "agent/profiling/auto_profiler.h"
#include "agent/profiling/profiler.h"
#include "agent/requests/request_metrics.h"
#include "agent/root/live_source.h"
#include "agent/root/profiling_source.h"
#include "agent/upstream/upstream_metrics.h"
#include "exporters/live_endpoint.h"
#include "exporters/pprof_endpoint.h"
#include "exporters/prometheus_exporter.h"
#include "exporters/pushgateway_exporter.h"
#include "vitals/options.h"

namespace vitals {
namespace internal {

class AgentImpl {
 public:
  explicit AgentImpl(Options options);
  ~AgentImpl();

  absl::Status Start();
  void Stop();
  // The port the HTTP endpoint listens on; 0 when not serving.
  int port() const;

  const Options& options() const { return options_; }
  Registry& registry() { return *registry_; }
  RequestMetrics& requests() { return *requests_; }
  // The RPC server calls' request metrics (vitals/rpc.h); null only when the process ran out
  // of metric cells.
  RequestMetrics* rpc_requests() { return rpc_requests_.get(); }
  RateLimitedLog& log() { return *log_; }
  // Where the agent's lines go: the options' sink (or stderr) without the lines below
  // `options().log_level`. A circuit breaker bound to the agent logs here.
  const std::shared_ptr<LogSink>& log_sink() const { return log_sink_; }
  exporters::PrometheusExporter& prometheus() { return *prometheus_; }
  Profiler& profiler() { return *profiler_; }
  // Null unless `options().auto_profile` is set.
  AutoProfiler* auto_profiler() { return auto_profiler_.get(); }
  // Null unless `options().pushgateway_url` is set.
  exporters::PushgatewayExporter* pusher() { return pusher_.get(); }
  // Null only if the process ran out of metric cells when the agent was built.
  CacheFamilies* caches() { return caches_.get(); }
  // Null only if the process ran out of metric cells when the agent was built.
  DbMetrics* db() { return db_.get(); }
  // Null only if the process ran out of metric cells when the agent was built.
  UpstreamMetrics* upstreams() { return upstreams_.get(); }
  UpstreamMetrics* rpc_upstreams() { return rpc_upstreams_.get(); }  // RPC client calls
  // Null only if the process ran out of metric cells when the agent was built.
  ExecutorMetrics* executors() { return executors_.get(); }
  // Null when `options().process_metrics` is off.
  ProcessSampler* sampler() { return sampler_.get(); }
  exporters::LiveHistory& live_history() { return *live_history_; }
  const Clock& clock() const { return *clock_; }

  // Idle expiry (Options::series_idle_ttl): one sweep at `now` (the agent clock) of the
  // outbound-call families, the families that opted in, and the upstreams' bookkeeping, then
  // the next epoch. The sweeper thread runs it every IdleSweepPeriod() while started (a tenth
  // of the TTL, 100 ms to 30 s); tests call it with their own clock.
  void SweepIdle(int64_t now);
  absl::Duration IdleSweepPeriod() const;

  // What the HTTP endpoint serves: every exporter's routes and the page that lists them. The
  // server built by Start() serves exactly these; tests drive them without a socket.
  std::vector<http::HttpRoute> HttpRoutes();

 private:
  // Starts the HTTP endpoint with every exporter's routes and an index of them.
  absl::StatusOr<std::unique_ptr<http::HttpServer>> ServeHttp();
  // The URL prefix that names an automatic profile (its id follows), for the log line; empty
  // when nothing serves it.
  std::string AutoProfileUrl(const http::HttpServer* server) const;

  Options options_;
  absl::Status init_status_;  // a bad environment variable or option, reported by Start()
  const Clock* clock_;
  std::shared_ptr<LogSink> log_sink_;
  std::unique_ptr<RateLimitedLog> log_;
  std::unique_ptr<Registry> registry_;
  std::vector<std::pair<std::string, std::string>> service_;  // target_info's labels
  std::unique_ptr<RequestMetrics> requests_;
  std::unique_ptr<RequestMetrics> rpc_requests_;
  std::unique_ptr<ProcessSampler> sampler_;
  std::unique_ptr<CacheFamilies> caches_;
  std::unique_ptr<DbMetrics> db_;
  std::unique_ptr<UpstreamMetrics> upstreams_;
  std::unique_ptr<UpstreamMetrics> rpc_upstreams_;
  std::unique_ptr<ExecutorMetrics> executors_;  // its stall checker runs while started
  std::unique_ptr<exporters::PrometheusExporter> prometheus_;
  std::unique_ptr<Profiler> profiler_;
  std::unique_ptr<AutoProfiler> auto_profiler_;
  std::unique_ptr<ProfilingSource> profiling_source_;
  std::unique_ptr<exporters::PprofEndpoint> pprof_;
  std::unique_ptr<exporters::LiveHistory> live_history_;
  PeriodicThread live_history_thread_;  // one point every sample_interval while started
  PeriodicThread idle_sweep_thread_;    // SweepIdle every IdleSweepPeriod() while started
  std::unique_ptr<LiveSource> live_source_;
  std::unique_ptr<exporters::LiveEndpoint> live_;
  std::unique_ptr<exporters::PushgatewayExporter> pusher_;
  // The endpoint's own figures (vitals_http_*), when it is enabled.
  Gauge http_open_connections_;
  Counter http_closed_[http::kNumCloseReasons];
  std::atomic<bool> per_cpu_full_logged_{false};  // the per-CPU cells' warning, once
  mutable internal::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<http::HttpServer> server_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_AGENT_IMPL_H_
