// vitals/grpc.h: gRPC server and client interceptors that record vitals' RPC metrics.
//
//   grpc::ServerBuilder builder;
//   builder.RegisterService(&service);
//   vitals::AddGrpcServerMetrics(builder, agent);  // the one line
//
//   std::shared_ptr<grpc::Channel> users = vitals::CreateGrpcChannel(
//       agent, "users.internal:50051", grpc::InsecureChannelCredentials());
//
// The server interceptor times every call (unary and streaming: a stream's duration is its whole
// life), counts it started and in flight, counts and sizes its messages each way, and records
// its final status: the families of vitals/rpc.h, by method. A call whose deadline passed
// before its status was sent is recorded as DEADLINE_EXCEEDED, what the client saw, whatever
// the handler returned; one the client cancelled, with the status its handler returned (a
// handler that notices, through ServerContext::IsCancelled, returns CANCELLED); one closed
// without any status, as CANCELLED. A call to a method the server does not serve is
// recorded under rpc_method="_OTHER", as the conventions say (never the path a client sent).
// `traceparent` metadata gives the duration's exemplar (and `grpc-trace-bin`, where gRPC passes
// it on: 1.51's core keeps it for its own tracing filter and hands interceptors no copy). Database
// and outbound calls the handler makes on the thread that received the call count toward it
// (N+1, time breakdown): every handler of the synchronous API, which gRPC runs on that thread
// (the callback and asynchronous APIs may run a handler elsewhere; its calls then count toward
// no call). Slow calls are logged as slow requests are.
//
// The client interceptor (a channel made by CreateGrpcChannel, or the factory given to
// grpc::experimental::CreateCustomChannelWithInterceptors) times every call per target and
// method, as the server side does (rpc_client_call_duration_seconds, calls started and in
// flight, messages and sizes each way; Agent::RpcUpstream, RpcClientCallScope) and counts it as
// an outbound call of the request or RPC current on the calling thread. With
// `GrpcClientOptions::breaker`, a CircuitBreaker guards the target: while it is open, calls fail
// at once with UNAVAILABLE and the breaker's message, without touching the network, and are not
// recorded as calls (the breaker counts them as not permitted); OK is a success; UNKNOWN,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE and DATA_LOSS are failures;
// other codes (the caller's own errors, cancellations) are ignored.
//
// Header-only: it is compiled with your gRPC (tested with Debian's libgrpc++-dev 1.51, through
// gRPC's experimental interceptor API); libvitals itself does not link gRPC.
// Thread-safety: gRPC calls the factories from any thread; an interceptor belongs to one call.
// Cost: see BENCHMARKS.md ("gRPC interceptors"): gRPC allocates each interceptor and runs its
// hooks per batch of operations; what vitals adds is vitals/rpc.h's cost.
// Lifetime: the agent must outlive the servers and channels made with it (their factories ask
// it for the methods they meet).

#ifndef VITALS_GRPC_H_
#define VITALS_GRPC_H_

#include <google/protobuf/message_lite.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "vitals/agent.h"
#include "vitals/circuit_breaker.h"
#include "vitals/client.h"
#include "vitals/rpc.h"
#include "vitals/trace_context.h"

