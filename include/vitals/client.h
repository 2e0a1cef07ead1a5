// vitals/client.h: timing the calls a service makes to the services it depends on.
//
// Each recorded call updates OpenTelemetry's `http.client.request.duration` as
// `http_client_request_duration_seconds{http_request_method, server_address, server_port,
// http_response_status_code, error_type}`:
//   - a call answered with a status records it; statuses of 400 and above also set
//     `error_type` to the status code, as the semantic conventions say;
//   - a call that got no answer records `error_type` (`timeout`, `connection_error`,
//     `read_error`, `write_error`, `tls_error`, `canceled`, or `_OTHER`; or a short identifier
//     of your own) and no status;
// and `http_client_active_requests{http_request_method, server_address, server_port}` while a
// ClientCallScope is open. A service that spreads calls over several instances of an upstream
// gives each its own handle (its address and port), so each instance's latency and errors show
// apart.
//
//   vitals::UpstreamHandle users = agent.Upstream("GET", "10.0.0.7", 8080);  // once
//   {
//     vitals::ClientCallScope call(users);
//     auto res = client.Get("/users/7");
//     if (res) call.set_status(res->status); else call.set_error("connection_error");
//   }
//
// `server_address` must be a host name or address from a small set (the instances you call),
// never something a client of yours chose: the series limit caps the damage if it happens
// anyway. vitals/httplib.h has a cpp-httplib client adapter that does all of this.
//
// Instances come and go (pod addresses), so these series expire: one nothing recorded into for
// `Options::series_idle_ttl` (10 minutes by default) leaves the exposition and its memory is
// reused; a later call starts it again from zero, which rate() and increase() take as a counter
// reset. An upstream's own bookkeeping goes too once no handle points to it. A handle stays
// good however long it is idle: its next call makes its series again.
//
// Thread-safety: all calls from any thread at once. A ClientCallScope belongs to one call.
// Lifetime: handles and scopes may outlive their agent; once it is destroyed they record nothing
// (and a handle must not be copied or destroyed while its agent is being destroyed).

#ifndef VITALS_CLIENT_H_
#define VITALS_CLIENT_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vitals/detail/agent_life.h"
#include "vitals/detail/export.h"

namespace vitals {

namespace internal {
class UpstreamMetrics;
struct UpstreamEntry;
struct Series;
}  // namespace internal

// `error_type` values for calls that got no answer (OpenTelemetry's error.type is "a
// low-cardinality error identifier"; these are the ones the httplib adapter uses).
inline constexpr absl::string_view kErrorTimeout = "timeout";
inline constexpr absl::string_view kErrorConnection = "connection_error";
inline constexpr absl::string_view kErrorRead = "read_error";
inline constexpr absl::string_view kErrorWrite = "write_error";
inline constexpr absl::string_view kErrorTls = "tls_error";
inline constexpr absl::string_view kErrorCanceled = "canceled";
inline constexpr absl::string_view kErrorOther = "_OTHER";

// A pre-resolved (method, server address, server port). Records nothing once its agent is gone.
// Copying or destroying one is an atomic add on its upstream's count of handles (it keeps the
// upstream's bookkeeping from being freed while a handle can reach it); recording is not.
class VITALS_EXPORT UpstreamHandle {
 public:
  UpstreamHandle() = default;  // records nothing
  UpstreamHandle(const UpstreamHandle& other);
  UpstreamHandle& operator=(const UpstreamHandle& other);
  UpstreamHandle(UpstreamHandle&& other) noexcept;
  UpstreamHandle& operator=(UpstreamHandle&& other) noexcept;
  ~UpstreamHandle();

  // A call answered with `status`. Cost: the life-token check, a status-slot probe and one
  // histogram observe on per-CPU cells (as RouteHandle::Record): about 11 ns here
  // (BENCHMARKS.md); no lock after the first call with that status.
  void Record(int status, absl::Duration duration) const;
  // A call that got no answer, with its error type (cut to 64 bytes). Cost: a probe of the
  // upstream's error-type slots (the text compared with at most eight cached ones) and one
  // histogram observe; no lock after the first call with that error type (past eight distinct
  // ones, a label lookup: a hash and a probe, about 20 ns).
  void RecordError(absl::string_view error_type, absl::Duration duration) const;
  // Adds `delta` to this upstream's `http_client_active_requests` (ClientCallScope does it).
  void AddActive(double delta) const;

  // True while it names an upstream of an agent that is alive.
  bool valid() const { return internal::AgentAlive(life_); }

 private:
  friend class Agent;
  friend class ClientCallScope;
  // Adopts one count of `entry`'s handles (UpstreamMetrics::Acquire took it).
  UpstreamHandle(internal::UpstreamMetrics* metrics, internal::UpstreamEntry* entry, uint64_t life)
      : metrics_(metrics), entry_(entry), life_(entry != nullptr ? life : 0) {}
  void Unpin();
  internal::UpstreamMetrics* metrics_ = nullptr;
  internal::UpstreamEntry* entry_ = nullptr;
  uint64_t life_ = 0;  // the agent's token (vitals/detail/agent_life.h)
};

// Times one call from construction to destruction (or Finish()), and records it with the
// status or error set meanwhile (a call with neither records `error_type="_OTHER"`: it ended
// without the caller saying how). Cost: two clock reads, the active gauge up and down, and
// the Record cost. No lock.
class VITALS_EXPORT ClientCallScope {
 public:
  // The scope does not need `upstream` to outlive it.
  explicit ClientCallScope(const UpstreamHandle& upstream);
  ~ClientCallScope() { Finish(); }
  ClientCallScope(const ClientCallScope&) = delete;
  ClientCallScope& operator=(const ClientCallScope&) = delete;

  void set_status(int status) { status_ = status; }
  // `error_type` must outlive the scope (a literal or one of the kError* constants).
  void set_error(absl::string_view error_type) { error_ = error_type; }

  // Ends the call now and records it; later calls do nothing. Returns its duration.
  absl::Duration Finish();

 private:
  friend class RpcClientCallScope;
  // The upstream, raw: the call in flight keeps it (its active-calls series reads at least 1),
  // so the scope needs no count of its own (no shared write per call).
  internal::UpstreamMetrics* metrics_ = nullptr;
  internal::UpstreamEntry* entry_ = nullptr;
  uint64_t life_ = 0;
  internal::Series* active_ = nullptr;  // the active-calls series raised, and its generation
  uint32_t active_gen_ = 0;
  int64_t start_ = 0;
  int status_ = -1;
  absl::string_view error_;
  bool done_ = false;
};

}  // namespace vitals

#endif  // VITALS_CLIENT_H_
