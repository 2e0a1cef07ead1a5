// vitals/grpc.h against a real gRPC server and client (Debian's libgrpc++ 1.51): unary,
// server-streaming and bidirectional calls; every status a client can cause; exact counts on both
// sides; database and outbound calls made while a call is handled; slow calls; exemplars from
// metadata, hostile metadata; the client's circuit breaker; 1,000 concurrent calls.

#include "vitals/grpc.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/root/agent_access.h"
#include "echo.grpc.pb.h"
#include "exporters/text_format.h"
#include "tests/support/echo_service.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "vitals/agent.h"
#include "vitals/circuit_breaker.h"

namespace {

using vitals::test::EchoReply;
using vitals::test::EchoRequest;
using vitals_test::EchoServer;
using vitals_test::SampleValue;
using vitals_test::WaitUntil;

constexpr const char* kUnary = "vitals.test.Echo/Unary";
constexpr const char* kServerStream = "vitals.test.Echo/ServerStream";
constexpr const char* kBidi = "vitals.test.Echo/Bidi";

std::string Labels(const std::string& method) {
  return "rpc_system_name=\"grpc\",rpc_method=\"" + method + "\"";
}

// `<name>{rpc_system_name="grpc",rpc_method=...}` for a server family without a status.
std::string Server(const std::string& name, const std::string& method) {
  return name + "{" + Labels(method) + "}";
}

// The server's duration count of `method` ending with `code` (error_type "" or the code).
std::string ServerCount(const std::string& method, const std::string& code,
                        const std::string& error = "") {
  return "rpc_server_call_duration_seconds_count{" + Labels(method) + ",rpc_status_code=\"" + code +
         "\",error_type=\"" + error + "\"}";
}

std::string ClientCount(const std::string& method, int port, const std::string& code) {
  return "rpc_client_call_duration_seconds_count{" + Labels(method) +
         ",server_address=\"127.0.0.1\",server_port=\"" + std::to_string(port) +
         "\",rpc_status_code=\"" + code + "\",error_type=\"" + (code == "OK" ? "" : code) + "\"}";
}

double Value(vitals::Agent& agent, const std::string& series) {
  return std::max(0.0, SampleValue(agent.RenderText(), series));
}

// Waits until `series` reads `want` (the server records a call when gRPC closes it, which may
// be just after the client has its answer), then requires exactly that.
void RequireSettles(vitals::Agent& agent, const std::string& series, double want) {
  INFO(series);
  WaitUntil([&] { return Value(agent, series) >= want; });
  REQUIRE(Value(agent, series) == want);
}

struct Fixture : vitals_test::ClockAndLog {
  vitals::Options GrpcOptions() {
    vitals::Options o = vitals_test::QuietOptions();  // the real clock: gRPC deadlines are real
    o.log_sink = sink;
    return o;
  }
};

std::unique_ptr<vitals::test::Echo::Stub> Stub(vitals::Agent& agent, const std::string& target,
                                               vitals::GrpcClientOptions options = {}) {
  return vitals::test::Echo::NewStub(vitals::CreateGrpcChannel(
      agent, target, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(), options));
}

grpc::Status CallUnary(vitals::test::Echo::Stub& stub, const EchoRequest& request,
                       EchoReply* reply = nullptr,
                       std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  EchoReply ignored;
  return stub.Unary(&context, request, reply != nullptr ? reply : &ignored);
}

TEST_CASE_METHOD(Fixture, "gRPC unary calls: exact counts by status, messages and sizes",
                 "[grpc]") {
  vitals::Agent agent(GrpcOptions());
  EchoServer server(&agent);
  auto stub = Stub(agent, server.target());
  EchoRequest ok;
  ok.set_text("hello, vitals");
  EchoRequest bad;
  bad.set_text("x");
  bad.set_code(grpc::StatusCode::INVALID_ARGUMENT);
  EchoRequest broken;
  broken.set_code(grpc::StatusCode::INTERNAL);
  int64_t request_bytes = 0;
  int64_t reply_bytes = 0;
  for (int i = 0; i < 7; ++i) {
    EchoReply reply;
    REQUIRE(CallUnary(*stub, ok, &reply).ok());
    request_bytes += static_cast<int64_t>(ok.ByteSizeLong());
    reply_bytes += static_cast<int64_t>(reply.ByteSizeLong());
  }
  for (int i = 0; i < 3; ++i) {
    REQUIRE(CallUnary(*stub, bad).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    request_bytes += static_cast<int64_t>(bad.ByteSizeLong());
  }
  REQUIRE(CallUnary(*stub, broken).error_code() == grpc::StatusCode::INTERNAL);
  request_bytes += static_cast<int64_t>(broken.ByteSizeLong());

  RequireSettles(agent, ServerCount(kUnary, "OK"), 7);
  // INVALID_ARGUMENT is the client's doing: no error_type on the server; INTERNAL is the server's.
  RequireSettles(agent, ServerCount(kUnary, "INVALID_ARGUMENT"), 3);
  RequireSettles(agent, ServerCount(kUnary, "INTERNAL", "INTERNAL"), 1);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, Server("vitals_rpc_server_calls_started_total", kUnary)) == 11);
  CHECK(SampleValue(body, Server("vitals_rpc_server_active_calls", kUnary)) == 0);
  CHECK(SampleValue(body, Server("rpc_server_requests_per_rpc_count", kUnary)) == 11);
  CHECK(SampleValue(body, Server("rpc_server_requests_per_rpc_sum", kUnary)) == 11);
  CHECK(SampleValue(body, Server("rpc_server_responses_per_rpc_sum", kUnary)) == 7);  // errors: 0
  CHECK(SampleValue(body, Server("rpc_server_request_size_bytes_count", kUnary)) == 11);
  CHECK(SampleValue(body, Server("rpc_server_request_size_bytes_sum", kUnary)) == request_bytes);
  CHECK(SampleValue(body, Server("rpc_server_response_size_bytes_sum", kUnary)) == reply_bytes);
  // The client side, by target: every code but OK is an error there.
  CHECK(SampleValue(body, ClientCount(kUnary, server.port, "OK")) == 7);
  CHECK(SampleValue(body, ClientCount(kUnary, server.port, "INVALID_ARGUMENT")) == 3);
  CHECK(SampleValue(body, ClientCount(kUnary, server.port, "INTERNAL")) == 1);
  const std::string target = "{" + Labels(kUnary) + ",server_address=\"127.0.0.1\",server_port=\"" +
                             std::to_string(server.port) + "\"}";
  CHECK(SampleValue(body, "vitals_rpc_client_active_calls" + target) == 0);
  CHECK(SampleValue(body, "vitals_rpc_client_calls_started_total" + target) == 11);
  CHECK(SampleValue(body, "rpc_client_requests_per_rpc_sum" + target) == 11);
  CHECK(SampleValue(body, "rpc_client_responses_per_rpc_sum" + target) == 7);
  CHECK(SampleValue(body, "rpc_client_request_size_bytes_sum" + target) == request_bytes);
  CHECK(SampleValue(body, "rpc_client_response_size_bytes_sum" + target) == reply_bytes);
}

