#include "vitals/agent.h"

#include <unistd.h>

#include <exception>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/agent_core.h"
#include "agent/gperftools.h"
#include "agent/listen_address.h"
#include "agent/procfs.h"
#include "exporters/basic_auth.h"
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

AgentCore::AgentCore(Options options) : options_(std::move(options)) {
  if (options_.read_environment) init_status_ = ApplyEnvironment(options_);
  if (init_status_.ok()) init_status_ = ValidateOptions(options_);
  if (!init_status_.ok()) {
    // Record with what the code asked for, minus what is invalid, so the host keeps working.
    Options fallback;
    fallback.log_sink = options_.log_sink;
    fallback.clock = options_.clock;
    if (ValidateOptions(options_).ok()) fallback = options_;
    options_ = std::move(fallback);
  }
  clock_ = options_.clock != nullptr ? options_.clock
           : options_.fast_clock     ? &Clock::Default()
                                     : &Clock::Steady();
  log_ = std::make_unique<RateLimitedLog>(options_.log_sink, &Clock::Steady(),
                                          options_.log_lines_per_second, options_.log_burst);
  registry_ = std::make_unique<Registry>(static_cast<size_t>(options_.series_limit));
  auto requests = RequestMetrics::Create(*registry_, options_, clock_, log_.get());
  if (requests.ok()) {
    requests_ = std::move(*requests);
  } else {
    // Only reachable if the process has no metric cells left; keep a working agent anyway.
    if (init_status_.ok()) init_status_ = requests.status();
    Options defaults;
    requests_ = std::move(*RequestMetrics::Create(*registry_, defaults, clock_, log_.get()));
  }
  auto build_info = registry_->GetOrCreate(
      "vitals_build_info", "Always 1; the version of the vitals agent serving these metrics.",
      MetricType::kGauge, {"version"}, {});
  if (build_info.ok()) {
    const absl::string_view version = kVersion;
    Family::SetValue((*build_info)->Find(absl::MakeConstSpan(&version, 1)), 1.0);
  }
  if (auto caches = CacheFamilies::Create(*registry_); caches.ok()) {
    caches_ = std::move(*caches);
  } else if (init_status_.ok()) {
    init_status_ = caches.status();  // no cells left: caches record nothing, Start() says why
  }
  if (auto db = DbMetrics::Create(*registry_, options_, clock_, log_.get()); db.ok()) {
    db_ = std::move(*db);
    requests_->set_db(db_.get());
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
    FamilyBatch batch(*registry_);
    Family* open = nullptr;
    Family* closed = nullptr;
    batch.Add(&open, "vitals_http_connections", "Connections open to the agent's HTTP endpoint.");
    batch.Add(&closed, "vitals_http_connections_closed_total",
              "Connections the agent's HTTP endpoint closed before a complete exchange, by reason: "
              "limit (made room at the connection cap), header_timeout, request_timeout, "
              "tls_handshake, malformed (answered 4xx), busy (answered 503).",
              MetricType::kCounter, {"reason"});
    if (batch.status().ok()) {
      http_open_connections_ = Family::MakeHandle<Gauge>(open->Find({}));
      for (int i = 0; i < exporters::kNumCloseReasons; ++i) {
        const absl::string_view reason =
            exporters::CloseReasonName(static_cast<exporters::CloseReason>(i));
        http_closed_[i] =
            Family::MakeHandle<Counter>(closed->Find(absl::MakeConstSpan(&reason, 1)));
      }
    } else if (init_status_.ok()) {
      init_status_ = batch.status();
    }
  }
  profiler_ = std::make_unique<Profiler>(options_.profile_max_duration);
  pprof_ = std::make_unique<exporters::PprofEndpoint>(options_, profiler_.get());
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

AgentCore::~AgentCore() {
  Stop();
  if (pusher_ != nullptr) pusher_->Stop();  // the final push, also for an agent never started
}

absl::Status AgentCore::Start() {
  if (!init_status_.ok()) return init_status_;
  internal::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("the agent is already started");
  profiler_->Resume();
  std::unique_ptr<exporters::HttpServer> server;
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
  server_ = std::move(server);
  started_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<exporters::HttpServer>> AgentCore::ServeHttp() {
  auto address = ParseListenAddress(options_.listen);
  if (!address.ok()) return address.status();
  std::vector<exporters::HttpRoute> routes = {prometheus_->Route()};
  for (exporters::HttpRoute& r : pprof_->Routes()) routes.push_back(std::move(r));
  std::string index =
      "<!doctype html><html><head><title>vitals</title></head><body>\n<h1>vitals agent</h1>\n"
      "<ul>\n";
  for (const exporters::HttpRoute& r : routes) {
    if (!r.description.empty()) {
      absl::StrAppend(&index, "<li><a href=\"", r.path, "\">", r.path, "</a>: ", r.description,
                      "</li>\n");
    }
  }
  absl::StrAppend(&index, "</ul>\n</body></html>\n");
  routes.push_back(
      exporters::HttpRoute{"/", "",
                           [index, auth = options_.metrics_basic_auth](
                               const exporters::HttpRequest& req, exporters::HttpResponse& resp) {
                             if (!exporters::CheckBasicAuth(req, auth, "vitals metrics", resp))
                               return;
                             resp.content_type = "text/html; charset=utf-8";
                             resp.body = index;
                           }});
  exporters::HttpServer::Config config;
  config.address = *address;
  config.slow_threads = options_.http_threads;
  config.header_timeout = options_.http_header_timeout;
  config.request_timeout = options_.http_request_timeout;
  config.max_connections = options_.http_max_connections;
  config.tls = exporters::TlsFiles{options_.tls_cert_file, options_.tls_key_file,
                                   options_.tls_client_ca_file};
  config.log = log_.get();
  config.open_connections = http_open_connections_;
  for (int i = 0; i < exporters::kNumCloseReasons; ++i) config.closed[i] = http_closed_[i];
  const bool loopback = absl::StartsWith(address->host, "127.") || address->host == "::1";
  if (!config.tls.enabled() && !loopback &&
      (!options_.metrics_basic_auth.empty() || !options_.profiling_basic_auth.empty())) {
    log_->Log(LogSeverity::kWarning,
              absl::StrCat("basic auth is configured but the endpoint on ", options_.listen,
                           " is plain HTTP: passwords cross the network in clear text; set "
                           "VITALS_TLS_CERT_FILE and VITALS_TLS_KEY_FILE"));
  }
  return exporters::HttpServer::Start(std::move(config), std::move(routes));
}

int AgentCore::port() const {
  internal::MutexLock lock(&mu_);
  return server_ != nullptr ? server_->port() : 0;
}

void AgentCore::Stop() {
  internal::MutexLock lock(&mu_);
  if (!started_) return;
  if (pusher_ != nullptr) pusher_->Stop();  // the final push, with a fresh sample
  if (sampler_ != nullptr) sampler_->Stop();
  profiler_->Cancel();  // a profile in progress would hold a worker, and Stop, for its duration
  if (server_ != nullptr) server_->Stop();
  server_.reset();
  started_ = false;
}

}  // namespace internal

Agent::Agent(Options options) : core_(std::make_unique<internal::AgentCore>(std::move(options))) {}

Agent::~Agent() { Stop(); }

absl::Status Agent::Start() {
  try {
    return core_->Start();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("vitals agent failed to start: ", e.what()));
  } catch (...) {
    return absl::InternalError("vitals agent failed to start");
  }
}

