// vitals/agent.h: the in-process agent a service links in.
//
// An `Agent` owns every metric the service records, samples the process (CPU, memory, heap,
// file descriptors, threads; see vitals/process.h) and serves them on one HTTP port:
// `/metrics` (Prometheus text format 0.0.4, gzip on request) and `/` (an index). Create one per
// process, early, and keep it alive as long as anything records into it:
//
//   vitals::Agent agent;                       // options from VITALS_* environment variables
//   if (absl::Status s = agent.Start(); !s.ok()) std::cerr << s << "\n";  // the host runs on
//   vitals::RouteHandle users = agent.Route("GET", "/users/:id");
//   ...
//   { vitals::RequestScope scope(users); scope.set_status(HandleRequest()); }
//
// Thread-safety: every method may be called from any thread at once, except that the
// destructor must not run while other threads still record.
// Lifetime: handles, scopes, breakers and caches bound to the agent may outlive it; once it is
// destroyed they record nothing (vitals/detail/agent_life.h).
// Errors: reported as absl::Status; no exception escapes; the host never crashes because of the
// agent (a port in use, a bad name, a broken client each give a Status or a log line).
// Process-wide effects of `Start()`: none on signals (the server writes with MSG_NOSIGNAL, so
// the host's SIGPIPE disposition is never touched). The listening socket is close-on-exec; a
// child made by fork() without exec inherits it until it exits.

#ifndef VITALS_AGENT_H_
#define VITALS_AGENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vitals/cache.h"
#include "vitals/callback.h"
#include "vitals/circuit_breaker.h"
#include "vitals/client.h"
#include "vitals/db.h"
#include "vitals/detail/export.h"
#include "vitals/executor.h"
#include "vitals/metrics.h"
#include "vitals/options.h"
#include "vitals/process.h"
#include "vitals/profiling.h"
#include "vitals/request.h"
#include "vitals/rpc.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace vitals {

namespace internal {
class AgentImpl;
struct AgentAccess;
}  // namespace internal

class VITALS_EXPORT Agent {
 public:
  // Builds the agent and its built-in metrics; opens no port (see `Start`). When
  // `options.read_environment` is set the VITALS_* variables are applied here. A bad value of
  // an option that may fall back (most) is logged, once, naming it, its value and the value
  // used instead; a bad listen address, TLS file, credential or Pushgateway URL is reported by
  // `Start()` (vitals/options.h).
  explicit Agent(Options options = Options());

  // Stops the agent (see `Stop`) and frees every metric. No thread may record into it any more.
  ~Agent();

  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Takes the first process sample, starts the sampler thread and starts serving on
  // `options().listen`. Returns InvalidArgument for a listen address, TLS file, credential or
  // Pushgateway URL that is not valid (naming the variable or field; other bad options were
  // replaced and logged when the agent was built), Unavailable when the address cannot be bound
  // (the message names the address), FailedPrecondition when already started. Recording works
  // whether or not the agent was started.
  absl::Status Start();

  // Makes the final push (when a Pushgateway is configured), stops the HTTP server, the push
  // thread and the process sampler; metrics stay and recording still works. Idempotent.
  // Returns within milliseconds when no long request is in flight; CPU profiles and symbol
  // lookups in flight are cancelled (their clients get 503) and answers being written get at
  // most 500 ms, so it returns within a second. The final push is bounded by `push_timeout`.
  void Stop();

  // Reads /proc and the allocator now and updates the process and heap metrics (the sampler
  // thread started by `Start()` does this every `sample_interval`). Returns the first source
  // that failed (every failure also counts in `vitals_sampler_errors_total{source}`; the
  // other figures are still updated), FailedPrecondition when process metrics are off.
  absl::Status SampleProcessNow();

  // The TCP port bound by `Start()` (the real one when 0 was asked for); 0 when not serving.
  int port() const;

  // The effective options (code, then environment).
  const Options& options() const;

  // The clock that times requests (`options().clock`, or the default clock).
  const Clock& clock() const;

  // --- Requests (see vitals/request.h) ---

  // Resolves (method, route) once for hot paths.
  RouteHandle Route(absl::string_view method, absl::string_view route);

  // Resolves an RPC server method once (see vitals/rpc.h): `system` is rpc.system.name
  // ("grpc"), `method` the fully qualified method ("package.Service/Method").
  RpcMethodHandle RpcMethod(absl::string_view system, absl::string_view method);

  // Reads the clock requests are timed with, for adapters that time a request before its
  // route is known (RouteHandle::Record with two stamps, RequestDbScope). About 10 ns with the
  // default clock (the TSC).
  RequestStamp RequestStampNow() const;

  // Records one finished request. Cost: a hash-and-probe lookup of (method, route) and the
  // `RouteHandle::Record` cost; no lock after the first request of a (method, route, status).
  void Record(absl::string_view method, absl::string_view route, int status,
              absl::Duration duration);

