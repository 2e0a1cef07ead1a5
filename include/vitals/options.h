// vitals/options.h: everything an operator can configure, in code or from the environment.
//
// Every field that has an environment variable is named after it: field `listen` is
// `VITALS_LISTEN`, `slow_request_threshold` is `VITALS_SLOW_REQUEST_THRESHOLD`, and so on. The
// range of each option, its default and its variable are owned by one table
// (agent/root/options_table.cc), which the README's options table is generated from.
// When `read_environment` is true (the default) the agent applies the environment on top of the
// options it was given, so an operator can change a setting without a rebuild: the environment
// wins. A value that does not parse or is out of range (from the environment or from code) is
// logged once, naming the variable, the value and the value used instead, and the agent runs on
// with that one: one bad optional value never costs the service its metrics. Only the options
// with no safe fallback (listen, the TLS files, the basic-auth credentials, pushgateway_url)
// make `Agent::Start()` fail, naming the variable. A VITALS_* variable that no option reads is
// logged once, with the closest known name.

#ifndef VITALS_OPTIONS_H_
#define VITALS_OPTIONS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "vitals/clock.h"
#include "vitals/detail/export.h"
#include "vitals/log.h"

namespace vitals {

class AllocatorReader;  // vitals/process.h

// The default buckets of the request, outbound-call, database and circuit-breaker duration
// histograms, in seconds: 50 us .. 10 s, 20 bounds:
//   0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,                  (added: C++ routes and
//   0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10    queries take us)
// The second line is OpenTelemetry's advisory list for http.server.request.duration. Its first
// bound, 5 ms, puts every faster request in one bucket, where a percentile is an interpolation
// artefact (a route of 90 us read as p50 2.5 ms); the six bounds below it resolve them, and
// every OpenTelemetry bound is kept, so queries written against those `le` values still work.
// Cost: 23 series per label set (20 buckets, +Inf, _sum, _count) instead of 17.
VITALS_EXPORT std::vector<double> DefaultRequestDurationBuckets();

struct Options {
  // Address of the HTTP endpoint: `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (all IPv4
  // interfaces). Port 0 picks a free port; read it back with `Agent::port()`.
  // Env: VITALS_LISTEN.
  std::string listen = "0.0.0.0:9464";

  // Threads that run the slow handlers (CPU and heap profiles, symbol lookups). Connections
  // cost no thread whatever their number: one I/O thread serves every socket, two more render
  // /metrics. Env: VITALS_HTTP_THREADS.
  int http_threads = 4;

  // A client must send its whole request head within this time of connecting (or of the
  // previous answer on a kept-alive connection), however slowly its bytes come; a TLS handshake
  // counts in it. Env: VITALS_HTTP_HEADER_TIMEOUT, e.g. "5s".
  absl::Duration http_header_timeout = absl::Seconds(5);

  // How long a client may take to send a request body and to take the answer.
  // Env: VITALS_HTTP_REQUEST_TIMEOUT, e.g. "5s" or "500ms".
  absl::Duration http_request_timeout = absl::Seconds(5);

  // Open connections the endpoint keeps at most. At the cap, a new connection makes room by
  // closing the one that has waited longest for its request (idle or slow), never one being
  // answered. Env: VITALS_HTTP_MAX_CONNECTIONS.
  int http_max_connections = 1024;

  // TLS, as the Prometheus exporter toolkit's web config: a PEM certificate chain and its key
  // serve https on `listen`; with `tls_client_ca_file` every client must present a certificate
  // signed by one of those CAs. Files are re-read when they change.
  // Env: VITALS_TLS_CERT_FILE, VITALS_TLS_KEY_FILE, VITALS_TLS_CLIENT_CA_FILE.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;

  // "user:password": /metrics and the index answer only requests with these basic-auth
  // credentials (401 otherwise). Empty: no authentication. Use with TLS off loopback: the agent
  // logs a warning at Start() otherwise. Env: VITALS_METRICS_BASIC_AUTH.
  std::string metrics_basic_auth;

