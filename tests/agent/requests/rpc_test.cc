// vitals/rpc.h without gRPC: RpcCallScope and Agent::RpcUpstream write the RPC families with
// the conventions' names, statuses by name, messages counted and sized, database calls owned.

#include "vitals/rpc.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"
#include "vitals/client.h"
#include "vitals/db.h"

namespace {

using vitals_test::SampleValue;

struct Fixture : vitals_test::ClockAndLog {};

const std::string kLabels = "rpc_system_name=\"thrift\",rpc_method=\"shop.Users/Get\"";

std::string Count(const std::string& code, const std::string& error) {
  return "rpc_server_call_duration_seconds_count{" + kLabels + ",rpc_status_code=\"" + code +
         "\",error_type=\"" + error + "\"}";
}

TEST_CASE_METHOD(Fixture,
                 "RPC server calls: statuses by name, server errors as error_type, "
                 "messages counted and sized",
                 "[rpc]") {
  vitals::Agent agent(Options());
  const vitals::RpcMethodHandle get = agent.RpcMethod("thrift", "shop.Users/Get");
  REQUIRE(get.valid());
  for (int code : {0, 0, 3, 4, 14, 42}) {
    vitals::RpcCallScope call(get);
    call.MessageReceived(100);
    call.MessageSent(250);
    call.MessageSent(-1);  // counted, not sized
    call.set_status(code);
    clock.AdvanceMs(2);
  }
  {
    vitals::RpcCallScope unset(get);  // OK unless set
  }
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, Count("OK", "")) == 3);
  CHECK(SampleValue(body, Count("INVALID_ARGUMENT", "")) == 1);  // the client's doing
  CHECK(SampleValue(body, Count("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED")) == 1);
  CHECK(SampleValue(body, Count("UNAVAILABLE", "UNAVAILABLE")) == 1);
  CHECK(SampleValue(body, Count("42", "")) == 1);  // a code gRPC does not define: its number
  CHECK(SampleValue(body, "rpc_server_call_duration_seconds_sum{" + kLabels +
                              ",rpc_status_code=\"OK\",error_type=\"\"}") ==
        Approx(0.004).epsilon(1e-9));
  CHECK(SampleValue(body, "vitals_rpc_server_calls_started_total{" + kLabels + "}") == 7);
  CHECK(SampleValue(body, "vitals_rpc_server_active_calls{" + kLabels + "}") == 0);
  CHECK(SampleValue(body, "rpc_server_requests_per_rpc_sum{" + kLabels + "}") == 6);
  CHECK(SampleValue(body, "rpc_server_requests_per_rpc_count{" + kLabels + "}") == 7);
  CHECK(SampleValue(body, "rpc_server_responses_per_rpc_sum{" + kLabels + "}") == 12);
  CHECK(SampleValue(body, "rpc_server_request_size_bytes_sum{" + kLabels + "}") == 600);
  CHECK(SampleValue(body, "rpc_server_response_size_bytes_count{" + kLabels + "}") == 6);
  CHECK(SampleValue(body, "rpc_server_response_size_bytes_sum{" + kLabels + "}") == 1500);
  // Nothing of it in the HTTP families.
  CHECK(body.find("http_server_request_duration_seconds_count{") == std::string::npos);
}

TEST_CASE_METHOD(Fixture, "RPC server calls: in flight while open, own their database calls",
                 "[rpc]") {
  vitals::Options o = Options();
  o.n_plus_one_threshold = 3;
  vitals::Agent agent(o);
  const vitals::RpcMethodHandle get = agent.RpcMethod("thrift", "shop.Users/Get");
  {
    vitals::RpcCallScope call(get);
    CHECK(SampleValue(agent.RenderText(), "vitals_rpc_server_active_calls{" + kLabels + "}") == 1);
    for (int i = 0; i < 3; ++i) {
      vitals::DbOperation query(agent, "sqlite", "SELECT * FROM carts WHERE user = 1");
      clock.AdvanceMs(1);
    }
    clock.AdvanceMs(1);
  }
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "vitals_rpc_server_active_calls{" + kLabels + "}") == 0);
  CHECK(SampleValue(body, "vitals_rpc_server_call_db_queries_sum{" + kLabels + "}") == 3);
  CHECK(SampleValue(body,
                    "vitals_db_n_plus_one_total{http_route=\"shop.Users/Get\","
                    "db_collection_name=\"carts\"}") == 1);
  CHECK(SampleValue(body, "vitals_rpc_server_call_time_seconds_total{" + kLabels +
                              ",part=\"db\"}") == Approx(0.003));
  CHECK(SampleValue(body, "vitals_rpc_server_call_time_seconds_total{" + kLabels +
                              ",part=\"self\"}") == Approx(0.001));
  CHECK(body.find("http_server_request_db_queries_count{") == std::string::npos);
}

