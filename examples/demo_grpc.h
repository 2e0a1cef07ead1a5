// examples/demo_grpc.h: the demo's gRPC side (built when gRPC is found): an "inventory" gRPC
// service (examples/inventory.proto) beside the HTTP one, recorded by the vitals server
// interceptor, and a load generator that calls it through a channel the vitals client
// interceptor records.
//
// GetStock answers in 1-4 ms after one database read (counted toward the call); about 5% of
// SKUs are unknown (NOT_FOUND) and 2% of calls fail with UNAVAILABLE, so the RPC error-ratio
// panel and alert have something to show. ListStock answers each SKU of a stream.

#ifndef VITALS_EXAMPLES_DEMO_GRPC_H_
#define VITALS_EXAMPLES_DEMO_GRPC_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "inventory.grpc.pb.h"
#include "vitals/agent.h"
#include "vitals/grpc.h"

namespace demo {

class InventoryGrpc final : public Inventory::Service {
 public:
  // `lookup` runs one database read for a SKU (through the demo's store, so it counts toward the
  // call); it returns false for an unknown SKU.
  explicit InventoryGrpc(std::function<bool(const std::string&)> lookup)
      : lookup_(std::move(lookup)) {}

  grpc::Status GetStock(grpc::ServerContext*, const StockRequest* request,
                        StockReply* reply) override {
    return Answer(*request, reply);
  }

  grpc::Status ListStock(grpc::ServerContext*,
                         grpc::ServerReaderWriter<StockReply, StockRequest>* stream) override {
    StockRequest request;
    StockReply reply;
    while (stream->Read(&request)) {
      if (!Answer(request, &reply).ok()) continue;
      if (!stream->Write(reply)) break;
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status Answer(const StockRequest& request, StockReply* reply) {
    thread_local std::mt19937 rng(std::random_device{}());
    std::this_thread::sleep_for(std::chrono::microseconds(1000 + rng() % 3000));
    if (rng() % 100 < 2) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "warehouse offline");
    if (!lookup_(request.sku())) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such SKU");
    reply->set_sku(request.sku());
    reply->set_count(static_cast<int32_t>(rng() % 500));
    return grpc::Status::OK;
  }

  std::function<bool(const std::string&)> lookup_;
};

// The gRPC server on 127.0.0.1:`port` (0: a free one), recorded by the agent; null when it
// cannot listen (*port says which port it got).
inline std::unique_ptr<grpc::Server> ServeInventory(vitals::Agent& agent, InventoryGrpc& service,
                                                    int* port) {
  grpc::ServerBuilder builder;
  const int asked = *port;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(asked), grpc::InsecureServerCredentials(),
                           port);
  builder.RegisterService(&service);
  vitals::AddGrpcServerMetrics(builder, agent);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (*port == 0) server.reset();
  return server;
}

// Calls the inventory service at about `rps` calls a second until `stop`: GetStock mostly (5%
// of SKUs unknown), and now and then a ListStock stream of 3-6 SKUs; each call with a
// `traceparent` from `next_traceparent`.
inline void GenerateGrpcLoad(vitals::Agent& agent, int port, double rps,
                             const std::atomic<bool>& stop,
                             const std::function<std::string()>& next_traceparent) {
  auto stub = Inventory::NewStub(vitals::CreateGrpcChannel(
      agent, "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  std::mt19937 rng(7);
  const auto period = std::chrono::duration<double>(1.0 / rps);
  auto next = std::chrono::steady_clock::now();
  while (!stop.load()) {
    auto sku = [&] {
      return "sku-" + std::to_string(rng() % 100 < 5 ? 9000 + rng() % 100 : rng() % 200);
    };
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    context.AddMetadata("traceparent", next_traceparent());
    if (rng() % 10 != 0) {
      StockRequest request;
      request.set_sku(sku());
      StockReply reply;
      stub->GetStock(&context, request, &reply);
    } else {
      auto stream = stub->ListStock(&context);
      StockRequest request;
      StockReply reply;
      const int n = 3 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) {
        request.set_sku(sku());
        if (!stream->Write(request)) break;
      }
      stream->WritesDone();
      while (stream->Read(&reply)) {
      }
      stream->Finish();
    }
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
    const auto now = std::chrono::steady_clock::now();
    if (next > now) {
      std::this_thread::sleep_until(next);
    } else {
      next = now;
    }
  }
}

}  // namespace demo

#endif  // VITALS_EXAMPLES_DEMO_GRPC_H_