  // Compress `/metrics` with gzip when the client asks for it (Prometheus does).
  // Env: VITALS_GZIP (true/false).
  bool gzip = true;

  // Upper bounds of `http_server_request_duration_seconds`, in seconds, strictly increasing,
  // finite, at most 64 (DefaultRequestDurationBuckets: 50 us .. 10 s).
  // Env: VITALS_REQUEST_DURATION_BUCKETS, e.g. "0.01,0.1,1,10".
  std::vector<double> request_duration_buckets = DefaultRequestDurationBuckets();

  // Keep one exemplar (trace id, span id, value, time) per bucket of each
  // `http_server_request_duration_seconds` series, from requests recorded with a trace
  // (RequestScope::set_trace, RouteHandle::Record, the httplib adapter's `traceparent`). They
  // are served in the OpenMetrics and protobuf formats. Costs 48 bytes per bucket per series.
  // Env: VITALS_EXEMPLARS (true/false).
  bool exemplars = true;

  // Also keep native (sparse exponential) histograms for `http_server_request_duration_seconds`
  // and `db_client_operation_duration_seconds`: schema 3 (8 buckets per power of two, quantiles
  // within about 5%), from 2^-20 s (about 1 us; below counts in the zero bucket) to 4096 s, at
  // most 160 non-empty buckets per series in the exposition (the schema is lowered past that).
  // Served only in the protobuf format, which Prometheus asks for with
  // `--enable-feature=native-histograms`; the classic buckets stay in every format. Costs
  // 257 cells (2 KB) per series per CPU and one more per-CPU add per observation.
  // Env: VITALS_NATIVE_HISTOGRAMS (true/false).
  bool native_histograms = false;

  // Also record request and response body sizes per route (OpenTelemetry's
  // http.server.request.body.size and http.server.response.body.size) in
  // `http_server_request_body_size_bytes` and `http_server_response_body_size_bytes`, by method,
  // route and status code: from the cpp-httplib adapter, RequestScope::set_request_body_size /
  // set_response_body_size, and RouteHandle::RecordBodySizes. Off by default: it doubles the
  // request histograms' series, and a request that carries sizes costs two more observes.
  // Env: VITALS_BODY_SIZES (true/false).
  bool body_sizes = false;

  // A request at least this long counts in `http_server_slow_requests_total` and logs one
  // (rate-limited) warning. Env: VITALS_SLOW_REQUEST_THRESHOLD, e.g. "1s", "250ms".
  absl::Duration slow_request_threshold = absl::Seconds(1);

  // The most series one metric family may hold. Label sets past it are folded into one
  // series whose label values are all `__overflow__`, and counted in
  // `vitals_series_overflow_total{metric}`. Env: VITALS_SERIES_LIMIT.
  int series_limit = 2000;

  // A series of a family that expires idle series, nothing recorded into for this long (it
  // goes after between this and 1.3 times this), leaves the exposition and its memory is
  // reused; the same labels recorded later start from zero, which rate() and increase() take
  // as a counter reset. On by default for the outbound-call families
  // (`http_client_request_duration_seconds`, `http_client_active_requests`: the addresses of
  // the instances a service calls come and go, and each gone instance would otherwise keep
  // its series until the series limit); a family of your own opts in with
  // MetricFamily::ExpireIdleSeries. 0 turns expiry off everywhere; so does a process that
  // cannot reuse removed series (a kernel before 5.10, or a seccomp filter refusing
  // membarrier), where expiring would only grow memory: the agent then logs why.
  // Env: VITALS_SERIES_IDLE_TTL, e.g. "10m".
  absl::Duration series_idle_ttl = absl::Minutes(10);