TEST_CASE_METHOD(Fixture,
                 "gRPC streams: a server stream and a bidirectional one, whole-call "
                 "durations and every message counted",
                 "[grpc]") {
  vitals::Agent agent(GrpcOptions());
  EchoServer server(&agent);
  auto stub = Stub(agent, server.target());
  {
    EchoRequest request;
    request.set_text("item ");
    request.set_replies(5);
    grpc::ClientContext context;
    auto reader = stub->ServerStream(&context, request);
    EchoReply reply;
    int got = 0;
    while (reader->Read(&reply)) ++got;
    REQUIRE(reader->Finish().ok());
    REQUIRE(got == 5);
  }
  {
    grpc::ClientContext context;
    auto stream = stub->Bidi(&context);
    EchoRequest request;
    EchoReply reply;
    for (int i = 0; i < 3; ++i) {
      request.set_text("m" + std::to_string(i));
      REQUIRE(stream->Write(request));
      REQUIRE(stream->Read(&reply));
      CHECK(reply.text() == request.text());
    }
    REQUIRE(stream->WritesDone());
    REQUIRE(stream->Finish().ok());
  }
  RequireSettles(agent, ServerCount(kServerStream, "OK"), 1);
  RequireSettles(agent, ServerCount(kBidi, "OK"), 1);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, Server("rpc_server_requests_per_rpc_sum", kServerStream)) == 1);
  CHECK(SampleValue(body, Server("rpc_server_responses_per_rpc_sum", kServerStream)) == 5);
  CHECK(SampleValue(body, Server("rpc_server_response_size_bytes_count", kServerStream)) == 5);
  CHECK(SampleValue(body, Server("rpc_server_requests_per_rpc_sum", kBidi)) == 3);
  CHECK(SampleValue(body, Server("rpc_server_responses_per_rpc_sum", kBidi)) == 3);
  CHECK(SampleValue(body, Server("rpc_server_request_size_bytes_count", kBidi)) == 3);
  CHECK(SampleValue(body, ClientCount(kServerStream, server.port, "OK")) == 1);
  CHECK(SampleValue(body, ClientCount(kBidi, server.port, "OK")) == 1);
  auto client = [&](const std::string& name, const char* method) {
    return SampleValue(body, name + "{" + Labels(method) +
                                 ",server_address=\"127.0.0.1\",server_port=\"" +
                                 std::to_string(server.port) + "\"}");
  };
  CHECK(client("rpc_client_responses_per_rpc_sum", kServerStream) == 5);
  CHECK(client("rpc_client_response_size_bytes_count", kServerStream) == 5);
  CHECK(client("rpc_client_requests_per_rpc_sum", kBidi) == 3);
  CHECK(client("rpc_client_responses_per_rpc_sum", kBidi) == 3);
}

