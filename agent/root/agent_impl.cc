#include "agent/root/agent_impl.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/base/listen_address.h"
#include "agent/base/procfs.h"
#include "agent/core/cell_store.h"
#include "agent/core/family_spec.h"
#include "agent/core/series_reclaim.h"
#include "agent/http/basic_auth.h"
#include "agent/root/identity.h"
#include "agent/root/options_table.h"
#include "vitals/version.h"

namespace vitals {
namespace internal {
namespace {

std::string ProgramName() {
  auto comm = Procfs::ReadPath("/proc/self/comm");
  std::string name = comm.ok() ? std::string(absl::StripAsciiWhitespace(*comm)) : "";
  return name.empty() ? "vitals" : name;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "unknown";
  return buf;
}

}  // namespace

AgentImpl::AgentImpl(Options options) : options_(std::move(options)) {
  // One bad optional value never costs the service its metrics: it is logged (below) and
  // replaced. Only options with no safe fallback (the address, TLS, credentials, the
  // Pushgateway) make Start() fail.
  std::vector<std::string> warnings;
  const EnvLookup no_environment = [](const char*) -> const char* { return nullptr; };
  init_status_ = SettleOptions(
      options_, options_.read_environment ? EnvLookup(&std::getenv) : no_environment, &warnings);
  if (options_.read_environment) {
    for (std::string& w : UnknownVariableWarnings(VitalsVariableNames())) {
      warnings.push_back(std::move(w));
    }
  }
  clock_ = options_.clock != nullptr ? options_.clock
           : options_.fast_clock     ? &Clock::Default()
                                     : &Clock::Steady();
  log_sink_ = MinSeverityLogSink(options_.log_sink ? options_.log_sink : StderrLogSink(),
                                 options_.log_level);
  log_ =
      std::make_unique<RateLimitedLog>(log_sink_, &Clock::Steady(), options_.log_lines_per_second,
                                       options_.log_burst, options_.log_level);
  for (const std::string& w : warnings) log_->Write(LogSeverity::kWarning, w);
  CellStore::Get().SetPerCpuLimit(static_cast<size_t>(options_.per_cpu_memory_mib) << 20);
  if (std::string why;
      options_.series_idle_ttl > absl::ZeroDuration() && !CanReuseRemovedSeries(&why)) {
    // Expiring without reuse would only grow memory past what the series limit bounds now.
    log_->Write(LogSeverity::kWarning,
                absl::StrCat("series_idle_ttl: idle series are kept, as with series_idle_ttl=0: "
                             "removed series cannot be reused in this process (",
                             why, ")"));
    options_.series_idle_ttl = absl::ZeroDuration();
  }
  registry_ = std::make_unique<Registry>(static_cast<size_t>(options_.series_limit), clock_);
  if (options_.series_idle_ttl > absl::ZeroDuration()) registry_->EnableIdleExpiry();
  registry_->SetConstantLabels(
      {options_.constant_labels.begin(), options_.constant_labels.end()});  // checked: usable
  registry_->ConfigureCallbacks(options_.callback_timeout, log_.get());
  auto requests = RequestMetrics::Create(*registry_, options_, clock_, log_.get());
  if (requests.ok()) {
    requests_ = std::move(*requests);
  } else {
    // Only reachable if the process has no metric cells left; keep a working agent anyway.
    if (init_status_.ok()) init_status_ = requests.status();
    Options defaults;
    requests_ = std::move(*RequestMetrics::Create(*registry_, defaults, clock_, log_.get()));
  }
  if (auto rpc =
          RequestMetrics::Create(*registry_, options_, clock_, log_.get(), RequestKind::kRpc);
      rpc.ok()) {
    rpc_requests_ = std::move(*rpc);
  } else if (init_status_.ok()) {
    init_status_ = rpc.status();  // no cells left: RPC calls record nothing, Start() says why
  }
  // Who this process is (agent/root/identity.h): target_info, as OpenTelemetry writes it.
  {
    std::vector<std::string> identity_warnings;
    const EnvLookup no_env = [](const char*) -> const char* { return nullptr; };
    const LabelPairs identity =
        ResolveIdentity(options_, options_.read_environment ? EnvLookup(&std::getenv) : no_env,
                        ProgramName(), &identity_warnings);
    for (const std::string& w : identity_warnings) log_->Write(LogSeverity::kWarning, w);
    std::vector<std::string> names;
    std::vector<absl::string_view> values;
    for (const auto& [name, value] : identity) {
      names.push_back(name);
      values.push_back(value);
    }
    auto target = registry_->GetOrCreate("target_info", "Target metadata", MetricType::kInfo,
                                         std::move(names), {});
    if (target.ok()) {
      (*target)->set_identity();
      Family::SetValue((*target)->Find(values), 1.0);
      service_ = identity;
    }
  }
  Family* build_info = nullptr;
  if (CreateFamilies(*registry_, {{&build_info,
                                   "vitals_build_info",
                                   "Always 1; the version of the vitals agent serving these "
                                   "metrics.",
                                   MetricType::kInfo,
                                   {"version"}}})
          .ok()) {
    const absl::string_view version = kVersion;
    Family::SetValue(build_info->Find(absl::MakeConstSpan(&version, 1)), 1.0);
  }
  Family *per_cpu = nullptr, *per_cpu_limit = nullptr;
  if (CreateFamilies(*registry_,
                     {{&per_cpu, "vitals_per_cpu_memory_bytes",
                       "Bytes the per-CPU cells of busy series take now, in the whole process.",
                       MetricType::kGauge},
                      {&per_cpu_limit, "vitals_per_cpu_memory_limit_bytes",
                       "The most bytes per-CPU cells may take in the whole process "
                       "(per_cpu_memory_mib); busy series past it stay shared.",
                       MetricType::kGauge}})
          .ok()) {
    Series* bytes = per_cpu->Find({});
    Series* limit = per_cpu_limit->Find({});
    registry_->AddRefresher("vitals_per_cpu_memory_bytes", [this, bytes, limit] {
      const CellStore& store = CellStore::Get();
      Family::SetValue(bytes, static_cast<double>(store.promoted_bytes()));
      Family::SetValue(limit, static_cast<double>(store.per_cpu_limit()));
      if (store.per_cpu_full() && !per_cpu_full_logged_.exchange(true)) {
        log_->Log(LogSeverity::kWarning,
                  absl::StrCat("per-CPU cells are full (", store.promoted_bytes(), " of ",
                               store.per_cpu_limit(),
                               " bytes): series written often from now on stay shared, a "
                               "compare-and-swap per record; raise per_cpu_memory_mib "
                               "(VITALS_PER_CPU_MEMORY_MIB) if that shows"));
      }
    });
  }
  if (auto upstreams = UpstreamMetrics::Create(
          *registry_, DefaultRequestDurationBuckets(), clock_,
          static_cast<size_t>(options_.series_limit),
          options_.series_idle_ttl > absl::ZeroDuration() ? registry_->idle_epoch() : nullptr);
      upstreams.ok()) {
    upstreams_ = std::move(*upstreams);
  }
  if (auto upstreams = UpstreamMetrics::Create(
          *registry_, DefaultRequestDurationBuckets(), clock_,
          static_cast<size_t>(options_.series_limit),
          options_.series_idle_ttl > absl::ZeroDuration() ? registry_->idle_epoch() : nullptr,
          UpstreamKind::kRpc);
      upstreams.ok()) {
    rpc_upstreams_ = std::move(*upstreams);
  }
  if (auto executors = ExecutorMetrics::Create(*registry_, clock_, log_.get()); executors.ok()) {
    executors_ = std::move(*executors);
  }
  if (auto caches = CacheFamilies::Create(*registry_); caches.ok()) {
    caches_ = std::move(*caches);
  } else if (init_status_.ok()) {
    init_status_ = caches.status();  // no cells left: caches record nothing, Start() says why
  }
  if (auto db = DbMetrics::Create(*registry_, options_, clock_, log_.get()); db.ok()) {
    db_ = std::move(*db);
    requests_->set_observer(db_.get());
    if (rpc_requests_ != nullptr) rpc_requests_->set_observer(db_.get());
  } else if (init_status_.ok()) {
    init_status_ = db.status();
  }
  if (options_.process_metrics) {
    auto sampler = ProcessSampler::Create(
        *registry_, options_, ProcessSampler::DefaultSources(options_, clock_), log_.get());
    if (sampler.ok()) {
      sampler_ = std::move(*sampler);
    } else if (init_status_.ok()) {
      init_status_ = sampler.status();  // a name taken, or no cells left: Start() says so
    }
  }
  prometheus_ = std::make_unique<exporters::PrometheusExporter>(
      *registry_, log_.get(), &Clock::Steady(), options_.gzip, options_.metrics_basic_auth);
  if (options_.http_enabled) {
    Family* open = nullptr;
    Family* closed = nullptr;
    absl::Status s = CreateFamilies(
        *registry_,
        {
            {&open, "vitals_http_connections", "Connections open to the agent's HTTP endpoint."},
            {&closed,
             "vitals_http_connections_closed_total",
             "Connections the agent's HTTP endpoint closed before a complete exchange, by "
             "reason: limit (made room at the connection cap), header_timeout, "
             "request_timeout, tls_handshake, malformed (answered 4xx), busy (answered 503).",
             MetricType::kCounter,
             {"reason"}},
        });
    if (s.ok()) {
      http_open_connections_ = Family::MakeHandle<Gauge>(open->Find({}));
      for (int i = 0; i < http::kNumCloseReasons; ++i) {
        const absl::string_view reason = http::CloseReasonName(static_cast<http::CloseReason>(i));
        http_closed_[i] =
            Family::MakeHandle<Counter>(closed->Find(absl::MakeConstSpan(&reason, 1)));
      }
    } else if (init_status_.ok()) {
      init_status_ = s;
    }
  }
  profiler_ = std::make_unique<Profiler>(options_.profile_max_duration);
  if (options_.auto_profile) {
    AutoProfiler::Config config;
    config.slow_requests = options_.auto_profile_slow_requests;
    config.duration = options_.auto_profile_duration;
    config.cooldown = options_.auto_profile_cooldown;
    config.keep = options_.auto_profile_keep;
    Profiler* profiler = profiler_.get();
    auto created = AutoProfiler::Create(
        *registry_, config,
        [profiler](absl::Duration duration, const std::function<bool()>& cancelled) {
          return profiler->CpuProfile(duration, cancelled, ProfileFormat::kPprof);
        },
        clock_, log_.get());
    if (created.ok()) {
      auto_profiler_ = std::move(*created);
      requests_->set_slow_listener(auto_profiler_.get());
      if (rpc_requests_ != nullptr) rpc_requests_->set_slow_listener(auto_profiler_.get());
    } else if (init_status_.ok()) {
      init_status_ = created.status();
    }
  }
  if (options_.mutex_profile_fraction > 0) {
    MutexProfile::SetFraction(options_.mutex_profile_fraction);
  }
  profiling_source_ = std::make_unique<ProfilingSource>(profiler_.get(), auto_profiler_.get());
  pprof_ = std::make_unique<exporters::PprofEndpoint>(options_, profiling_source_.get());
  // The live page's history: 15 minutes of points at the sample interval (at least 16 points,
  // for long intervals), at most 1 MB.
  live_history_ = std::make_unique<exporters::LiveHistory>(
      registry_.get(), options_.sample_interval,
      std::max(absl::Minutes(15), 16 * options_.sample_interval), 1 << 20);
  LiveSource::Config live;
  // The service's name when it was given one (target_info's), else the program's.
  live.service = ProgramName();
  for (const auto& [name, value] : service_) {
    if (name == "service_name" && !absl::StartsWith(value, "unknown_service:"))
      live.service = value;
  }
  live.version = std::string(kVersion);
  live.profiling = options_.profiling;
  live.auto_profile = options_.auto_profile;
  live.interval = options_.sample_interval;
  live_source_ =
      std::make_unique<LiveSource>(live, clock_, registry_.get(), requests_.get(), db_.get(),
                                   live_history_.get(), options_.proc_root, rpc_requests_.get());
  exporters::PprofEndpoint* pprof = pprof_.get();
  live_ = std::make_unique<exporters::LiveEndpoint>(
      options_, live_source_.get(),
      options_.profiling ? exporters::LiveEndpoint::ProfilingCheck(
                               [pprof](const http::HttpRequest& req) { return pprof->Allows(req); })
                         : nullptr);
  if (!options_.pushgateway_url.empty()) {
    Options push = options_;
    if (push.job.empty()) push.job = ProgramName();
    if (push.push_grouping.empty()) push.push_grouping["instance"] = HostName();
    ProcessSampler* sampler = sampler_.get();
    auto pusher = exporters::PushgatewayExporter::Create(*registry_, push, log_.get(), [sampler] {
      if (sampler != nullptr) sampler->SampleOnce().IgnoreError();  // fresh figures in each push
    });
    if (pusher.ok()) {
      pusher_ = std::move(*pusher);
    } else if (init_status_.ok()) {
      init_status_ = pusher.status();
    }
  }
}

AgentImpl::~AgentImpl() {
  Stop();
  if (pusher_ != nullptr) pusher_->Stop();  // the final push, also for an agent never started
  // From here every handle, scope and breaker bound to this agent records nothing, so the
  // ones that outlive it (a static breaker or cache, a handle kept in a global) are safe.
  registry_->Retire();
}

absl::Status AgentImpl::Start() {
  if (!init_status_.ok()) return init_status_;
  internal::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("the agent is already started");
  profiler_->Resume();
  std::unique_ptr<http::HttpServer> server;
  if (options_.http_enabled) {
    auto started = ServeHttp();
    if (!started.ok()) return started.status();
    server = std::move(*started);
  }
  if (sampler_ != nullptr) {
    if (absl::Status s = sampler_->Start(); !s.ok()) {
      if (server != nullptr) server->Stop();
      return s;
    }
  }
  if (pusher_ != nullptr) pusher_->Start();
  // Fails only when already running, which `started_` rules out.
  if (executors_ != nullptr) executors_->Start(kStallCheckInterval).IgnoreError();
  if (auto_profiler_ != nullptr) auto_profiler_->Start(AutoProfileUrl(server.get()));
  if (options_.http_enabled) {
    exporters::LiveHistory* history = live_history_.get();
    history->Sample(absl::Now());  // the first point: rates start at the next one
    // Start fails only when already running, which `started_` rules out.
    live_history_thread_
        .Start(options_.sample_interval, [history] { history->Sample(absl::Now()); })
        .IgnoreError();
  }
  if (options_.series_idle_ttl > absl::ZeroDuration()) {
    // Fails only when already running, which `started_` rules out.
    idle_sweep_thread_.Start(IdleSweepPeriod(), [this] { SweepIdle(clock_->NowNanos()); })
        .IgnoreError();
  }
  server_ = std::move(server);
  started_ = true;
  return absl::OkStatus();
}

absl::Duration AgentImpl::IdleSweepPeriod() const {
  return std::clamp(options_.series_idle_ttl / 10, absl::Milliseconds(100), absl::Seconds(30));
}

void AgentImpl::SweepIdle(int64_t now) {
  const int64_t ttl = absl::ToInt64Nanoseconds(options_.series_idle_ttl);
  if (ttl <= 0) return;
  if (upstreams_ != nullptr) upstreams_->SweepIdle(now, ttl);
  if (rpc_upstreams_ != nullptr) rpc_upstreams_->SweepIdle(now, ttl);
  registry_->SweepIdle(now, ttl);
  registry_->AdvanceIdleEpoch();
}

std::vector<http::HttpRoute> AgentImpl::HttpRoutes() {
  std::vector<http::HttpRoute> routes = {prometheus_->Route()};
  for (http::HttpRoute& r : pprof_->Routes()) routes.push_back(std::move(r));
  routes.push_back(live_->JsonRoute());
  std::vector<std::pair<std::string, std::string>> links;
  for (const http::HttpRoute& r : routes) {
    // With profiling off its paths answer 404 with the reason; the page does not offer them.
    const bool hidden = !options_.profiling && absl::StartsWith(r.path, "/debug/");
    if (!r.description.empty() && !hidden) links.emplace_back(r.path, r.description);
  }
  routes.push_back(live_->PageRoute(links));
  return routes;
}

absl::StatusOr<std::unique_ptr<http::HttpServer>> AgentImpl::ServeHttp() {
  auto address = ParseListenAddress(options_.listen);
  if (!address.ok()) return address.status();
  http::HttpServer::Config config;
  config.address = *address;
  config.slow_threads = options_.http_threads;
  config.header_timeout = options_.http_header_timeout;
  config.request_timeout = options_.http_request_timeout;
  config.max_connections = options_.http_max_connections;
  config.tls =
      http::TlsFiles{options_.tls_cert_file, options_.tls_key_file, options_.tls_client_ca_file};
  config.log = log_.get();
  config.connections_changed = [gauge = http_open_connections_](int delta) { gauge.Add(delta); };
  config.closed_early = [this](http::CloseReason reason) {
    http_closed_[static_cast<int>(reason)].Increment();
  };
  if (!config.tls.enabled() && !address->loopback() &&
      (!options_.metrics_basic_auth.empty() || !options_.profiling_basic_auth.empty())) {
    log_->Log(LogSeverity::kWarning,
              absl::StrCat("basic auth is configured but the endpoint on ", options_.listen,
                           " is plain HTTP: passwords cross the network in clear text; set "
                           "VITALS_TLS_CERT_FILE and VITALS_TLS_KEY_FILE"));
  }
  return http::HttpServer::Start(std::move(config), HttpRoutes());
}

std::string AgentImpl::AutoProfileUrl(const http::HttpServer* server) const {
  if (server == nullptr) return "";
  auto address = ParseListenAddress(options_.listen);
  if (!address.ok()) return "";
  // A wildcard address is reachable on loopback, which is also where profiling answers
  // without credentials.
  std::string host = address->host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (address->ipv6) host = absl::StrCat("[", host, "]");
  const bool tls = !options_.tls_cert_file.empty();
  return absl::StrCat(tls ? "https://" : "http://", host, ":", server->port(),
                      "/debug/pprof/auto/profile?id=");
}

int AgentImpl::port() const {
  internal::MutexLock lock(&mu_);
  return server_ != nullptr ? server_->port() : 0;
}

void AgentImpl::Stop() {
  internal::MutexLock lock(&mu_);
  if (!started_) return;
  if (pusher_ != nullptr) pusher_->Stop();  // the final push, with a fresh sample
  if (sampler_ != nullptr) sampler_->Stop();
  live_history_thread_.Stop();
  idle_sweep_thread_.Stop();
  if (executors_ != nullptr) executors_->Stop();
  if (db_ != nullptr && db_->explainer() != nullptr) db_->explainer()->Stop();  // cancels one
  profiler_->Cancel();  // a profile in progress would hold a worker, and Stop, for its duration
  if (auto_profiler_ != nullptr) auto_profiler_->Stop();
  if (server_ != nullptr) server_->Stop();
  server_.reset();
  started_ = false;
}

}  // namespace internal
}  // namespace vitals