void Agent::Stop() { core_->Stop(); }

absl::Status Agent::SampleProcessNow() {
  internal::ProcessSampler* sampler = core_->sampler();
  if (sampler == nullptr) {
    return absl::FailedPreconditionError("process metrics are off (options.process_metrics)");
  }
  try {
    return sampler->SampleOnce();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("vitals: process sample failed: ", e.what()));
  }
}

int Agent::port() const { return core_->port(); }

const Options& Agent::options() const { return core_->options(); }

const Clock& Agent::clock() const { return core_->clock(); }

RouteHandle Agent::Route(absl::string_view method, absl::string_view route) {
  return RouteHandle(&core_->requests(), core_->requests().FindRoute(method, route));
}

void Agent::Record(absl::string_view method, absl::string_view route, int status,
                   absl::Duration duration) {
  internal::RequestMetrics& r = core_->requests();
  r.Record(r.FindRoute(method, route), status, absl::ToInt64Nanoseconds(duration));
}

absl::Status Agent::Push() {
  exporters::PushgatewayExporter* pusher = core_->pusher();
  if (pusher == nullptr) {
    return absl::FailedPreconditionError("no Pushgateway configured (options.pushgateway_url)");
  }
  try {
    return pusher->PushNow();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("vitals: push failed: ", e.what()));
  }
}