  // The memory, in MiB, that the per-CPU cells of busy series may take in the whole process
  // (every agent sets it when it is made). A series starts with one shared copy of its cells
  // (8 bytes each); one written often moves to per-CPU cells (8 bytes each per CPU, plus one)
  // while they fit here, and keeps its shared form otherwise. See docs/architecture.md,
  // "Memory per series". Env: VITALS_PER_CPU_MEMORY_MIB.
  int per_cpu_memory_mib = 16;

  // How long a scrape (or push, or live-page sample) waits for the scrape-time callbacks
  // (vitals/callback.h) before it serves their last values; a callback still running then is
  // counted in `vitals_callback_failures_total{reason="timeout"}` and logged.
  // Env: VITALS_CALLBACK_TIMEOUT, e.g. "500ms".
  absl::Duration callback_timeout = absl::Milliseconds(500);

  // Log rate limit: a burst of `log_burst` lines, then at most `log_lines_per_second`.
  // Suppressed lines are counted and reported with the next line that gets through.
  // Env: VITALS_LOG_LINES_PER_SECOND, VITALS_LOG_BURST.
  double log_lines_per_second = 1.0;
  int log_burst = 10;

  // The least severe lines the agent writes: kInfo writes everything, kWarning drops the info
  // lines (memory log, breaker recoveries), kError keeps errors only.
  // Env: VITALS_LOG_LEVEL (info, warning or error).
  LogSeverity log_level = LogSeverity::kInfo;

  // Use the TSC-based clock when the machine allows it (see vitals/clock.h); false forces
  // `steady_clock`. Ignored when `clock` is set. Env: VITALS_FAST_CLOCK (true/false).
  bool fast_clock = true;

  // A request that runs one normalized statement at least this many times counts once in
  // `vitals_db_n_plus_one_total` and logs one warning (see vitals/db.h).
  // Env: VITALS_N_PLUS_ONE_THRESHOLD.
  int n_plus_one_threshold = 5;

  // A request that makes at least `sequential_calls_min` database or outbound calls one after
  // another, none overlapping, which together take at least `sequential_calls_percent` of
  // its time, counts in `vitals_http_server_sequential_calls_total` and logs one warning with
  // its calls (at most one line per route a minute): calls that could perhaps run concurrently.
  // Env: VITALS_SEQUENTIAL_CALLS_MIN, VITALS_SEQUENTIAL_CALLS_PERCENT.
  int sequential_calls_min = 3;
  int sequential_calls_percent = 50;

  // A successful database call at least this long has its statement explained (vitals/
  // explain.h): `EXPLAIN` with the same parameters, never `EXPLAIN ANALYZE`, on the agent's
  // own thread and connection, at most once per statement per `explain_interval`, each
  // database call bounded by `explain_timeout`; a sequential scan with a filter over a table
  // of at least `explain_min_rows` estimated rows counts in `vitals_db_index_candidates_total`.
  // 0 (the default) explains nothing. Env: VITALS_EXPLAIN_THRESHOLD, VITALS_EXPLAIN_INTERVAL,
  // VITALS_EXPLAIN_TIMEOUT, VITALS_EXPLAIN_MIN_ROWS.
  absl::Duration explain_threshold = absl::ZeroDuration();
  absl::Duration explain_interval = absl::Minutes(5);
  absl::Duration explain_timeout = absl::Seconds(1);
  int explain_min_rows = 10000;

  // --- Process and heap sampling (see vitals/process.h) ---

  // Serve the `process_*`, `process_heap_bytes` and `vitals_heap_*` metrics, sampled by a
  // background thread. Env: VITALS_PROCESS_METRICS (true/false).
  bool process_metrics = true;

  // Read the allocator on every sample (`process_heap_bytes`, `vitals_heap_*`). On glibc,
  // mallinfo2() holds each arena's lock while it walks that arena's free chunks: microseconds
  // on a tidy heap, milliseconds on a heavily fragmented one (see BENCHMARKS.md), during which
  // a malloc in that arena waits. Turn it off if that matters more than heap figures.
  // Env: VITALS_HEAP_METRICS (true/false).
  bool heap_metrics = true;