namespace vitals {

// How an interceptor sizes a received message: gRPC hands interceptors the deserialized message,
// whose type depends on how the service was registered or the stub made. The wrong choice reads
// one type as the other: generic services and stubs must say kByteBuffer.
enum class GrpcMessages {
  kProtobuf,    // generated services (the usual case): google::protobuf::MessageLite
  kByteBuffer,  // generic services (AsyncGenericService, CallbackGenericService)
};

struct GrpcServerOptions {
  GrpcMessages messages = GrpcMessages::kProtobuf;
};

struct GrpcClientOptions {
  // Guards the channel's target; not owned, must outlive the channel. Null: no breaker.
  CircuitBreaker* breaker = nullptr;
  // How a received reply is sized: kByteBuffer for a channel used by grpc::GenericStub.
  GrpcMessages messages = GrpcMessages::kProtobuf;
};

namespace grpc_detail {

// rpc.method of a gRPC method path: "/pkg.Service/Method" without its slash; "_OTHER" for
// gRPC's "unknown" (a method no service registered).
inline absl::string_view MethodName(const char* path) {
  if (path == nullptr) return kRpcOtherMethod;
  absl::string_view m(path);
  if (m == "unknown") return kRpcOtherMethod;
  if (!m.empty() && m.front() == '/') m.remove_prefix(1);
  return m;
}

// The trace of a call, from its `traceparent` metadata, else its `grpc-trace-bin`.
inline TraceContext TraceOf(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  TraceContext bin;
  for (const auto& [key, value] : metadata) {
    const absl::string_view k(key.data(), key.size());
    const absl::string_view v(value.data(), value.size());
    if (k == "traceparent") {
      TraceContext t = TraceContext::FromTraceparent(v);
      if (t.valid()) return t;
    } else if (k == "grpc-trace-bin" && !bin.valid()) {
      bin = TraceContext::FromGrpcTraceBin(v);
    }
  }
  return bin;
}

// The serialized size of a received message, or -1 when unknown.
inline int64_t ReceivedSize(void* message, GrpcMessages kind) {
  if (message == nullptr) return -1;
  if (kind == GrpcMessages::kByteBuffer) {
    return static_cast<int64_t>(static_cast<grpc::ByteBuffer*>(message)->Length());
  }
  // Generated messages derive from MessageLite alone (it is their primary base). ByteSizeLong
  // walks the message once, as serializing it would.
  return static_cast<int64_t>(
      static_cast<const google::protobuf::MessageLite*>(message)->ByteSizeLong());
}

// A server (address, port) from a channel target: "host:port", "dns:///host:port",
// "ipv4:1.2.3.4:5", "[::1]:5"; the port is 443 (gRPC's default) when the target has none.
inline std::pair<std::string, int> TargetAddress(absl::string_view target) {
  for (absl::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (target.substr(0, scheme.size()) == scheme) {
      target.remove_prefix(scheme.size());
      break;
    }
  }
  if (const size_t slash = target.find('/'); slash != absl::string_view::npos && slash > 0) {
    target = target.substr(slash + 1);  // dns://authority/host:port
  }
  int port = 443;
  absl::string_view host = target;
  const size_t colon = target.rfind(':');
  const size_t bracket = target.rfind(']');
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    int p = 0;
    if (absl::SimpleAtoi(target.substr(colon + 1), &p) && p > 0 && p < 65536) {
      port = p;
      host = target.substr(0, colon);
    }
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {std::string(host), port};
}

}  // namespace grpc_detail

// One server call's recorder; gRPC makes one per call through the factory below.
class GrpcServerInterceptor final : public grpc::experimental::Interceptor {
 public:
  GrpcServerInterceptor(grpc::experimental::ServerRpcInfo* info, const RpcMethodHandle& method,
                        GrpcMessages messages)
      : info_(info), call_(method), messages_(messages) {}
  // A call gRPC dropped without closing it (server shutdown): recorded as cut short. The
  // context is not read here: it is being destroyed.
  ~GrpcServerInterceptor() override {
    if (done_) return;
    call_.set_status(sent_status_ ? (past_deadline_ ? grpc::StatusCode::DEADLINE_EXCEEDED : status_)
                                  : grpc::StatusCode::CANCELLED);
    call_.Finish();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_INITIAL_METADATA)) {
      if (auto* metadata = methods->GetRecvInitialMetadata(); metadata != nullptr) {
        const TraceContext trace = grpc_detail::TraceOf(*metadata);
        if (trace.valid()) call_.set_trace(trace);
      }
    }
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE)) {
      // Null at the end of a client stream (no message).
      if (void* message = methods->GetRecvMessage(); message != nullptr) {
        call_.MessageReceived(grpc_detail::ReceivedSize(message, messages_));
      }
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE)) {
      const grpc::ByteBuffer* sent = methods->GetSerializedSendMessage();
      call_.MessageSent(sent != nullptr ? static_cast<int64_t>(sent->Length()) : -1);
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      status_ = methods->GetSendStatus().error_code();
      sent_status_ = true;
      past_deadline_ = PastDeadline();
    }
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_CLOSE)) Finish();
    methods->Proceed();
  }

 private:
  // Whether the call's deadline has passed: then the client has DEADLINE_EXCEEDED, whatever
  // the server sends. (ServerContext::IsCancelled would also tell a client's cancellation, but
  // on the synchronous server it polls the call's queue: about 25 us a call here, and inside
  // the close's own interception it breaks gRPC's reference counts.)
  bool PastDeadline() const {
    const grpc::ServerContextBase* context = info_->server_context();
    if (context == nullptr ||
        gpr_time_cmp(context->raw_deadline(), gpr_inf_future(context->raw_deadline().clock_type)) ==
            0) {
      return false;  // no deadline
    }
    return context->deadline() <= std::chrono::system_clock::now();
  }

  void Finish() {
    if (done_) return;
    done_ = true;
    int code = status_;
    if (!sent_status_) {
      // Closed without a status (cut short): as the client saw it.
      code = PastDeadline() ? grpc::StatusCode::DEADLINE_EXCEEDED : grpc::StatusCode::CANCELLED;
    } else if (past_deadline_) {
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
    }
    call_.set_status(code);
    call_.Finish();
  }

  grpc::experimental::ServerRpcInfo* const info_;
  RpcCallScope call_;
  const GrpcMessages messages_;
  int status_ = grpc::StatusCode::UNKNOWN;  // the handler's, once sent_status_
  bool sent_status_ = false;
  bool past_deadline_ = false;  // when the status was sent
  bool done_ = false;
};