TEST_CASE_METHOD(Fixture, "gRPC deadline exceeded and client cancellation: both sides record them",
                 "[grpc]") {
  vitals::Agent agent(GrpcOptions());
  EchoServer server(&agent);
  auto stub = Stub(agent, server.target());
  EchoRequest hold;
  hold.set_wait_for_cancel(true);
  // The deadline passes while the handler holds the call; whatever it returns then (CANCELLED
  // here), the client saw DEADLINE_EXCEEDED, and so does the server's record.
  REQUIRE(CallUnary(*stub, hold, nullptr, std::chrono::milliseconds(200)).error_code() ==
          grpc::StatusCode::DEADLINE_EXCEEDED);
  RequireSettles(agent, ServerCount(kUnary, "DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED"), 1);
  CHECK(Value(agent, ServerCount(kUnary, "OK")) == 0);
  CHECK(Value(agent, ClientCount(kUnary, server.port, "DEADLINE_EXCEEDED")) == 1);

  // The client cancels once the server holds the call; the handler notices and says CANCELLED.
  grpc::ClientContext context;
  std::thread canceller([&] {
    REQUIRE(WaitUntil([&] { return server.service.holding() == 1; }));
    context.TryCancel();
  });
  EchoReply reply;
  const grpc::Status cancelled = stub->Unary(&context, hold, &reply);
  canceller.join();
  REQUIRE(cancelled.error_code() == grpc::StatusCode::CANCELLED);
  RequireSettles(agent, ServerCount(kUnary, "CANCELLED"), 1);
  CHECK(Value(agent, ClientCount(kUnary, server.port, "CANCELLED")) == 1);
  CHECK(Value(agent, Server("vitals_rpc_server_active_calls", kUnary)) == 0);
}