  // How often the sampler reads /proc and the allocator; the first sample is taken by
  // `Agent::Start()`. Env: VITALS_SAMPLE_INTERVAL, e.g. "15s".
  absl::Duration sample_interval = absl::Seconds(15);

  // The window of samples whose least-squares slope is `vitals_heap_growth_bytes_per_second`
  // (at least the last two samples, at most 4096). Longer windows ignore slower sawtooths.
  // Env: VITALS_HEAP_GROWTH_WINDOW, e.g. "10m".
  absl::Duration heap_growth_window = absl::Minutes(10);

  // Every this often, log one info line with RSS, heap and the heap trend in MB. 0 = never.
  // Env: VITALS_MEMORY_LOG_INTERVAL, e.g. "1m".
  absl::Duration memory_log_interval = absl::ZeroDuration();

  // Where procfs is mounted; the agent reads `<proc_root>/self/...` and `<proc_root>/stat`.
  // Env: VITALS_PROC_ROOT.
  std::string proc_root = "/proc";

  // The allocator reader; null means `DetectAllocatorReader()`. Not settable from the
  // environment.
  std::shared_ptr<AllocatorReader> allocator_reader;

  // --- Profiling (see vitals/agent.h, "Profiling") ---

  // Serve /debug/pprof/* (CPU profiles through gperftools, tcmalloc heap profiles) on the
  // metrics port. Off by default. Env: VITALS_PROFILING (true/false).
  bool profiling = false;

  // The longest CPU profile a request may ask for. Env: VITALS_PROFILE_MAX_DURATION.
  absl::Duration profile_max_duration = absl::Seconds(60);

  // "user:password": profiling answers clients with these basic-auth credentials from any
  // address. Empty: it answers loopback clients only. Env: VITALS_PROFILING_BASIC_AUTH.
  std::string profiling_basic_auth;

  // Record absl::Mutex contention for /debug/pprof/mutex, as Go's SetMutexProfileFraction: 0
  // off, 1 every contended release, N one in N. Process-wide (vitals::SetMutexProfileFraction);
  // an agent sets it when it starts if it is above 0. Env: VITALS_MUTEX_PROFILE_FRACTION.
  int mutex_profile_fraction = 0;

  // Capture a CPU profile by itself when slow requests burst: when at least
  // `auto_profile_slow_requests` requests of `slow_request_threshold` or more end within 10 s,
  // the agent profiles for `auto_profile_duration`, at most once per `auto_profile_cooldown`,
  // and keeps the last `auto_profile_keep` (32 MiB at most in all) at /debug/pprof/auto/ and
  // through Agent::AutoProfiles(). Needs `profiling`. Env: VITALS_AUTO_PROFILE (true/false).
  bool auto_profile = false;
  // Env: VITALS_AUTO_PROFILE_SLOW_REQUESTS.
  int auto_profile_slow_requests = 5;
  // At most profile_max_duration. Env: VITALS_AUTO_PROFILE_DURATION.
  absl::Duration auto_profile_duration = absl::Seconds(10);
  // Env: VITALS_AUTO_PROFILE_COOLDOWN.
  absl::Duration auto_profile_cooldown = absl::Minutes(10);
  // Env: VITALS_AUTO_PROFILE_KEEP.
  int auto_profile_keep = 5;

  // --- Service identity (README, "Fleets: service identity and constant labels") ---

  // Who this process is, served as `target_info{service_name,service_version,
  // service_instance_id,...} 1` the way OpenTelemetry's Prometheus exporters write it (an info
  // metric whose labels are the resource attributes). Empty fields come from the OpenTelemetry
  // variables SDKs read (OTEL_SERVICE_NAME, then `service.name` in OTEL_RESOURCE_ATTRIBUTES;
  // `service.version`, `service.instance.id` there), else: the name `unknown_service:<program>`
  // (OpenTelemetry's default), no version, and a random UUID made at start as the instance id.
  // Env: VITALS_SERVICE_NAME, VITALS_SERVICE_VERSION, VITALS_SERVICE_INSTANCE_ID.
  std::string service_name;
  std::string service_version;
  std::string service_instance_id;