TEST_CASE_METHOD(Fixture, "RPC client calls: per target and method, every code but OK an error",
                 "[rpc]") {
  vitals::Agent agent(Options());
  const vitals::UpstreamHandle users = agent.RpcUpstream("grpc", "shop.Users/Get", "users", 50051);
  REQUIRE(users.valid());
  for (int code : {0, 0, 5, 14}) {
    vitals::ClientCallScope call(users);
    call.set_status(code);
  }
  const std::string labels =
      "rpc_system_name=\"grpc\",rpc_method=\"shop.Users/Get\",server_address=\"users\","
      "server_port=\"50051\"";
  const std::string body = agent.RenderText();
  auto count = [&](const std::string& code, const std::string& error) {
    return SampleValue(body, "rpc_client_call_duration_seconds_count{" + labels +
                                 ",rpc_status_code=\"" + code + "\",error_type=\"" + error + "\"}");
  };
  CHECK(count("OK", "") == 2);
  CHECK(count("NOT_FOUND", "NOT_FOUND") == 1);
  CHECK(count("UNAVAILABLE", "UNAVAILABLE") == 1);
  CHECK(SampleValue(body, "vitals_rpc_client_active_calls{" + labels + "}") == 0);
  CHECK(body.find("http_client_request_duration_seconds_count{") == std::string::npos);
  // A plain ClientCallScope records no start and no messages; an RpcClientCallScope does.
  CHECK(SampleValue(body, "vitals_rpc_client_calls_started_total{" + labels + "}") == -1);
  {
    vitals::RpcClientCallScope call(users);
    call.MessageSent(40);
    call.MessageReceived(900);
    call.MessageReceived(-1);  // counted, not sized
    CHECK(SampleValue(agent.RenderText(), "vitals_rpc_client_active_calls{" + labels + "}") == 1);
    call.set_status(0);
  }
  const std::string after = agent.RenderText();
  CHECK(SampleValue(after, "vitals_rpc_client_calls_started_total{" + labels + "}") == 1);
  CHECK(SampleValue(after, "rpc_client_requests_per_rpc_sum{" + labels + "}") == 1);
  CHECK(SampleValue(after, "rpc_client_responses_per_rpc_sum{" + labels + "}") == 2);
  CHECK(SampleValue(after, "rpc_client_request_size_bytes_sum{" + labels + "}") == 40);
  CHECK(SampleValue(after, "rpc_client_response_size_bytes_sum{" + labels + "}") == 900);
  CHECK(SampleValue(after, "rpc_client_response_size_bytes_count{" + labels + "}") == 1);
  CHECK(count("OK", "") == 2);  // `body` was read before this call
  CHECK(SampleValue(after, "rpc_client_call_duration_seconds_count{" + labels +
                               ",rpc_status_code=\"OK\",error_type=\"\"}") == 3);
}

TEST_CASE_METHOD(Fixture, "RPC handles and scopes outlive their agent and record nothing",
                 "[rpc]") {
  auto agent = std::make_unique<vitals::Agent>(Options());
  const vitals::RpcMethodHandle get = agent->RpcMethod("grpc", "shop.Users/Get");
  auto call = std::make_unique<vitals::RpcCallScope>(get);
  agent.reset();
  CHECK_FALSE(get.valid());
  call->MessageReceived(10);
  call->set_status(0);
  CHECK(call->Finish() == absl::ZeroDuration());
  vitals::RpcCallScope late(get);
  late.MessageSent(5);
}

}  // namespace
