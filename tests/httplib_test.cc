#include "vitals/httplib.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/root/agent_access.h"
#include "exporters/text_format.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/sockets.h"

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
  std::atomic<int> logged{0};  // the logger runs on the server's worker threads
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
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));

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
  CHECK(SampleValue(body, count + "{http_request_method=\"GET\",http_route=\"/users/"
                                  ":id\",http_response_status_code=\"200\"}") == 3);
  CHECK(SampleValue(body, count + "{http_request_method=\"POST\",http_route=\"/"
                                  "orders\",http_response_status_code=\"201\"}") == 1);
  CHECK(SampleValue(body, count + "{http_request_method=\"HEAD\",http_route=\"/users/"
                                  ":id\",http_response_status_code=\"200\"}") == 1);
  CHECK(SampleValue(body, count + "{http_request_method=\"GET\",http_route=\"unmatched\",http_"
                                  "response_status_code=\"404\"}") == 2);
  // Unmatched requests count in the per-request query histogram too (with no query), so the
  // per-route average rule has a number for them as for every route.
  CHECK(SampleValue(body,
                    "http_server_request_db_queries_count{http_request_method=\"GET\","
                    "http_route=\"unmatched\"}") == 2);
  CHECK(SampleValue(body,
                    "http_server_request_db_queries_bucket{http_request_method=\"GET\","
                    "http_route=\"unmatched\",le=\"0\"}") == 2);
  CHECK(SampleValue(body, count + "{http_request_method=\"GET\",http_route=\"/"
                                  "boom\",http_response_status_code=\"500\"}") == 1);
  CHECK(body.find("/random/") == std::string::npos);  // raw paths never become labels
  CHECK(SampleValue(
            body,
            "http_server_active_requests{http_request_method=\"GET\",http_route=\"/boom\"}") == 0);
  CHECK(logged == 8);  // the user's logger still runs
}

TEST_CASE("with body_sizes, request and response body sizes are recorded per route and status",
          "[httplib]") {
  vitals::Options o;
  o.read_environment = false;
  o.body_sizes = true;
  vitals::Agent agent(o);
  httplib::Server server;
  server.set_tcp_nodelay(true);
  vitals::HttplibInstrumentation routes(agent, server);
  routes.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.body + req.body, "text/plain");  // twice the request's bytes
  });
  routes.Get("/stream", [](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(5000, "text/plain",
                             [](size_t offset, size_t length, httplib::DataSink& sink) {
                               const std::string chunk(std::min<size_t>(length, 1000), 'x');
                               sink.write(chunk.data(), chunk.size());
                               (void)offset;
                               return true;
                             });
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));
  httplib::Client client("127.0.0.1", port);
  REQUIRE(client.Post("/echo", std::string(100, 'a'), "text/plain"));
  REQUIRE(client.Post("/echo", std::string(3000, 'b'), "text/plain"));
  auto streamed = client.Get("/stream");
  REQUIRE(streamed);
  CHECK(streamed->body.size() == 5000);
  server.stop();
  serve.join();

  const std::string body = agent.RenderText();
  const std::string echo =
      "{http_request_method=\"POST\",http_route=\"/echo\",http_response_status_code=\"200\"";
  CHECK(SampleValue(body, "http_server_request_body_size_bytes_count" + echo + "}") == 2);
  CHECK(SampleValue(body, "http_server_request_body_size_bytes_sum" + echo + "}") == 3100);
  CHECK(SampleValue(body, "http_server_request_body_size_bytes_bucket" + echo + ",le=\"256\"}") ==
        1);
  CHECK(SampleValue(body, "http_server_response_body_size_bytes_sum" + echo + "}") == 6200);
  const std::string stream =
      "{http_request_method=\"GET\",http_route=\"/stream\",http_response_status_code=\"200\"}";
  CHECK(SampleValue(body, "http_server_response_body_size_bytes_sum" + stream) == 5000);
  CHECK(SampleValue(body, "http_server_request_body_size_bytes_sum" + stream) == 0);
}

TEST_CASE("without body_sizes there are no body-size families", "[httplib]") {
  vitals::Options o;
  o.read_environment = false;
  vitals::Agent agent(o);
  CHECK(agent.RenderText().find("body_size") == std::string::npos);
}

