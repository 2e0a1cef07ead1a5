// tests/support/echo_service.h: the gRPC test service (tests/support/echo.proto) on a real
// server on a free loopback port, for the gRPC tests and the interceptor benchmark.

#ifndef VITALS_TESTS_SUPPORT_ECHO_SERVICE_H_
#define VITALS_TESTS_SUPPORT_ECHO_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "echo.grpc.pb.h"
#include "vitals/agent.h"
#include "vitals/db.h"
#include "vitals/grpc.h"

namespace vitals_test {

class EchoService final : public vitals::test::Echo::Service {
 public:
  // `agent`: for the database calls a request asks for (null: none made).
  explicit EchoService(vitals::Agent* agent = nullptr) : agent_(agent) {}

  // Where `forward` calls go (a stub of this server); set before serving.
  void set_forward(std::unique_ptr<vitals::test::Echo::Stub> stub) { forward_ = std::move(stub); }
  // Calls that are holding (wait_for_cancel) right now.
  int holding() const { return holding_.load(); }

  grpc::Status Unary(grpc::ServerContext* context, const vitals::test::EchoRequest* request,
                     vitals::test::EchoReply* reply) override {
    Work(context, *request);
    if (request->wait_for_cancel() && context->IsCancelled()) return grpc::Status::CANCELLED;
    if (request->code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(request->code()), "as asked");
    }
    reply->set_text(request->text());
    return grpc::Status::OK;
  }

  grpc::Status ServerStream(grpc::ServerContext* context, const vitals::test::EchoRequest* request,
                            grpc::ServerWriter<vitals::test::EchoReply>* writer) override {
    Work(context, *request);
    vitals::test::EchoReply reply;
    for (int i = 0; i < request->replies(); ++i) {
      reply.set_text(request->text() + std::to_string(i));
      if (!writer->Write(reply)) break;
    }
    if (request->code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(request->code()), "as asked");
    }
    return grpc::Status::OK;
  }

  grpc::Status Bidi(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<vitals::test::EchoReply, vitals::test::EchoRequest>*
                        stream) override {
    vitals::test::EchoRequest request;
    vitals::test::EchoReply reply;
    int code = 0;
    while (stream->Read(&request)) {
      Work(context, request);
      reply.set_text(request.text());
      if (!stream->Write(reply)) break;
      code = request.code();
    }
    return code == 0 ? grpc::Status::OK
                     : grpc::Status(static_cast<grpc::StatusCode>(code), "as asked");
  }

 private:
  void Work(grpc::ServerContext* context, const vitals::test::EchoRequest& request) {
    for (int i = 0; i < request.queries() && agent_ != nullptr; ++i) {
      vitals::DbOperation query(*agent_, "sqlite", "SELECT name FROM users WHERE id = 7");
    }
    for (int i = 0; i < request.forward() && forward_ != nullptr; ++i) {
      grpc::ClientContext forwarded;
      vitals::test::EchoRequest inner;
      inner.set_text("forwarded");
      vitals::test::EchoReply ignored;
      forward_->Unary(&forwarded, inner, &ignored);
    }
    if (request.hold_ms() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(request.hold_ms()));
    }
    if (request.wait_for_cancel()) {
      // Until the client cancels or its deadline passes (a test that never does fails on its
      // own deadline: this gives up after 30 s).
      ++holding_;
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!context->IsCancelled() && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      --holding_;
    }
  }

  vitals::Agent* const agent_;
  std::unique_ptr<vitals::test::Echo::Stub> forward_;
  std::atomic<int> holding_{0};
};

// A gRPC server of EchoService on 127.0.0.1 (a free port), recording into `agent` (when not
// null) with the vitals interceptor.
struct EchoServer {
  explicit EchoServer(vitals::Agent* agent, bool forward_to_self = false) : service(agent) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    if (agent != nullptr) vitals::AddGrpcServerMetrics(builder, *agent);
    server = builder.BuildAndStart();
    if (forward_to_self && agent != nullptr) {
      service.set_forward(vitals::test::Echo::NewStub(
          vitals::CreateGrpcChannel(*agent, target(), grpc::InsecureChannelCredentials())));
    }
  }
  ~EchoServer() { Stop(); }
  void Stop() {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
    server.reset();
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(port); }

  EchoService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_ECHO_SERVICE_H_
