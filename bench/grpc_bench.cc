// What the gRPC interceptors of vitals/grpc.h cost per unary call, against the same call
// without them, in the same run: a real gRPC server and client over gRPC's in-process transport
// (no sockets, so the call's own cost is as small as gRPC makes it and the difference shows).
// The variants split the cost: gRPC's interceptor machinery alone (interceptors that only
// proceed), the vitals server interceptor, the vitals client interceptor, both, and the
// vitals/rpc.h work the server interceptor does, without gRPC.

#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "echo.grpc.pb.h"
#include "tests/support/echo_service.h"
#include "vitals/agent.h"
#include "vitals/grpc.h"
#include "vitals/rpc.h"

namespace {

// An interceptor that only proceeds: what gRPC's machinery costs before any work of ours.
class NoopInterceptor final : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }
};
class NoopServerFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new NoopInterceptor;
  }
};
class NoopClientFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new NoopInterceptor;
  }
};

enum class Server { kPlain, kNoop, kVitals };
enum class Client { kPlain, kNoop, kVitals };

struct Setup {
  std::unique_ptr<vitals::Agent> agent;
  vitals_test::EchoService service;
  std::unique_ptr<grpc::Server> servers[3];
};
Setup* setup = nullptr;

std::unique_ptr<grpc::Server> Build(Server kind) {
  grpc::ServerBuilder builder;
  builder.RegisterService(&setup->service);
  if (kind == Server::kVitals) {
    vitals::AddGrpcServerMetrics(builder, *setup->agent);
  } else if (kind == Server::kNoop) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(std::make_unique<NoopServerFactory>());
    builder.experimental().SetInterceptorCreators(std::move(f));
  }
  return builder.BuildAndStart();
}

std::shared_ptr<grpc::Channel> Channel(grpc::Server& server, Client kind) {
  if (kind == Client::kPlain) return server.InProcessChannel(grpc::ChannelArguments());
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> f;
  if (kind == Client::kVitals) {
    f.push_back(
        std::make_unique<vitals::GrpcClientInterceptorFactory>(*setup->agent, "in-process:1"));
  } else {
    f.push_back(std::make_unique<NoopClientFactory>());
  }
  return server.experimental().InProcessChannelWithInterceptors(grpc::ChannelArguments(),
                                                                std::move(f));
}

double ProcessCpuNanos() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// One unary call per iteration. Besides the wall time, `cpu_ns_per_call`: the CPU time of the
// whole process (client, gRPC's threads, the server's handler thread) per call, which does not
// move with how long the scheduler takes to wake a thread on this VM.
void BM_GrpcUnary(benchmark::State& state, Server server, Client client) {
  auto stub =
      vitals::test::Echo::NewStub(Channel(*setup->servers[static_cast<int>(server)], client));
  vitals::test::EchoRequest request;
  request.set_text("hello");
  vitals::test::EchoReply reply;
  const double cpu_start = ProcessCpuNanos();
  for (auto _ : state) {
    grpc::ClientContext context;
    const grpc::Status status = stub->Unary(&context, request, &reply);
    if (!status.ok()) state.SkipWithError("call failed");
  }
  state.counters["cpu_ns_per_call"] = (ProcessCpuNanos() - cpu_start) /
                                      static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.SetItemsProcessed(state.iterations());
}

// The fastest of the repetitions: on a shared VM the slow ones measure the neighbours.
double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

// The server interceptor's own work, without gRPC: a call scope, a message each way, the end.
void BM_RpcCallScope(benchmark::State& state) {
  const vitals::RpcMethodHandle method =
      setup->agent->RpcMethod(vitals::kRpcSystemGrpc, "vitals.test.Echo/Unary");
  for (auto _ : state) {
    vitals::RpcCallScope call(method);
    call.MessageReceived(7);
    call.MessageSent(7);
    call.set_status(0);
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_GrpcUnary, plain, Server::kPlain, Client::kPlain)->UseRealTime();
BENCHMARK_CAPTURE(BM_GrpcUnary, noop_interceptors_both_sides, Server::kNoop, Client::kNoop)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_GrpcUnary, vitals_server, Server::kVitals, Client::kPlain)->UseRealTime();
BENCHMARK_CAPTURE(BM_GrpcUnary, vitals_client, Server::kPlain, Client::kVitals)->UseRealTime();
BENCHMARK_CAPTURE(BM_GrpcUnary, vitals_both_sides, Server::kVitals, Client::kVitals)->UseRealTime();
BENCHMARK(BM_RpcCallScope);

void BenchSetup() {
  setup = new Setup;  // left for the process's end: gRPC's threads outlive main's return
  vitals::Options options;
  options.read_environment = false;
  setup->agent = std::make_unique<vitals::Agent>(options);
  for (Server kind : {Server::kPlain, Server::kNoop, Server::kVitals}) {
    setup->servers[static_cast<int>(kind)] = Build(kind);
  }
}