TEST_CASE("HEAD series appear with the first HEAD request, and a failed body keeps its route",
          "[httplib]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  httplib::Server server;
  vitals::HttplibInstrumentation routes(agent, server);
  routes.Get("/items/:id", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("item", "text/plain");
  });
  routes.Post("/upload", [](const httplib::Request&, httplib::Response& res) { res.status = 201; });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));

  // Registering a GET route creates no HEAD series.
  CHECK(agent.RenderText().find("http_request_method=\"HEAD\"") == std::string::npos);
  CHECK(agent.RenderText().find(
            "http_server_active_requests{http_request_method=\"GET\",http_route=\"/items/:id\"}") !=
        std::string::npos);

  // A POST that announces 100 bytes, sends 3 and hangs up: the server answers 400 without
  // running the handler, and the request is still recorded under /upload.
  const int fd = vitals_test::ConnectLoopback(port);
  REQUIRE(vitals_test::SendAll(
      fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"));
  shutdown(fd, SHUT_WR);
  vitals_test::ReadUntilClose(fd, std::chrono::seconds(5));
  close(fd);
  httplib::Client client("127.0.0.1", port);
  REQUIRE(client.Head("/items/1"));
  server.stop();
  serve.join();

  const std::string body = agent.RenderText();
  const std::string count = "http_server_request_duration_seconds_count";
  CHECK(SampleValue(body, count + "{http_request_method=\"HEAD\",http_route=\"/items/:id\","
                                  "http_response_status_code=\"200\"}") == 1);
  CHECK(body.find("http_route=\"unmatched\"") == std::string::npos);
  CHECK(vitals_test::CountLines(
            body, count + "{http_request_method=\"POST\",http_route=\"/upload\"") == 1);
}

TEST_CASE("a traceparent header makes the request its bucket's exemplar", "[httplib][exemplars]") {
  vitals::Options o;
  o.read_environment = false;
  vitals::Agent agent(o);
  httplib::Server server;
  vitals::HttplibInstrumentation routes(agent, server);
  routes.Get("/traced", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  routes.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the le="0.05" bucket
    res.set_content("ok", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));
  httplib::Client client("127.0.0.1", port);
  REQUIRE(client.Get("/traced",
                     {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}));
  REQUIRE(client.Get("/slow", {{"traceparent", "00-not-a-trace-01"}}));
  server.stop();
  serve.join();

  std::string om;
  vitals::exporters::TextFormat(nullptr).Render(
      vitals::internal::AgentAccess::Impl(agent).registry(), om,
      vitals::exporters::ExpositionFormat::kOpenMetrics);
  INFO(om);
  // On the bucket the request landed in (which one depends on this machine's speed).
  const size_t exemplar = om.find(
      "} 1 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} ");
  REQUIRE(exemplar != std::string::npos);
  const std::string line =
      om.substr(om.rfind('\n', exemplar) + 1, exemplar - om.rfind('\n', exemplar));
  CHECK(line.find("http_server_request_duration_seconds_bucket{") == 0);
  CHECK(line.find("http_route=\"/traced\",http_response_status_code=\"200\",le=\"") !=
        std::string::npos);
  // The malformed header gave none.
  const size_t slow = om.find("http_route=\"/slow\"");
  REQUIRE(slow != std::string::npos);
  CHECK(om.find(" # {", slow) == std::string::npos);
}

TEST_CASE("the traceparent header is found among many, in any case, and only by its name",
          "[httplib][exemplars]") {
  vitals::Options o;
  o.read_environment = false;
  o.http_enabled = false;
  vitals::Agent agent(o);
  httplib::Server server;
  vitals::HttplibInstrumentation routes(agent, server);
  const auto ok = [](const httplib::Request&, httplib::Response& res) { res.status = 200; };
  // cpp-httplib keeps headers ordered by case-insensitive name; names from "t" on come after
  // the trace's, names before "t" before it.
  const httplib::Headers common = {{"Accept", "*/*"},
                                   {"Accept-Encoding", "gzip"},
                                   {"Cookie", "a=b"},
                                   {"Host", "example"},
                                   {"Sec-Fetch-Mode", "cors"},
                                   {"tracestate", "k=v"},
                                   {"Upgrade-Insecure-Requests", "1"},
                                   {"User-Agent", "test/1.0"},
                                   {"Via", "1.1 proxy"},
                                   {"X-Request-Id", "42"},
                                   {"~odd", "x"}};
  struct Case {
    const char* route;
    std::vector<std::pair<std::string, std::string>> extra;
    bool exemplar;
  };
  const std::vector<Case> cases = {
      {"/mixed-case",
       {{"TraceParent", "00-11111111111111111111111111111111-1111111111111111-01"}},
       true},
      {"/upper-case",
       {{"TRACEPARENT", "00-22222222222222222222222222222222-2222222222222222-01"}},
       true},
      {"/near-names",
       {{"traceparenx", "00-33333333333333333333333333333333-3333333333333333-01"},
        {"traceparen", "00-33333333333333333333333333333333-3333333333333333-01"},
        {"Traceparent-Extra", "00-33333333333333333333333333333333-3333333333333333-01"}},
       false},
      {"/none", {}, false},
  };
  for (const Case& c : cases) {
    const httplib::Server::Handler handler = routes.Instrument("GET", c.route, ok);
    httplib::Request req;
    req.method = "GET";
    req.path = c.route;
    req.headers = common;
    for (const auto& [name, value] : c.extra) req.headers.emplace(name, value);
    httplib::Response res;
    routes.BeforeRouting();
    handler(req, res);
    routes.AfterResponse(req, res);
  }
  std::string om;
  vitals::exporters::TextFormat(nullptr).Render(
      vitals::internal::AgentAccess::Impl(agent).registry(), om,
      vitals::exporters::ExpositionFormat::kOpenMetrics);
  INFO(om);
  for (const Case& c : cases) {
    INFO(c.route);
    const std::string route = std::string("http_route=\"") + c.route + "\"";
    CHECK(SampleValue(om,
                      "http_server_request_duration_seconds_count{http_request_method="
                      "\"GET\"," +
                          route + ",http_response_status_code=\"200\"}") == 1);
    bool has_exemplar = false;
    for (size_t at = om.find(route); at != std::string::npos; at = om.find(route, at + 1)) {
      const size_t eol = om.find('\n', at);
      has_exemplar =
          has_exemplar || om.substr(at, eol - at).find(" # {trace_id=") != std::string::npos;
    }
    CHECK(has_exemplar == c.exemplar);
  }
}

TEST_CASE("one HttplibClient shared by threads: every call timed, one at a time, no race",
          "[httplib][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  httplib::Server server;
  server.set_tcp_nodelay(true);
  std::atomic<int> in_flight{0}, most{0};
  server.Get(R"(/stock/(\d+))", [&](const httplib::Request&, httplib::Response& res) {
    const int now = ++in_flight;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    res.set_content("7", "text/plain");
    --in_flight;
  });
  server.Post("/reserve",
              [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));

  vitals::HttplibClient shared(agent, "127.0.0.1", port);  // as handlers would share it
  constexpr int kThreads = 4, kCalls = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        auto r = (t % 2 == 0) ? shared.Get("/stock/" + std::to_string(i))
                              : shared.Post("/reserve", "{}", "application/json");
        if (!r) ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  server.stop();
  serve.join();
  CHECK(failed == 0);
  CHECK(most == 1);  // cpp-httplib's client sends one request at a time per object
  const std::string body = agent.RenderText();
  const std::string address = "server_address=\"127.0.0.1\",server_port=\"" + std::to_string(port);
  CHECK(
      SampleValue(body, "http_client_request_duration_seconds_count{http_request_method=\"GET\"," +
                            address + "\",http_response_status_code=\"200\",error_type=\"\"}") ==
      kThreads / 2 * kCalls);
  CHECK(
      SampleValue(body, "http_client_request_duration_seconds_count{http_request_method=\"POST\"," +
                            address + "\",http_response_status_code=\"503\",error_type=\"503\"}") ==
      kThreads / 2 * kCalls);
  CHECK(SampleValue(body, "http_client_active_requests{http_request_method=\"GET\"," + address +
                              "\"}") == 0);
}

TEST_CASE("an HttplibClient used after its agent is gone still calls, and records nothing",
          "[httplib][lifetime]") {
  httplib::Server server;
  server.Get("/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("pong", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));
  auto agent = std::make_unique<vitals::Agent>(vitals_test::QuietOptions());
  vitals::HttplibClient client(*agent, "127.0.0.1", port);
  REQUIRE(client.Get("/ping"));
  agent.reset();
  auto r = client.Get("/ping");
  server.stop();
  serve.join();
  REQUIRE(r);
  CHECK(r->body == "pong");
}

}  // namespace