  // --- Outbound calls (see vitals/client.h) ---

  // Resolves one upstream instance (method, server address, server port) once; keep the
  // handle. Takes a lock the first time a triple is seen. A handle that records nothing when
  // the process ran out of metric cells.
  UpstreamHandle Upstream(absl::string_view method, absl::string_view server_address,
                          int server_port);

  // Resolves an RPC method of a server this service calls (see vitals/rpc.h): a handle whose
  // ClientCallScope records `rpc_client_call_duration_seconds{rpc_system_name, rpc_method,
  // server_address, server_port, rpc_status_code, error_type}` (set_status takes a gRPC code;
  // every code but OK is also the error type) and `vitals_rpc_client_active_calls`, and counts
  // as an outbound call of the request current on the thread. These series expire when idle,
  // as the HTTP client's do.
  UpstreamHandle RpcUpstream(absl::string_view system, absl::string_view method,
                             absl::string_view server_address, int server_port);

  // --- Thread pools (see vitals/executor.h) ---

  // The handle of the pool called `name` (the `name` label), made on first use; the same
  // name with the same options gives the same pool. InvalidArgument for an empty name, a
  // negative size, or a name already reported with other options; ResourceExhausted past 256
  // pools, or when the process ran out of metric cells. Takes a lock; resolve once.
  absl::StatusOr<ExecutorMonitor> Executor(absl::string_view name,
                                           const ExecutorOptions& options = {});

  // --- Databases (see vitals/db.h) ---

  // Records one database call of `statement` (normalized, never a label) on `system`
  // ("postgresql", "sqlite", ...) that took `duration`; inside a request it also counts for
  // that request's query count and N+1 detection. A non-empty `error_type` marks the call
  // failed (OpenTelemetry's error.type: the SQLSTATE, "timeout", ...; cut to 64 bytes) and
  // becomes its `error_type` label. No lock; see vitals/db.h for the cost.
  void RecordDbOperation(absl::string_view system, absl::string_view statement,
                         absl::Duration duration, absl::string_view error_type = {});

  // The plan source that explains slow statements sent to `target` (vitals/explain.h); the
  // agent owns it. FailedPrecondition when Options::explain_threshold is 0 (nothing is
  // explained), AlreadyExists when the target has one, ResourceExhausted past 16 targets.
  // vitals/postgres.h's PgSession installs its own.
  absl::Status SetPlanSource(const DbTarget& target, std::unique_ptr<PlanSource> source);
  // Whether `target` has a plan source.
  bool HasPlanSource(const DbTarget& target) const;

  // The metrics handle of the connection pool called `name` (the `db_client_connection_pool_name`
  // label). Takes a lock; resolve once and keep it.
  DbPool Pool(absl::string_view name);

  // --- Caches (see vitals/cache.h and vitals/lru_cache.h) ---

  // The metrics of the cache called `name` (the `cache` label). Resolve once and keep it:
  // this call takes a lock, the handle's recording calls do not. The same name gives the same
  // series.
  CacheMetrics Cache(absl::string_view name);

  // --- Custom metrics (see vitals/metrics.h) ---
  //
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not start
  // with "__"; `le` and `quantile` are reserved. A name is unique across everything the agent
  // serves (a histogram `x` also owns `x_bucket`, `x_sum`, `x_count`). Asking again for an
  // existing name with the same type and labels returns the existing family; anything else
  // with that name is AlreadyExists. Help text may hold any bytes; it is escaped on output.

  absl::StatusOr<CounterFamily> AddCounter(absl::string_view name, absl::string_view help,
                                           std::vector<std::string> label_names = {});
  absl::StatusOr<GaugeFamily> AddGauge(absl::string_view name, absl::string_view help,
                                       std::vector<std::string> label_names = {});
  // `buckets`: strictly increasing finite upper bounds, 1 to 64 of them (+Inf is implied).
  // `features`: exemplars and native buckets (vitals/metrics.h); InvalidArgument when the
  // native range or schema is out of bounds.
  absl::StatusOr<HistogramFamily> AddHistogram(absl::string_view name, absl::string_view help,
                                               std::vector<double> buckets,
                                               std::vector<std::string> label_names = {},
                                               const HistogramFeatures& features = {});

  // One expression for the common case: the series of `labels` (given by name) of the family
  // `name`, which is created with those label names, in that order, if it does not exist:
  //
  //   absl::StatusOr<vitals::Counter> web =
  //       agent.GetCounter("orders_total", "Orders taken.", {{"channel", "web"}});
  //
  // An existing family must have the same type and the same label names, in any order
  // (AlreadyExists otherwise); other errors as Add* and WithLabels give them. Each call takes the
  // registry's lock and a look-up: keep the handle for hot paths.
  absl::StatusOr<Counter> GetCounter(absl::string_view name, absl::string_view help,
                                     std::initializer_list<Label> labels = {});
  absl::StatusOr<Gauge> GetGauge(absl::string_view name, absl::string_view help,
                                 std::initializer_list<Label> labels = {});
  absl::StatusOr<Histogram> GetHistogram(absl::string_view name, absl::string_view help,
                                         std::vector<double> buckets,
                                         std::initializer_list<Label> labels = {},
                                         const HistogramFeatures& features = {});

