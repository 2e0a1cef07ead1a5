// The push exporter against a small in-process HTTP server that plays the Pushgateway's part
// (the real Pushgateway is in tests/integration/pushgateway_test.cc).

#include "exporters/pushgateway_exporter.h"

#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/fakes.h"
#include "vitals/agent.h"

namespace {

using namespace std::chrono_literals;
using vitals::exporters::PushgatewayPath;

TEST_CASE("group paths: plain values, escaped values, and @base64 for '/' and empty", "[push]") {
  CHECK(PushgatewayPath("nightly", {}) == "/metrics/job/nightly");
  CHECK(PushgatewayPath("nightly", {{"instance", "web-1"}, {"zone", "eu west"}}) ==
        "/metrics/job/nightly/instance/web-1/zone/eu%20west");
  CHECK(PushgatewayPath("a/b", {{"path", "/var/x"}, {"empty", ""}}) ==
        "/metrics/job@base64/YS9i/empty@base64/=/path@base64/L3Zhci94");
}

struct FakeGateway {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> requests;  // method + path, body
  std::atomic<int> status{200};

  FakeGateway() {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      requests.emplace_back(req.method + " " + req.path, req.body);
      res.status = status.load();
    };
    server.Put(".*", handle);
    server.Delete(".*", handle);
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~FakeGateway() {
    server.stop();
    thread.join();
  }
  size_t Count(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& r : requests) n += r.first.rfind(what, 0) == 0;
    return n;
  }
  std::string LastBody() {
    std::lock_guard<std::mutex> lock(mu);
    return requests.empty() ? "" : requests.back().second;
  }
};

vitals::Options PushOptions(const FakeGateway& gw) {
  vitals::Options o = vitals_test::QuietOptions();
  o.http_enabled = false;
  o.pushgateway_url = "http://127.0.0.1:" + std::to_string(gw.port) + "/";
  o.job = "unit";
  o.push_grouping = {{"instance", "i-1"}};
  o.push_timeout = absl::Seconds(2);
  o.process_metrics = false;
  return o;
}

TEST_CASE("pushes on its interval, on demand, and once more on Stop", "[push]") {
  FakeGateway gw;
  vitals::Options o = PushOptions(gw);
  o.push_interval = absl::Milliseconds(100);
  o.push_delete_on_stop = true;
  vitals::Agent agent(o);
  agent.Record("GET", "/x", 200, absl::Milliseconds(1));
  REQUIRE(agent.Start().ok());
  CHECK(agent.port() == 0);  // push-only
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       gw.Count("PUT") < 3 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(gw.Count("PUT /metrics/job/unit/instance/i-1") >= 3);
  CHECK(gw.LastBody().find(
            "http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route="
            "\"/x\",http_response_status_code=\"200\"} 1") != std::string::npos);
  CHECK(agent.Push().ok());
  agent.Record("GET", "/last", 200, absl::Milliseconds(1));  // only a push from now on has it
  agent.Stop();
  // Stop made the final push (the interval thread may have pushed too, but Stop's push is the
  // last PUT), then deleted the group, and nothing was pushed after that.
  std::vector<std::pair<std::string, std::string>> requests;
  {
    std::lock_guard<std::mutex> lock(gw.mu);
    requests = gw.requests;
  }
  REQUIRE(requests.size() >= 2);
  CHECK(requests.back().first == "DELETE /metrics/job/unit/instance/i-1");
  CHECK(requests[requests.size() - 2].first == "PUT /metrics/job/unit/instance/i-1");
  CHECK(requests[requests.size() - 2].second.find("http_route=\"/last\"") != std::string::npos);
  CHECK(gw.Count("DELETE") == 1);
}

TEST_CASE("a refusing Pushgateway: counted, logged once a minute, retried", "[push]") {
  FakeGateway gw;
  gw.status = 500;
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o = PushOptions(gw);
  o.push_interval = absl::ZeroDuration();
  o.log_sink = sink;
  vitals::Agent agent(o);
  for (int i = 0; i < 3; ++i) CHECK(absl::IsFailedPrecondition(agent.Push()));
  CHECK(sink->lines().size() == 1);
  CHECK(sink->lines()[0].find("push to the Pushgateway failed: PUT http://127.0.0.1:") !=
        std::string::npos);
  CHECK(sink->lines()[0].find("HTTP 500") != std::string::npos);
  gw.status = 200;
  CHECK(agent.Push().ok());
  const std::string body = agent.RenderText();
  CHECK(body.find("\nvitals_push_failures_total 3\n") != std::string::npos);
  CHECK(body.find("\nvitals_pushes_total 1\n") != std::string::npos);
}

TEST_CASE("without a Pushgateway, Push says so", "[push]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  CHECK(absl::IsFailedPrecondition(agent.Push()));
}

}  // namespace
