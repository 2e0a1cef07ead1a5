// Outbound calls: UpstreamHandle, ClientCallScope and the cpp-httplib client adapter record
// OpenTelemetry's http.client.request.duration with status or error type, per instance.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "vitals/agent.h"
#include "vitals/httplib.h"

namespace {

using vitals_test::SampleValue;

// `http_client_request_duration_seconds_count{...}` for the given labels.
std::string CountOf(const std::string& method, const std::string& address, int port,
                    const std::string& status, const std::string& error) {
  return "http_client_request_duration_seconds_count{http_request_method=\"" + method +
         "\",server_address=\"" + address + "\",server_port=\"" + std::to_string(port) +
         "\",http_response_status_code=\"" + status + "\",error_type=\"" + error + "\"}";
}

struct Fixture : vitals_test::ClockAndLog {};

TEST_CASE_METHOD(Fixture, "outbound calls: status, error type and duration per instance",
                 "[upstream]") {
  vitals::Agent agent(Options());
  const vitals::UpstreamHandle a = agent.Upstream("get", "10.0.0.1", 8080);
  const vitals::UpstreamHandle b = agent.Upstream("GET", "10.0.0.2", 8080);
  REQUIRE(a.valid());
  a.Record(200, absl::Milliseconds(3));
  a.Record(200, absl::Milliseconds(4));
  a.Record(503, absl::Milliseconds(2));
  b.Record(200, absl::Milliseconds(40));
  b.RecordError(vitals::kErrorTimeout, absl::Milliseconds(500));
  {
    vitals::ClientCallScope call(b);
    clock.AdvanceMs(250);
    CHECK(SampleValue(agent.RenderText(),
                      "http_client_active_requests{http_request_method=\"GET\",server_address=\""
                      "10.0.0.2\",server_port=\"8080\"}") == 1);
    call.set_error(vitals::kErrorConnection);
  }
  { vitals::ClientCallScope forgotten(a); }  // neither status nor error: _OTHER

  const std::string body = agent.RenderText();
  INFO(body.substr(body.find("http_client_request_duration_seconds"), 4000));
  CHECK(SampleValue(body, CountOf("GET", "10.0.0.1", 8080, "200", "")) == 2);
  // A status of 400 or above is also the error type, as OpenTelemetry says.
  CHECK(SampleValue(body, CountOf("GET", "10.0.0.1", 8080, "503", "503")) == 1);
  CHECK(SampleValue(body, CountOf("GET", "10.0.0.1", 8080, "", "_OTHER")) == 1);
  CHECK(SampleValue(body, CountOf("GET", "10.0.0.2", 8080, "200", "")) == 1);
  CHECK(SampleValue(body, CountOf("GET", "10.0.0.2", 8080, "", "timeout")) == 1);
  CHECK(SampleValue(body, CountOf("GET", "10.0.0.2", 8080, "", "connection_error")) == 1);
  const std::string sum =
      "http_client_request_duration_seconds_sum{http_request_method=\"GET\","
      "server_address=\"10.0.0.2\",server_port=\"8080\",http_response_"
      "status_code=\"\",error_type=\"connection_error\"}";
  CHECK(SampleValue(body, sum) == Approx(0.25));
  CHECK(SampleValue(body,
                    "http_client_active_requests{http_request_method=\"GET\",server_address=\""
                    "10.0.0.2\",server_port=\"8080\"}") == 0);
}

TEST_CASE_METHOD(Fixture, "outbound calls: hostile error types and too many instances are bounded",
                 "[upstream]") {
  vitals::Options o = Options();
  o.series_limit = 5;
  vitals::Agent agent(o);
  const vitals::UpstreamHandle a = agent.Upstream("GET", "svc", 1);
  a.RecordError(std::string(1000, 'x'), absl::Milliseconds(1));
  std::string body = agent.RenderText();
  CHECK(body.find("error_type=\"" + std::string(64, 'x') + "\"") != std::string::npos);
  CHECK(body.find(std::string(65, 'x')) == std::string::npos);
  for (int i = 0; i < 20; ++i) {
    agent.Upstream("GET", "host" + std::to_string(i), 80).Record(200, absl::Milliseconds(1));
  }
  body = agent.RenderText();
  CHECK(body.find("server_address=\"__overflow__\"") != std::string::npos);
  CHECK(vitals_test::CountLines(body, "http_client_active_requests{") <= 6);
}

TEST_CASE("the cpp-httplib client adapter records answers, refusals and timeouts",
          "[upstream][httplib]") {
  vitals::Options o;
  o.read_environment = false;
  vitals::Agent agent(o);
  httplib::Server server;
  server.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  server.Get("/fail", [](const httplib::Request&, httplib::Response& res) { res.status = 500; });
  server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("late", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));

  vitals::HttplibClient up(agent, "127.0.0.1", port);
  up.set_read_timeout(absl::Milliseconds(200));
  REQUIRE(up.Get("/ok"));
  REQUIRE(up.Get("/fail"));
  CHECK_FALSE(up.Get("/slow"));  // past the read timeout
  // Nothing listens on this port any more: refused.
  const int closed = vitals_test::FreePort();
  vitals::HttplibClient gone(agent, "127.0.0.1", closed);
  CHECK_FALSE(gone.Get("/ok"));
  server.stop();
  serve.join();

  const std::string body = agent.RenderText();
  INFO(body.substr(body.find("http_client_request_duration_seconds"), 4000));
  CHECK(SampleValue(body, CountOf("GET", "127.0.0.1", port, "200", "")) == 1);
  CHECK(SampleValue(body, CountOf("GET", "127.0.0.1", port, "500", "500")) == 1);
  CHECK(SampleValue(body, CountOf("GET", "127.0.0.1", port, "", "timeout")) == 1);
  CHECK(SampleValue(body, CountOf("GET", "127.0.0.1", closed, "", "connection_error")) == 1);
  // The error-type mapping for the rest.
  using vitals::HttplibClient;
  CHECK(HttplibClient::ErrorType(httplib::Error::Read, absl::Milliseconds(10), absl::Seconds(1)) ==
        vitals::kErrorRead);
  CHECK(HttplibClient::ErrorType(httplib::Error::ConnectionTimeout, absl::Seconds(1),
                                 absl::Seconds(1)) == vitals::kErrorTimeout);
  CHECK(HttplibClient::ErrorType(httplib::Error::SSLServerVerification, absl::ZeroDuration(),
                                 absl::Seconds(1)) == vitals::kErrorTls);
  CHECK(HttplibClient::ErrorType(httplib::Error::Compression, absl::ZeroDuration(),
                                 absl::Seconds(1)) == vitals::kErrorOther);
}

}  // namespace