// Makes a GrpcServerInterceptor per call. Give it to
// `builder.experimental().SetInterceptorCreators(...)` with your other interceptors (first:
// it then times theirs too), or call AddGrpcServerMetrics when it is the only one.
class GrpcServerInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GrpcServerInterceptorFactory(Agent& agent, GrpcServerOptions options = {})
      : agent_(agent), options_(options) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // A lock-free lookup of the method's entry (a hash and a probe).
    return new GrpcServerInterceptor(
        info, agent_.RpcMethod(kRpcSystemGrpc, grpc_detail::MethodName(info->method())),
        options_.messages);
  }

 private:
  Agent& agent_;
  const GrpcServerOptions options_;
};

// The one line: records every call of the server `builder` builds. It sets the builder's
// interceptors (SetInterceptorCreators replaces any set before): with interceptors of your own,
// put a GrpcServerInterceptorFactory in their list instead.
inline void AddGrpcServerMetrics(grpc::ServerBuilder& builder, Agent& agent,
                                 GrpcServerOptions options = {}) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<GrpcServerInterceptorFactory>(agent, options));
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

namespace grpc_detail {

// A channel's handles by method: a lock-free probe of up to kSlots methods (a stub's method
// names are few), each made once under a mutex. Past kSlots methods (generic calls with many
// names), a call resolves its handle itself (a hash, a probe and an atomic add).
class ClientMethods {
 public:
  static constexpr int kSlots = 64;
  ClientMethods(Agent& agent, std::string address, int port)
      : agent_(agent), address_(std::move(address)), port_(port) {}

  // The handle of `method`, or null when the cache is full (then Resolve it).
  const UpstreamHandle* Find(absl::string_view method) {
    for (int i = 0; i < kSlots; ++i) {
      const Slot* slot = slots_[i].load(std::memory_order_acquire);
      if (slot == nullptr) break;
      if (slot->method == method) return &slot->handle;
    }
    std::lock_guard<std::mutex> lock(mu_);
    int free = 0;
    for (; free < kSlots; ++free) {
      const Slot* slot = slots_[free].load(std::memory_order_relaxed);
      if (slot == nullptr) break;
      if (slot->method == method) return &slot->handle;
    }
    if (free == kSlots) return nullptr;
    owned_.push_back(Slot{std::string(method), Resolve(method)});
    slots_[free].store(&owned_.back(), std::memory_order_release);
    return &owned_.back().handle;
  }
  UpstreamHandle Resolve(absl::string_view method) {
    return agent_.RpcUpstream(kRpcSystemGrpc, method, address_, port_);
  }

 private:
  struct Slot {
    std::string method;
    UpstreamHandle handle;
  };
  Agent& agent_;
  const std::string address_;
  const int port_;
  std::atomic<const Slot*> slots_[kSlots] = {};
  std::mutex mu_;
  std::deque<Slot> owned_;  // stable addresses
};

}  // namespace grpc_detail