TEST_CASE_METHOD(Fixture,
                 "gRPC UNAVAILABLE when the server is gone, and unknown methods as "
                 "_OTHER",
                 "[grpc]") {
  vitals::Agent agent(GrpcOptions());
  auto server = std::make_unique<EchoServer>(&agent);
  const int port = server->port;
  auto stub = Stub(agent, server->target());
  EchoRequest request;
  REQUIRE(CallUnary(*stub, request).ok());

  // A method no service registered: the path the client chose never becomes a label.
  vitals::GrpcClientOptions byte_buffers;
  byte_buffers.messages = vitals::GrpcMessages::kByteBuffer;  // a generic stub's replies
  grpc::GenericStub generic(vitals::CreateGrpcChannel(agent, server->target(),
                                                      grpc::InsecureChannelCredentials(),
                                                      grpc::ChannelArguments(), byte_buffers));
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  grpc::ByteBuffer out;
  grpc::Slice slice(std::string("x"));
  grpc::ByteBuffer in(&slice, 1);
  auto call = generic.PrepareUnaryCall(&context, "/evil.Scanner/Probe\xff\"{}", in, &cq);
  call->StartCall();
  grpc::Status unknown;
  call->Finish(&out, &unknown, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  REQUIRE(cq.Next(&tag, &ok));
  REQUIRE(unknown.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  RequireSettles(agent, ServerCount("_OTHER", "UNIMPLEMENTED", "UNIMPLEMENTED"), 1);
  CHECK(vitals_test::CountLines(agent.RenderText(),
                                "rpc_server_call_duration_seconds_count{"
                                "rpc_system_name=\"grpc\",rpc_method=\"evil") == 0);

  server.reset();  // gone: calls fail fast with UNAVAILABLE
  REQUIRE(CallUnary(*stub, request).error_code() == grpc::StatusCode::UNAVAILABLE);
  REQUIRE(CallUnary(*stub, request).error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(Value(agent, ClientCount(kUnary, port, "UNAVAILABLE")) == 2);
  CHECK(Value(agent, ClientCount(kUnary, port, "OK")) == 1);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_CASE_METHOD(Fixture,
                 "gRPC calls own their database and outbound calls: N+1, time "
                 "breakdown, and slow calls logged",
                 "[grpc]") {
  vitals::Options o = GrpcOptions();
  o.n_plus_one_threshold = 3;
  o.slow_request_threshold = absl::Milliseconds(50);
  vitals::Agent agent(o);
  EchoServer server(&agent, /*forward_to_self=*/true);
  auto stub = Stub(agent, server.target());
  EchoRequest request;
  request.set_queries(4);  // one statement four times: an N+1
  request.set_forward(2);  // two outbound gRPC calls to the same server
  REQUIRE(CallUnary(*stub, request).ok());
  // The outer call and the two forwarded ones.
  RequireSettles(agent, ServerCount(kUnary, "OK"), 3);
  std::string body = agent.RenderText();
  CHECK(SampleValue(body, Server("vitals_rpc_server_call_db_queries_sum", kUnary)) == 4);
  CHECK(SampleValue(body, Server("vitals_rpc_server_call_db_queries_count", kUnary)) == 3);
  CHECK(SampleValue(body,
                    "vitals_db_n_plus_one_total{http_route=\"vitals.test.Echo/Unary\","
                    "db_collection_name=\"users\"}") == 1);
  const std::string part = "vitals_rpc_server_call_time_seconds_total{" + Labels(kUnary);
  CHECK(SampleValue(body, part + ",part=\"db\"}") > 0);
  CHECK(SampleValue(body, part + ",part=\"outbound\"}") > 0);
  CHECK(SampleValue(body, part + ",part=\"self\"}") > 0);
  // The forwarded calls count as the outer call's outbound calls; the client side saw them.
  CHECK(SampleValue(body, ClientCount(kUnary, server.port, "OK")) == 3);

  EchoRequest slow;
  slow.set_hold_ms(80);
  REQUIRE(CallUnary(*stub, slow).ok());
  RequireSettles(agent, Server("vitals_rpc_server_slow_calls_total", kUnary), 1);
  CHECK(
      sink->Contains("slow RPC: rpc_system=grpc rpc_method=\"vitals.test.Echo/Unary\" "
                     "status=OK duration_ms="));
}

std::string OpenMetrics(vitals::Agent& agent) {
  std::string body;
  vitals::exporters::TextFormat text(nullptr);
  text.Render(vitals::internal::AgentAccess::Impl(agent).registry(), body,
              vitals::exporters::ExpositionFormat::kOpenMetrics);
  return body;
}

TEST_CASE_METHOD(Fixture,
                 "gRPC exemplars from traceparent (and grpc-trace-bin), hostile "
                 "metadata changes nothing",
                 "[grpc]") {
  vitals::Agent agent(GrpcOptions());
  EchoServer server(&agent);
  auto stub = Stub(agent, server.target());
  EchoRequest request;
  {
    grpc::ClientContext context;
    context.AddMetadata("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    EchoReply reply;
    REQUIRE(stub->Unary(&context, request, &reply).ok());
  }
  RequireSettles(agent, ServerCount(kUnary, "OK"), 1);
  CHECK(OpenMetrics(agent).find("# {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\""
                                "b7ad6b7169203331\"}") != std::string::npos);
  // grpc-trace-bin as the interceptor reads it. (gRPC 1.51 itself keeps that header for its
  // tracing filter and passes interceptors no copy, so it cannot come over the wire here.)
  std::string bin("\x00\x00", 2);
  bin += std::string("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16);
  bin += std::string("\x01\x00\xf0\x67\xaa\x0b\xa9\x02\xb7\x02\x01", 11);
  const std::string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  std::multimap<grpc::string_ref, grpc::string_ref> metadata = {
      {"grpc-trace-bin", grpc::string_ref(bin.data(), bin.size())}};
  CHECK(vitals::grpc_detail::TraceOf(metadata).TraceIdHex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  metadata.emplace("traceparent", traceparent);  // preferred when both are there
  CHECK(vitals::grpc_detail::TraceOf(metadata).TraceIdHex() == "0af7651916cd43dd8448eb211c80319c");
  metadata = {{"traceparent", "00-garbage"}, {"grpc-trace-bin", grpc::string_ref(bin.data(), 9)}};
  CHECK_FALSE(vitals::grpc_detail::TraceOf(metadata).valid());

  // Hostile metadata: malformed trace headers, binary garbage, a large value. The calls
  // succeed, are counted, and give no exemplar.
  vitals::Agent third(GrpcOptions());
  EchoServer hostile(&third);
  auto hostile_stub = Stub(third, hostile.target());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"},
      {"traceparent", std::string(7000, 'f')},
      {"traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01"},
      {"grpc-trace-bin", std::string("\x00\x00\x01", 3)},
      {"grpc-trace-bin", std::string("\xff\xfe\x00\x01\x02", 5)},
      {"x-evil-bin", std::string("\x00\"}\n# EOF\n", 11)},
  };
  for (const auto& [key, value] : bad) {
    grpc::ClientContext context;
    context.AddMetadata(key, value);
    EchoReply reply;
    INFO(key);
    REQUIRE(hostile_stub->Unary(&context, request, &reply).ok());
  }
  RequireSettles(third, ServerCount(kUnary, "OK"), static_cast<double>(bad.size()));
  const std::string om = OpenMetrics(third);
  CHECK(om.find("rpc_server_call_duration_seconds_bucket{rpc_system_name=\"grpc\","
                "rpc_method=\"vitals.test.Echo/Unary\",rpc_status_code=\"OK\",error_type=\"\","
                "le=\"+Inf\"} 6 # {") == std::string::npos);
  CHECK(om.find("# EOF\n") == om.size() - 6);
}

TEST_CASE_METHOD(Fixture,
                 "gRPC client breaker: an open breaker fails calls at once with "
                 "UNAVAILABLE, and they are not counted as calls",
                 "[grpc]") {
  vitals::Agent agent(GrpcOptions());
  vitals::CircuitBreakerOptions options;
  options.consecutive_failures = 2;
  options.wait_duration_in_open_state = absl::Minutes(5);
  vitals::CircuitBreaker breaker("echo", options, &agent);
  REQUIRE(breaker.status().ok());
  const int port = vitals_test::FreePort();  // nothing listens there
  vitals::GrpcClientOptions client;
  client.breaker = &breaker;
  auto stub = Stub(agent, "127.0.0.1:" + std::to_string(port), client);
  EchoRequest request;
  for (int i = 0; i < 2; ++i) {
    REQUIRE(CallUnary(*stub, request).error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  REQUIRE(breaker.state() == vitals::CircuitBreaker::State::kOpen);
  const grpc::Status refused = CallUnary(*stub, request);
  CHECK(refused.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(refused.error_message() == "circuit breaker echo is open: call not permitted");
  CHECK(breaker.not_permitted_calls() == 1);
  CHECK(Value(agent, ClientCount(kUnary, port, "UNAVAILABLE")) == 2);
  // Streams too: the stream ends at once with the breaker's status.
  grpc::ClientContext context;
  auto reader = stub->ServerStream(&context, request);
  EchoReply reply;
  CHECK_FALSE(reader->Read(&reply));
  CHECK(reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(breaker.not_permitted_calls() == 2);
}

TEST_CASE_METHOD(Fixture, "gRPC: 1,000 concurrent calls, every one counted once on each side",
                 "[grpc][concurrency]") {
  vitals::Agent agent(GrpcOptions());
  EchoServer server(&agent);
  auto channel =
      vitals::CreateGrpcChannel(agent, server.target(), grpc::InsecureChannelCredentials());
  auto stub = vitals::test::Echo::NewStub(channel);
  constexpr int kCalls = 1000;
  grpc::CompletionQueue cq;
  struct Call {
    grpc::ClientContext context;
    EchoReply reply;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<EchoReply>> reader;
  };
  std::vector<std::unique_ptr<Call>> calls;
  EchoRequest request;
  request.set_text("concurrent");
  for (int i = 0; i < kCalls; ++i) {  // all started before any is waited for
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    call->reader = stub->AsyncUnary(&call->context, request, &cq);
    call->reader->Finish(&call->reply, &call->status, call.get());
    calls.push_back(std::move(call));
  }
  int done = 0, ok_calls = 0;
  void* tag = nullptr;
  bool ok = false;
  while (done < kCalls && cq.Next(&tag, &ok)) {
    ++done;
    ok_calls += static_cast<Call*>(tag)->status.ok();
  }
  REQUIRE(done == kCalls);
  REQUIRE(ok_calls == kCalls);
  RequireSettles(agent, ServerCount(kUnary, "OK"), kCalls);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, Server("vitals_rpc_server_calls_started_total", kUnary)) == kCalls);
  CHECK(SampleValue(body, Server("vitals_rpc_server_active_calls", kUnary)) == 0);
  CHECK(SampleValue(body, ClientCount(kUnary, server.port, "OK")) == kCalls);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
