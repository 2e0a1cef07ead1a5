#include "vitals/httplib.h"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>

#include "tests/support/metrics_text.h"

namespace {

using vitals_test::SampleValue;

TEST_CASE("route templates become literal regexes with one-segment captures", "[httplib]") {
  CHECK(vitals::RouteTemplateToRegex("/users/:id") == "/users/([^/]+)");
  CHECK(vitals::RouteTemplateToRegex("/v1.0/a+b/:x/:y") == "/v1\\.0/a\\+b/([^/]+)/([^/]+)");
  CHECK(vitals::RouteTemplateToRegex("/time/12:30") == "/time/12:30");
}

TEST_CASE("a cpp-httplib server is instrumented with its route templates", "[httplib]") {
  vitals::Options o;
  o.read_environment = false;
  vitals::Agent agent(o);
  httplib::Server server;
  vitals::HttplibInstrumentation routes(agent, server);
  int logged = 0;
  routes.set_logger([&](const httplib::Request&, const httplib::Response&) { ++logged; });
  routes.Get("/users/:id", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("user " + req.matches[1].str(), "text/plain");
  });
  routes.Post("/orders", [](const httplib::Request&, httplib::Response& res) { res.status = 201; });
  routes.Get("/boom", [](const httplib::Request&, httplib::Response&) {
    throw std::runtime_error("handler failed");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  httplib::Client client("127.0.0.1", port);
  for (int i = 0; i < 3; ++i) {
    auto r = client.Get(("/users/" + std::to_string(i)).c_str());
    REQUIRE(r);
    CHECK(r->body == "user " + std::to_string(i));
  }
  REQUIRE(client.Post("/orders", "{}", "application/json"));
  REQUIRE(client.Head("/users/7"));
  for (int i = 0; i < 2; ++i) REQUIRE(client.Get(("/random/" + std::to_string(i)).c_str()));
  auto boom = client.Get("/boom");
  REQUIRE(boom);
  CHECK(boom->status == 500);
  server.stop();
  serve.join();

  const std::string body = agent.RenderText();
  const std::string count = "http_server_request_duration_seconds_count";
  CHECK(SampleValue(body, count + "{method=\"GET\",route=\"/users/:id\",status=\"200\"}") == 3);
  CHECK(SampleValue(body, count + "{method=\"POST\",route=\"/orders\",status=\"201\"}") == 1);
  CHECK(SampleValue(body, count + "{method=\"HEAD\",route=\"/users/:id\",status=\"200\"}") == 1);
  CHECK(SampleValue(body, count + "{method=\"GET\",route=\"unmatched\",status=\"404\"}") == 2);
  CHECK(SampleValue(body, count + "{method=\"GET\",route=\"/boom\",status=\"500\"}") == 1);
  CHECK(body.find("/random/") == std::string::npos);  // raw paths never become labels
  CHECK(SampleValue(body, "http_server_active_requests{method=\"GET\",route=\"/boom\"}") == 0);
  CHECK(logged == 8);  // the user's logger still runs
}

}  // namespace