  // Further resource attributes for target_info, by OpenTelemetry name (`deployment.environment`
  // becomes the label `deployment_environment`); they extend OTEL_RESOURCE_ATTRIBUTES' and win
  // over them. At most 32. Env: VITALS_RESOURCE_ATTRIBUTES, e.g. "deployment.environment=prod".
  std::map<std::string, std::string> resource_attributes;

  // Labels added to every series the agent serves (not to target_info, whose labels identify
  // the target, nor to families of a registered prometheus-cpp registry). Off by default: a
  // Prometheus scrape adds `job` and `instance`, and target_info carries the rest; use these
  // where a remote-write pipeline needs a label on every series (a region, a cluster). At most
  // 16; names valid, not `job`, `instance`, `le`, `quantile` or one the agent's own families use;
  // values valid UTF-8 of at most 256 bytes. Env: VITALS_CONSTANT_LABELS, e.g. "region=eu-1".
  std::map<std::string, std::string> constant_labels;

  // --- Push (Pushgateway; see README, "Pull or push") ---

  // Serve the HTTP endpoint (/metrics, /debug/pprof). False: push-only, no port is opened.
  // Env: VITALS_HTTP_ENABLED (true/false).
  bool http_enabled = true;

  // Base URL of a Prometheus Pushgateway, e.g. "http://pushgateway:9091". Empty: no pushing.
  // Env: VITALS_PUSHGATEWAY_URL.
  std::string pushgateway_url;

  // The `job` grouping label of pushes; empty means the program's name. Env: VITALS_JOB.
  std::string job;

  // Further grouping labels of pushes; empty means {instance: <host name>}.
  // Env: VITALS_PUSH_GROUPING, e.g. "instance=batch-7,shard=3".
  std::map<std::string, std::string> push_grouping;

  // Push every this often from the agent's own thread; 0 = only on `Agent::Push()`, on
  // `Stop()` and at process exit. Env: VITALS_PUSH_INTERVAL.
  absl::Duration push_interval = absl::Seconds(15);

  // Bound on each push request (connect + send + answer). Env: VITALS_PUSH_TIMEOUT.
  absl::Duration push_timeout = absl::Seconds(5);

  // Delete the job's group from the Pushgateway after the final push on `Stop()`.
  // Env: VITALS_PUSH_DELETE_ON_STOP (true/false).
  bool push_delete_on_stop = false;

  // Apply the VITALS_* environment variables on top of these options (see above).
  bool read_environment = true;

  // Where log lines go; null means stderr. Not settable from the environment.
  std::shared_ptr<LogSink> log_sink;

  // The clock that times requests; null means the default clock. Must outlive the agent.
  // Not settable from the environment.
  const Clock* clock = nullptr;
};

// Looks up an environment variable; returns null when it is unset.
using EnvLookup = std::function<const char*(const char* name)>;

// Overwrites the fields of `options` whose VITALS_* variable is set, reading variables through
// `lookup` (default: getenv). Strict, for a service that wants to refuse a bad configuration
// itself (the agent is lenient; see above): on a value that does not parse, returns
// InvalidArgument naming the variable and its value, and leaves `options` unchanged.
VITALS_EXPORT absl::Status ApplyEnvironment(Options& options, const EnvLookup& lookup = nullptr);

// Checks ranges and formats (listen address, buckets, limits). Strict, as ApplyEnvironment:
// returns InvalidArgument naming the first bad field and value.
VITALS_EXPORT absl::Status ValidateOptions(const Options& options);

}  // namespace vitals

#endif  // VITALS_OPTIONS_H_