absl::StatusOr<std::string> Agent::CpuProfile(absl::Duration duration) {
  try {
    return core_->profiler().CpuProfile(duration, nullptr);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("vitals: CPU profile failed: ", e.what()));
  }
}

absl::StatusOr<std::string> Agent::HeapProfile() {
  try {
    return internal::TcmallocHeapSample();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("vitals: heap profile failed: ", e.what()));
  }
}

void Agent::RecordDbOperation(absl::string_view system, absl::string_view statement,
                              absl::Duration duration) {
  if (internal::DbMetrics* db = core_->db(); db != nullptr) {
    db->Record(system, statement, absl::ToInt64Nanoseconds(duration));
  }
}

DbPool Agent::Pool(absl::string_view name) {
  internal::DbMetrics* db = core_->db();
  return db != nullptr ? db->Pool(name) : DbPool();
}

CacheMetrics Agent::Cache(absl::string_view name) {
  internal::CacheFamilies* caches = core_->caches();
  return caches != nullptr ? caches->Get(name) : CacheMetrics();
}

namespace {

template <typename FamilyHandle>
absl::StatusOr<FamilyHandle> Wrap(absl::StatusOr<internal::Family*> family) {
  if (!family.ok()) return family.status();
  return internal::Family::MakeHandle<FamilyHandle>(*family);
}

}  // namespace

absl::StatusOr<CounterFamily> Agent::AddCounter(absl::string_view name, absl::string_view help,
                                                std::vector<std::string> label_names) {
  return Wrap<CounterFamily>(core_->registry().GetOrCreate(
      name, help, internal::MetricType::kCounter, std::move(label_names), {}));
}

absl::StatusOr<GaugeFamily> Agent::AddGauge(absl::string_view name, absl::string_view help,
                                            std::vector<std::string> label_names) {
  return Wrap<GaugeFamily>(core_->registry().GetOrCreate(name, help, internal::MetricType::kGauge,
                                                         std::move(label_names), {}));
}

absl::StatusOr<HistogramFamily> Agent::AddHistogram(absl::string_view name, absl::string_view help,
                                                    std::vector<double> buckets,
                                                    std::vector<std::string> label_names) {
  return Wrap<HistogramFamily>(core_->registry().GetOrCreate(
      name, help, internal::MetricType::kHistogram, std::move(label_names), std::move(buckets)));
}

absl::Status Agent::RegisterCollectable(const std::weak_ptr<prometheus::Collectable>& collectable) {
  if (collectable.expired()) {
    return absl::InvalidArgumentError("RegisterCollectable: the collectable is already destroyed");
  }
  core_->registry().AddCollectable(collectable);
  return absl::OkStatus();
}

std::string Agent::RenderText() {
  std::string out;
  core_->prometheus().Render(out);
  return out;
}

}  // namespace vitals
