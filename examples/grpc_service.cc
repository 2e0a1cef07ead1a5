// The README's gRPC example: a gRPC server whose calls the vitals interceptor records (one line
// on the ServerBuilder), and a client channel that records its calls per target and method,
// guarded by a circuit breaker. Built with the project when gRPC is found, and run by its tests
// (it exits 0 when both sides recorded the calls).

#include <cstdio>
#include <memory>
#include <string>

#include "inventory.grpc.pb.h"

// [readme:grpc_server]
#include <grpcpp/grpcpp.h>

#include "vitals/grpc.h"

class InventoryService final : public demo::Inventory::Service {
  grpc::Status GetStock(grpc::ServerContext*, const demo::StockRequest* request,
                        demo::StockReply* reply) override {
    if (request->sku().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no SKU");
    }
    reply->set_sku(request->sku());
    reply->set_count(42);  // ... the real work: database calls here count toward the call ...
    return grpc::Status::OK;
  }
};

std::unique_ptr<grpc::Server> Serve(vitals::Agent& agent, InventoryService& service,
                                    const std::string& address, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), port);
  builder.RegisterService(&service);
  vitals::AddGrpcServerMetrics(builder, agent);  // every call timed, counted and sized
  return builder.BuildAndStart();
}
// [/readme:grpc_server]

int main() {
  vitals::Agent agent;  // serves VITALS_LISTEN
  if (absl::Status s = agent.Start(); !s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  InventoryService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(agent, service, "127.0.0.1:0", &port);
  const std::string target = "127.0.0.1:" + std::to_string(port);

  // [readme:grpc_client]
  vitals::CircuitBreaker breaker("inventory", {}, &agent);
  vitals::GrpcClientOptions options;
  options.breaker = &breaker;  // optional: fail fast while the target is down
  std::shared_ptr<grpc::Channel> channel = vitals::CreateGrpcChannel(
      agent, target, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(), options);
  std::unique_ptr<demo::Inventory::Stub> inventory = demo::Inventory::NewStub(channel);
  // [/readme:grpc_client]

  for (const char* sku : {"apple", "pear", ""}) {
    grpc::ClientContext context;
    demo::StockRequest request;
    request.set_sku(sku);
    demo::StockReply reply;
    const grpc::Status status = inventory->GetStock(&context, request, &reply);
    std::printf("GetStock(\"%s\"): %s %d\n", sku, status.ok() ? "OK" : "error", reply.count());
  }
  server->Shutdown();  // closes every call: the server side has recorded them all
  const std::string text = agent.RenderText();
  const std::string labels = "rpc_system_name=\"grpc\",rpc_method=\"demo.Inventory/GetStock\"";
  const bool recorded =
      text.find("rpc_server_call_duration_seconds_count{" + labels +
                ",rpc_status_code=\"OK\",error_type=\"\"} 2") != std::string::npos &&
      text.find("rpc_server_call_duration_seconds_count{" + labels +
                ",rpc_status_code=\"INVALID_ARGUMENT\",error_type=\"\"} 1") != std::string::npos &&
      text.find("rpc_client_call_duration_seconds_count{" + labels +
                ",server_address=\"127.0.0.1\",server_port=\"" + std::to_string(port) +
                "\",rpc_status_code=\"OK\",error_type=\"\"} 2") != std::string::npos;
  std::printf("grpc_service: %s\n", recorded ? "recorded" : "NOT recorded");
  return recorded ? 0 : 1;
}