// One client call's recorder; gRPC makes one per call through the factory below.
class GrpcClientInterceptor final : public grpc::experimental::Interceptor {
 public:
  // The scope does not need `upstream` afterwards.
  GrpcClientInterceptor(const UpstreamHandle& upstream, CircuitBreaker* breaker,
                        GrpcMessages messages)
      : breaker_(breaker), messages_(messages) {
    if (breaker_ != nullptr) {
      permit_ = breaker_->TryAcquire();
      if (!permit_) return;  // refused: hijacked below, recorded by the breaker only
    }
    call_.emplace(upstream);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (!call_.has_value()) {  // the breaker refused the call: answer it here
      if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_INITIAL_METADATA)) {
        methods->Hijack();
        return;
      }
      if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE)) {
        methods->FailHijackedSendMessage();
      }
      if (methods->QueryInterceptionHookPoint(Hook::PRE_RECV_MESSAGE)) {
        methods->FailHijackedRecvMessage();
      }
      if (methods->QueryInterceptionHookPoint(Hook::PRE_RECV_STATUS)) {
        *methods->GetRecvStatus() =
            grpc::Status(grpc::StatusCode::UNAVAILABLE,
                         "circuit breaker " + breaker_->name() + " is open: call not permitted");
      }
      methods->Proceed();
      return;
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE)) {
      const grpc::ByteBuffer* sent = methods->GetSerializedSendMessage();
      call_->MessageSent(sent != nullptr ? static_cast<int64_t>(sent->Length()) : -1);
    }
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE)) {
      // Null when no message came (the end of a stream, or a failed call).
      if (void* message = methods->GetRecvMessage(); message != nullptr) {
        call_->MessageReceived(grpc_detail::ReceivedSize(message, messages_));
      }
    }
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_STATUS)) {
      const int code = methods->GetRecvStatus()->error_code();
      call_->set_status(code);
      const absl::Duration took = call_->Finish();
      if (breaker_ != nullptr) {
        switch (code) {
          case grpc::StatusCode::OK:
            breaker_->OnSuccess(permit_, took);
            break;
          case grpc::StatusCode::UNKNOWN:
          case grpc::StatusCode::DEADLINE_EXCEEDED:
          case grpc::StatusCode::RESOURCE_EXHAUSTED:
          case grpc::StatusCode::INTERNAL:
          case grpc::StatusCode::UNAVAILABLE:
          case grpc::StatusCode::DATA_LOSS:
            breaker_->OnFailure(permit_, took);
            break;
          default:
            breaker_->OnIgnored(permit_, took);
        }
      }
    }
    methods->Proceed();
  }

 private:
  CircuitBreaker* const breaker_;
  const GrpcMessages messages_;
  CircuitBreaker::Permit permit_;
  std::optional<RpcClientCallScope> call_;  // empty when the breaker refused the call
};

// Makes a GrpcClientInterceptor per call of one channel (one target).
class GrpcClientInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  GrpcClientInterceptorFactory(Agent& agent, absl::string_view target,
                               GrpcClientOptions options = {})
      : options_(options), methods_(MakeMethods(agent, target)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    const absl::string_view method = grpc_detail::MethodName(info->method());
    if (const UpstreamHandle* handle = methods_->Find(method)) {
      return new GrpcClientInterceptor(*handle, options_.breaker, options_.messages);
    }
    return new GrpcClientInterceptor(methods_->Resolve(method), options_.breaker,
                                     options_.messages);
  }

 private:
  static std::unique_ptr<grpc_detail::ClientMethods> MakeMethods(Agent& agent,
                                                                 absl::string_view target) {
    auto [address, port] = grpc_detail::TargetAddress(target);
    return std::make_unique<grpc_detail::ClientMethods>(agent, std::move(address), port);
  }
  const GrpcClientOptions options_;
  std::unique_ptr<grpc_detail::ClientMethods> methods_;
};

// A channel to `target` whose calls are recorded (and guarded by `options.breaker`).
inline std::shared_ptr<grpc::Channel> CreateGrpcChannel(
    Agent& agent, const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args = grpc::ChannelArguments(), GrpcClientOptions options = {}) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<GrpcClientInterceptorFactory>(agent, target, options));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args,
                                                                 std::move(creators));
}

}  // namespace vitals

#endif  // VITALS_GRPC_H_
