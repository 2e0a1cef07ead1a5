// The public Agent, and the public constructors that take one: each reaches the agent's
// internals through AgentAccess and turns any exception into a Status at this boundary.

#include "vitals/agent.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/core/callback.h"
#include "agent/profiling/heap_profile.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "agent/upstream/circuit_breaker_metrics.h"
#include "agent/upstream/upstream_metrics.h"

namespace vitals {
namespace {

// Runs `fn`, turning an exception (a dependency's, or bad_alloc) into InternalError saying
// what failed: no exception crosses the public API.
template <typename Fn>
auto Guard(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("vitals: ", what, " failed: ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat("vitals: ", what, " failed"));
  }
}

}  // namespace

Agent::Agent(Options options) : impl_(std::make_unique<internal::AgentImpl>(std::move(options))) {}

Agent::~Agent() { Stop(); }

absl::Status Agent::Start() {
  return Guard("starting the agent", [&] { return impl_->Start(); });
}

void Agent::Stop() { impl_->Stop(); }

absl::Status Agent::SampleProcessNow() {
  internal::ProcessSampler* sampler = impl_->sampler();
  if (sampler == nullptr) {
    return absl::FailedPreconditionError("process metrics are off (options.process_metrics)");
  }
  return Guard("a process sample", [&] { return sampler->SampleOnce(); });
}

int Agent::port() const { return impl_->port(); }

const Options& Agent::options() const { return impl_->options(); }

const Clock& Agent::clock() const { return impl_->clock(); }

RouteHandle Agent::Route(absl::string_view method, absl::string_view route) {
  return RouteHandle(&impl_->requests(), impl_->requests().FindRoute(method, route),
                     impl_->registry().life());
}

RequestStamp Agent::RequestStampNow() const {
  const int64_t raw = internal::RequestMetrics::RawStamp();  // first: see RawStamp
  return RequestStamp(impl_->requests().StampOf(raw));
}

// --- CircuitBreaker's constructor (vitals/circuit_breaker.h): it may see the agent here ---

CircuitBreaker::CircuitBreaker(std::string name, CircuitBreakerOptions options, Agent* agent)
    : name_(std::move(name)), options_(std::move(options)) {
  const Clock* clock = options_.clock != nullptr ? options_.clock
                       : agent != nullptr        ? &agent->clock()
                                                 : &Clock::Default();
  std::shared_ptr<LogSink> log = options_.log_sink;
  if (log == nullptr && agent != nullptr) log = internal::AgentAccess::Impl(*agent).log_sink();
  if (log == nullptr) log = StderrLogSink();
  Init(clock, std::move(log));
  if (agent != nullptr) BindMetrics(internal::AgentAccess::Impl(*agent).registry());
}

RpcMethodHandle Agent::RpcMethod(absl::string_view system, absl::string_view method) {
  internal::RequestMetrics* rpc = impl_->rpc_requests();
  if (rpc == nullptr) return RpcMethodHandle();
  return RpcMethodHandle(
      RouteHandle(rpc, rpc->FindRoute(system, method), impl_->registry().life()));
}

UpstreamHandle Agent::Upstream(absl::string_view method, absl::string_view server_address,
                               int server_port) {
  internal::UpstreamMetrics* upstreams = impl_->upstreams();
  if (upstreams == nullptr) return UpstreamHandle();
  return UpstreamHandle(upstreams, upstreams->Acquire(method, server_address, server_port),
                        impl_->registry().life());
}

UpstreamHandle Agent::RpcUpstream(absl::string_view system, absl::string_view method,
                                  absl::string_view server_address, int server_port) {
  internal::UpstreamMetrics* upstreams = impl_->rpc_upstreams();
  if (upstreams == nullptr) return UpstreamHandle();
  return UpstreamHandle(upstreams, upstreams->Acquire(method, server_address, server_port, system),
                        impl_->registry().life());
}

absl::StatusOr<ExecutorMonitor> Agent::Executor(absl::string_view name,
                                                const ExecutorOptions& options) {
  internal::ExecutorMetrics* executors = impl_->executors();
  if (executors == nullptr) {
    return absl::ResourceExhaustedError("the process ran out of metric cells for executors");
  }
  auto pool = executors->Pool(name, options);
  if (!pool.ok()) return pool.status();
  return ExecutorMonitor(*pool, impl_->registry().life());
}

void Agent::Record(absl::string_view method, absl::string_view route, int status,
                   absl::Duration duration) {
  internal::RequestMetrics& r = impl_->requests();
  r.Record(r.FindRoute(method, route), status, absl::ToInt64Nanoseconds(duration));
}

absl::Status Agent::Push() {
  exporters::PushgatewayExporter* pusher = impl_->pusher();
  if (pusher == nullptr) {
    return absl::FailedPreconditionError("no Pushgateway configured (options.pushgateway_url)");
  }
  return Guard("a push", [&] { return pusher->PushNow(); });
}

absl::StatusOr<std::string> Agent::CpuProfile(absl::Duration duration, ProfileFormat format) {
  return Guard("a CPU profile",
               [&] { return impl_->profiler().CpuProfile(duration, nullptr, format); });
}

absl::StatusOr<std::string> Agent::HeapProfile(ProfileFormat format) {
  return Guard("a heap profile", [format] { return internal::TcmallocHeapSample(format); });
}

std::vector<AutoProfileInfo> Agent::AutoProfiles() {
  internal::AutoProfiler* auto_profiler = impl_->auto_profiler();
  if (auto_profiler == nullptr) return {};
  auto listed = Guard(
      "listing automatic profiles",
      [&]() -> absl::StatusOr<std::vector<AutoProfileInfo>> { return auto_profiler->List(); });
  return listed.ok() ? *std::move(listed) : std::vector<AutoProfileInfo>{};
}

absl::StatusOr<std::string> Agent::AutoProfile(int64_t id) {
  internal::AutoProfiler* auto_profiler = impl_->auto_profiler();
  if (auto_profiler == nullptr) {
    return absl::NotFoundError("automatic profiles are off (Options::auto_profile)");
  }
  return Guard("an automatic profile", [&] { return auto_profiler->Get(id); });
}

void Agent::RecordDbOperation(absl::string_view system, absl::string_view statement,
                              absl::Duration duration, absl::string_view error_type) {
  if (internal::DbMetrics* db = impl_->db(); db != nullptr) {
    db->Record(system, statement, absl::ToInt64Nanoseconds(duration), error_type);
  }
}

absl::Status Agent::SetPlanSource(const DbTarget& target, std::unique_ptr<PlanSource> source) {
  internal::DbMetrics* db = impl_->db();
  if (db == nullptr || db->explainer() == nullptr) {
    return absl::FailedPreconditionError(
        "SetPlanSource: explain_threshold is 0, so no statement is explained");
  }
  return db->explainer()->SetSource(target, std::move(source));
}

bool Agent::HasPlanSource(const DbTarget& target) const {
  internal::DbMetrics* db = impl_->db();
  return db != nullptr && db->explainer() != nullptr && db->explainer()->HasSource(target);
}

DbPool Agent::Pool(absl::string_view name) {
  internal::DbMetrics* db = impl_->db();
  return db != nullptr ? db->Pool(name) : DbPool();
}

CacheMetrics Agent::Cache(absl::string_view name) {
  internal::CacheFamilies* caches = impl_->caches();
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
  return Wrap<CounterFamily>(impl_->registry().GetOrCreate(
      name, help, internal::MetricType::kCounter, std::move(label_names), {}, 0, {},
      internal::FamilyKind::kUser));
}

absl::StatusOr<GaugeFamily> Agent::AddGauge(absl::string_view name, absl::string_view help,
                                            std::vector<std::string> label_names) {
  return Wrap<GaugeFamily>(impl_->registry().GetOrCreate(name, help, internal::MetricType::kGauge,
                                                         std::move(label_names), {}, 0, {},
                                                         internal::FamilyKind::kUser));
}

absl::StatusOr<HistogramFamily> Agent::AddHistogram(absl::string_view name, absl::string_view help,
                                                    std::vector<double> buckets,
                                                    std::vector<std::string> label_names,
                                                    const HistogramFeatures& features) {
  absl::StatusOr<internal::HistogramExtras> extras = internal::ExtrasOf(name, features);
  if (!extras.ok()) return extras.status();
  return Wrap<HistogramFamily>(impl_->registry().GetOrCreate(
      name, help, internal::MetricType::kHistogram, std::move(label_names), std::move(buckets), 0,
      *extras, internal::FamilyKind::kUser));
}

namespace {

std::vector<std::string> LabelNames(std::initializer_list<Label> labels) {
  std::vector<std::string> names;
  for (const Label& l : labels) names.emplace_back(l.name);
  return names;
}

template <typename Handle>
absl::StatusOr<Handle> SeriesOf(absl::StatusOr<internal::Family*> family,
                                std::initializer_list<Label> labels) {
  if (!family.ok()) return family.status();
  return internal::Family::MakeHandle<MetricFamily<Handle>>(*family).WithLabels(labels);
}

}  // namespace

absl::StatusOr<Counter> Agent::GetCounter(absl::string_view name, absl::string_view help,
                                          std::initializer_list<Label> labels) {
  return SeriesOf<Counter>(impl_->registry().GetOrCreateAnyOrder(
                               name, help, internal::MetricType::kCounter, LabelNames(labels)),
                           labels);
}

absl::StatusOr<Gauge> Agent::GetGauge(absl::string_view name, absl::string_view help,
                                      std::initializer_list<Label> labels) {
  return SeriesOf<Gauge>(impl_->registry().GetOrCreateAnyOrder(
                             name, help, internal::MetricType::kGauge, LabelNames(labels)),
                         labels);
}

absl::StatusOr<Histogram> Agent::GetHistogram(absl::string_view name, absl::string_view help,
                                              std::vector<double> buckets,
                                              std::initializer_list<Label> labels,
                                              const HistogramFeatures& features) {
  absl::StatusOr<internal::HistogramExtras> extras = internal::ExtrasOf(name, features);
  if (!extras.ok()) return extras.status();
  return SeriesOf<Histogram>(
      impl_->registry().GetOrCreateAnyOrder(name, help, internal::MetricType::kHistogram,
                                            LabelNames(labels), std::move(buckets), *extras),
      labels);
}

absl::Status Agent::AddInfo(absl::string_view name, absl::string_view help,
                            std::initializer_list<Label> labels) {
  absl::StatusOr<Gauge> series =
      SeriesOf<Gauge>(impl_->registry().GetOrCreateAnyOrder(name, help, internal::MetricType::kInfo,
                                                            LabelNames(labels)),
                      labels);
  if (!series.ok()) return series.status();
  series->Set(1.0);
  return absl::OkStatus();
}

namespace {

internal::ObserveFn ObserveOne(std::function<double()> read) {
  if (!read) return nullptr;
  return [read = std::move(read)](CallbackObserver& o) { return o.Observe(read()); };
}

}  // namespace

absl::StatusOr<CallbackRegistration> Agent::AddGaugeCallback(absl::string_view name,
                                                             absl::string_view help,
                                                             std::function<double()> read) {
  return internal::AddCallback(impl_->registry(), name, help, internal::MetricType::kGauge, {},
                               ObserveOne(std::move(read)));
}

absl::StatusOr<CallbackRegistration> Agent::AddCounterCallback(absl::string_view name,
                                                               absl::string_view help,
                                                               std::function<double()> read) {
  return internal::AddCallback(impl_->registry(), name, help, internal::MetricType::kCounter, {},
                               ObserveOne(std::move(read)));
}

absl::StatusOr<CallbackRegistration> Agent::AddGaugeCallback(
    absl::string_view name, absl::string_view help, std::vector<std::string> label_names,
    std::function<absl::Status(CallbackObserver&)> observe) {
  return internal::AddCallback(impl_->registry(), name, help, internal::MetricType::kGauge,
                               std::move(label_names), std::move(observe));
}

absl::StatusOr<CallbackRegistration> Agent::AddCounterCallback(
    absl::string_view name, absl::string_view help, std::vector<std::string> label_names,
    std::function<absl::Status(CallbackObserver&)> observe) {
  return internal::AddCallback(impl_->registry(), name, help, internal::MetricType::kCounter,
                               std::move(label_names), std::move(observe));
}

absl::Status Agent::RegisterCollectable(const std::weak_ptr<prometheus::Collectable>& collectable) {
#if !VITALS_HAVE_PROMETHEUS_CPP
  return absl::FailedPreconditionError(
      "RegisterCollectable: this vitals was built without the prometheus-cpp bridge "
      "(VITALS_PROMETHEUS_CPP=OFF, or prometheus-cpp was not found when it was built)");
#endif
  if (collectable.expired()) {
    return absl::InvalidArgumentError("RegisterCollectable: the collectable is already destroyed");
  }
  impl_->registry().AddCollectable(collectable);
  return absl::OkStatus();
}

std::string Agent::RenderText() {
  std::string out;
  impl_->prometheus().Render(out);
  return out;
}

// --- Public constructors that take an Agent (vitals/request.h, vitals/db.h) ---

RequestScope::RequestScope(Agent& agent, absl::string_view method, absl::string_view route)
    : RequestScope(agent.Route(method, route)) {}

DbOperation::DbOperation(Agent& agent, absl::string_view system, absl::string_view statement)
    : DbOperation(agent, DbTarget{system}, statement) {}

DbOperation::DbOperation(Agent& agent, const DbTarget& target, absl::string_view statement)
    : DbOperation(internal::AgentAccess::Impl(agent).db(),
                  internal::AgentAccess::Impl(agent).registry().life(), target, statement) {}

}  // namespace vitals