  // Metrics whose values a function gives at each scrape (vitals/callback.h says when it runs,
  // how long a scrape waits for it and what happens when it fails). The registration
  // unregisters the function when destroyed. Errors as AddCounter/AddGauge give them, and
  // AlreadyExists when the name belongs to handles or to another live callback.
  //
  //   auto depth = agent.AddGaugeCallback("jobs_queued", "Jobs waiting.",
  //                                       [&] { return double(queue.size()); });
  absl::StatusOr<CallbackRegistration> AddGaugeCallback(absl::string_view name,
                                                        absl::string_view help,
                                                        std::function<double()> read);
  absl::StatusOr<CallbackRegistration> AddCounterCallback(absl::string_view name,
                                                          absl::string_view help,
                                                          std::function<double()> read);
  // Several series of one family in one call: `observe` calls CallbackObserver::Observe for
  // each; series it leaves out are not served until observed again. A non-OK status keeps
  // every series' last value.
  absl::StatusOr<CallbackRegistration> AddGaugeCallback(
      absl::string_view name, absl::string_view help, std::vector<std::string> label_names,
      std::function<absl::Status(CallbackObserver&)> observe);
  absl::StatusOr<CallbackRegistration> AddCounterCallback(
      absl::string_view name, absl::string_view help, std::vector<std::string> label_names,
      std::function<absl::Status(CallbackObserver&)> observe);

  // An info metric (OpenMetrics `info`; client_golang's build-info collector): a series of
  // value 1 whose labels carry facts, such as a version or a configuration's name, that
  // dashboards join on. `name` must end in `_info`. The OpenMetrics format serves the family as
  // type `info` (named without `_info`), the 0.0.4 text and protobuf formats as a gauge. Each
  // call with other label values adds a series to the family (one per loaded plugin, say);
  // calling again with the same ones changes nothing.
  absl::Status AddInfo(absl::string_view name, absl::string_view help,
                       std::initializer_list<Label> labels);

  // --- Push (see Options::pushgateway_url) ---

  // Pushes everything `/metrics` would show to the Pushgateway now, on the calling thread
  // (bounded by push_timeout). FailedPrecondition when no Pushgateway is configured; the
  // failure otherwise (also counted in vitals_push_failures_total). The agent also pushes every
  // push_interval from its own thread, on Stop() and at process exit.
  absl::Status Push();

  // --- Profiling (the same machinery as /debug/pprof; see Options::profiling) ---
  //
  // Available whether or not the HTTP endpoints are enabled. CPU profiles use gperftools'
  // libprofiler, loaded at run time; heap profiles need tcmalloc as the process's allocator
  // and TCMALLOC_SAMPLE_PARAMETER set before start. Profiles come as a gzipped profile.proto,
  // symbolized in the process (vitals/profiling.h), or in gperftools' own format.

  // A CPU profile over `duration` (blocks that long). One CPU profile runs at a time per
  // process. Errors: InvalidArgument (duration not in (0, profile_max_duration]),
  // AlreadyExists (another profile is running), Unimplemented (no libprofiler), Unavailable
  // (no samples: idle process, or SIGPROF owned by the host), Cancelled (the agent stopped
  // meanwhile).
  absl::StatusOr<std::string> CpuProfile(absl::Duration duration,
                                         ProfileFormat format = ProfileFormat::kPprof);

  // tcmalloc's live heap sample. Unimplemented without tcmalloc, FailedPrecondition when
  // sampling is off.
  absl::StatusOr<std::string> HeapProfile(ProfileFormat format = ProfileFormat::kPprof);

  // The automatic profiles kept (Options::auto_profile), newest first; empty when they are off.
  std::vector<AutoProfileInfo> AutoProfiles();
  // One of them, a gzipped profile.proto. NotFound when it is not kept (or they are off).
  absl::StatusOr<std::string> AutoProfile(int64_t id);

  // --- Interop with prometheus-cpp ---

  // Serves a prometheus-cpp `Registry` (or any `Collectable`) on the same endpoint. The agent
  // holds it weakly: destroy it whenever you like. Families whose name the agent already serves
  // are skipped with one log line, so the output never names a metric twice.
  absl::Status RegisterCollectable(const std::weak_ptr<prometheus::Collectable>& collectable);

  // --- Exposition ---

  // The body `/metrics` would serve now (uncompressed). For tests, push exporters and debugging.
  std::string RenderText();

 private:
  friend struct internal::AgentAccess;  // agent/root/agent_access.h
  std::unique_ptr<internal::AgentImpl> impl_;
};

}  // namespace vitals

#endif  // VITALS_AGENT_H_
