// vitals/rpc.h: timing the RPC calls a service serves (gRPC, or any RPC system).
//
// vitals/grpc.h does all of this for a gRPC server in one line; this is the API under it, for
// other RPC systems (Thrift, Cap'n Proto, a home-grown one) and for adapters.
//
//   vitals::RpcMethodHandle get = agent.RpcMethod("grpc", "shop.Users/Get");  // once
//   {
//     vitals::RpcCallScope call(get);
//     call.MessageReceived(request.ByteSizeLong());
//     ... handle it: database and outbound calls made on this thread count toward the call ...
//     call.MessageSent(reply.ByteSizeLong());
//     call.set_status(0);  // gRPC's code numbering: 0 OK ... 16 UNAUTHENTICATED
//   }
//
// Each call updates OpenTelemetry's RPC metrics (semantic conventions v1.45.0, the first in which
// they are stable) and the older experimental message metrics (v1.37.0):
//   rpc_server_call_duration_seconds{rpc_system_name, rpc_method, rpc_status_code, error_type}
//       `rpc_status_code` is the code's name ("OK", "DEADLINE_EXCEEDED"; a number for codes
//       gRPC does not define); `error_type` is the same name for the codes that mean the server
//       failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS)
//       and empty (absent) otherwise, as the conventions' gRPC page says;
//   rpc_server_requests_per_rpc, rpc_server_responses_per_rpc{rpc_system_name, rpc_method}
//       messages received and sent per call;
//   rpc_server_request_size_bytes, rpc_server_response_size_bytes{...}   each message's size;
// and vitals' own: vitals_rpc_server_calls_started_total, vitals_rpc_server_active_calls (in
// flight), vitals_rpc_server_slow_calls_total (and a log line, at most one per method a minute,
// as slow HTTP requests), vitals_rpc_server_call_db_queries, vitals_rpc_server_call_time_seconds_
// total{part} and vitals_rpc_server_sequential_calls_total: the database and outbound calls
// made while the call is current on a thread count toward it exactly as toward an HTTP request
// (N+1 detection, time breakdown, sequential calls; vitals/db.h, vitals/client.h). In
// `vitals_db_n_plus_one_total{http_route}` and the N+1 log line such a call shows its RPC method
// as the route.
//
// `method` must be a method the service defines ("package.Service/Method"), never a name a
// client chose: use `kRpcOtherMethod` for calls to unknown methods, as the conventions say (the
// series limit caps the damage anyway). `system` is the conventions' rpc.system.name ("grpc",
// "dubbo", "connectrpc", ...).
//
// Thread-safety: all calls from any thread at once; an RpcCallScope belongs to one call and is
// current (for database accounting) on the thread that constructed it. It may end on another.
// Lifetime: handles and scopes may outlive their agent; they then record nothing.

#ifndef VITALS_RPC_H_
#define VITALS_RPC_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vitals/client.h"
#include "vitals/detail/export.h"
#include "vitals/request.h"
#include "vitals/trace_context.h"

namespace vitals {

namespace internal {
struct RouteEntry;
}  // namespace internal

// rpc.system.name of gRPC, and rpc.method for a method the server does not know.
inline constexpr absl::string_view kRpcSystemGrpc = "grpc";
inline constexpr absl::string_view kRpcOtherMethod = "_OTHER";

// gRPC's status codes by number (what RpcCallScope::set_status takes).
inline constexpr int kRpcOk = 0;
inline constexpr int kRpcCancelled = 1;
inline constexpr int kRpcUnknown = 2;
inline constexpr int kRpcDeadlineExceeded = 4;
inline constexpr int kRpcUnavailable = 14;

// A pre-resolved (system, method) of a server. Cheap to copy; records nothing once its agent is
// gone.
class VITALS_EXPORT RpcMethodHandle {
 public:
  RpcMethodHandle() = default;  // records nothing
  bool valid() const { return route_.valid(); }

 private:
  friend class Agent;
  friend class RpcCallScope;
  explicit RpcMethodHandle(const RouteHandle& route) : route_(route) {}
  RouteHandle route_;  // a route of the agent's RPC request metrics
};

// Times one server call from construction to destruction (or Finish()), counts its messages,
// and records it with its status. While it is active it is the current request of the thread
// that constructed it (see RequestScope). Cost: RequestScope's (about 37 ns) plus one counter
// add when it starts and two histogram observes when it ends; each message is one more
// histogram observe (an out-of-line call). No lock.
class VITALS_EXPORT RpcCallScope {
 public:
  explicit RpcCallScope(const RpcMethodHandle& method);
  ~RpcCallScope() { Finish(); }
  RpcCallScope(const RpcCallScope&) = delete;
  RpcCallScope& operator=(const RpcCallScope&) = delete;

  // The status to record (gRPC's numbering); 0 (OK) unless set.
  void set_status(int code) { scope_.set_status(code); }
  int status() const { return scope_.status(); }
  // The trace the call belongs to, offered as the exemplar of its duration's bucket
  // (TraceContext::FromTraceparent, FromGrpcTraceBin).
  void set_trace(const TraceContext& trace) { scope_.set_trace(trace); }

  // One message received / sent, of `bytes` serialized (a negative size: counted, not sized).
  void MessageReceived(int64_t bytes);
  void MessageSent(int64_t bytes);

  // Ends the call now and records it; later calls (and the destructor) do nothing. Returns its
  // duration (zero when already finished, or when the agent is gone).
  absl::Duration Finish();

 private:
  RequestScope scope_;
  internal::RouteEntry* entry_ = nullptr;  // null when the handle recorded nothing
  uint64_t life_ = 0;
  int64_t received_ = 0;
  int64_t sent_ = 0;
};

// Times one client call, made through a handle from `Agent::RpcUpstream`, from construction to
// destruction (or Finish()): a ClientCallScope (the duration by status, the active calls, an
// outbound call of the request current on this thread) that also counts the call started
// (`vitals_rpc_client_calls_started_total`) and its messages each way
// (`rpc_client_requests_per_rpc`, `rpc_client_responses_per_rpc`, `rpc_client_request_size_bytes`,
// `rpc_client_response_size_bytes`, all by system, method, server address and port; they expire
// when idle, as the duration's series do). Cost: ClientCallScope's, plus one counter add when it
// starts, one histogram observe per message and two when it ends, each a probe of the upstream's
// cached series. No lock after a series' first call.
class VITALS_EXPORT RpcClientCallScope {
 public:
  explicit RpcClientCallScope(const UpstreamHandle& upstream);
  ~RpcClientCallScope() { Finish(); }
  RpcClientCallScope(const RpcClientCallScope&) = delete;
  RpcClientCallScope& operator=(const RpcClientCallScope&) = delete;

  // The status to record (gRPC's numbering); every code but 0 (OK) is also the error type.
  void set_status(int code) { call_.set_status(code); }
  void MessageSent(int64_t bytes);  // a negative size: counted, not sized
  void MessageReceived(int64_t bytes);
  // Ends the call now and records it; later calls do nothing. Returns its duration.
  absl::Duration Finish();

 private:
  ClientCallScope call_;  // also the upstream (raw: the call in flight keeps it)
  int64_t sent_ = 0;
  int64_t received_ = 0;
  bool done_ = false;
};

}  // namespace vitals

#endif  // VITALS_RPC_H_
