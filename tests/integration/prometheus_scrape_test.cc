// Starts the real demo service and a real Prometheus server (from Debian's `prometheus`
// package) on loopback, lets Prometheus scrape the demo every second, and checks what it
// stored through its HTTP API. Also runs the real `promtool check metrics` on the demo's body.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fixtures.h"
#include "tests/support/process.h"

namespace {

using namespace std::chrono_literals;

std::string Query(int prom_port, const std::string& promql) {
  httplib::Client client("127.0.0.1", prom_port);
  client.set_read_timeout(5);
  auto res = client.Get("/api/v1/query", {{"query", promql}}, httplib::Headers{});
  return res && res->status == 200 ? res->body : "";
}

// label value -> sample value for a query grouped by `label`.
std::map<std::string, double> Vector(const std::string& json, const std::string& label) {
  std::map<std::string, double> out;
  std::regex item("\\{\"metric\":\\{[^}]*\"" + label +
                  "\":\"([^\"]*)\"[^}]*\\},\"value\":\\[[0-9.]+,\"([^\"]+)\"\\]\\}");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), item); it != std::sregex_iterator();
       ++it) {
    out[(*it)[1]] = std::stod((*it)[2]);
  }
  return out;
}

TEST_CASE("a real Prometheus scrapes the demo: up is 1 and every route has a rate",
          "[integration]") {
  vitals_test::TempDir dir;
  const int metrics_port = vitals_test::FreePort();
  vitals_test::Subprocess demo({vitals_test::BinaryDir() + "/examples/demo_service", "--port=0",
                                "--load-rps=80", "--cache-entries=110"},
                               {{"VITALS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)},
                                {"VITALS_SERVICE_VERSION", "9.9.9"},
                                {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"},
                                {"VITALS_CONSTANT_LABELS", "region=test-1"}},
                               dir.path());
  REQUIRE(demo.WaitForOutput("metrics: http://", 10s));

  // The demo's exposition passes the real promtool without a single finding, once the load
  // generator has touched every kind of metric (requests, database, N+1, pool, cache).
  httplib::Client agent("127.0.0.1", metrics_port);
  std::string body;
  REQUIRE(vitals_test::WaitUntil(
      [&] {
        auto res = agent.Get("/metrics");
        body = res ? res->body : "";
        for (const char* needle :
             {"vitals_db_n_plus_one_total{", "db_client_connections_usage{",
              "cache_gets_total{region=\"test-1\",cache=\"products\",result=\"miss\"}",
              "http_response_status_code=\"500\"", "http_server_request_db_queries_bucket{"}) {
          if (body.find(needle) == std::string::npos) return false;
        }
        return true;
      },
      30s));
  vitals_test::WriteFile(dir.path() + "/metrics.txt", body);
  std::string lint;
  const int lint_code =
      vitals_test::RunCommand("promtool check metrics < " + dir.path() + "/metrics.txt", &lint);
  CHECK(lint_code == 0);
  CHECK(lint == "");
  // The OpenMetrics answer passes the Python client's strict OpenMetrics parser.
  auto om = agent.Get("/metrics", {{"Accept", "application/openmetrics-text;version=1.0.0"}});
  REQUIRE(om);
  CHECK(om->get_header_value("Content-Type") ==
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
  vitals_test::WriteFile(dir.path() + "/metrics.om", om->body);
  std::string parsed;
  const int parse_code = vitals_test::RunCommand(
      std::string(VITALS_DEBIAN_PYTHON) +
          " -c 'import sys; from prometheus_client.openmetrics.parser import "
          "text_string_to_metric_families as parse; "
          "print(len(list(parse(open(sys.argv[1], encoding=\"utf-8\").read()))), \"families\")' " +
          dir.path() + "/metrics.om 2>&1",
      &parsed);
  INFO(parsed.substr(0, 2000));
  CHECK(parse_code == 0);
  CHECK(parsed.find(" families") != std::string::npos);

  const int prom_port = vitals_test::FreePort();
  auto prometheus =
      vitals_test::StartPrometheus(dir.path(),
                                   "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                   "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
                                   "      - targets: ['127.0.0.1:" +
                                       std::to_string(metrics_port) + "']\n",
                                   prom_port);

  // up == 1 once the first scrape has landed.
  bool up = false;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       !up && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(500ms)) {
    auto v = Vector(Query(prom_port, "up{job=\"demo\"}"), "job");
    up = v.count("demo") && v["demo"] == 1;
  }
  INFO("prometheus stderr: " << prometheus->Stderr().substr(0, 2000));
  REQUIRE(up);
  // Prometheus asked for OpenMetrics and got it: only that format carries a unit, and its
  // metadata has it.
  {
    httplib::Client client("127.0.0.1", prom_port);
    auto res = client.Get("/api/v1/metadata", {{"metric", "http_server_request_duration_seconds"}},
                          httplib::Headers{});
    REQUIRE(res);
    INFO(res->body);
    CHECK(res->body.find("\"unit\":\"seconds\"") != std::string::npos);
  }
  // An OpenMetrics info family: Prometheus stores its sample as <name>_info 1 and keeps the
  // type in its metadata, under the family name (OpenMetrics names it without `_info`).
  auto info_family = [&](const std::string& family, const std::string& selector) {
    INFO(family);
    auto v = Vector(Query(prom_port, family + "_info{job=\"demo\"" + selector + "}"), "job");
    CHECK(v["demo"] == 1);
    httplib::Client client("127.0.0.1", prom_port);
    auto res = client.Get("/api/v1/metadata", {{"metric", family}}, httplib::Headers{});
    REQUIRE(res);
    INFO(res->body);
    CHECK(res->body.find("\"type\":\"info\"") != std::string::npos);
  };
  info_family("vitals_build", "");  // the agent's version

  // target_info, as OpenTelemetry writes it: an info family Prometheus stores as target_info
  // 1, joined to any series on job and instance; the constant label on every other series.
  {
    info_family("target",
                ",service_version=\"9.9.9\",deployment_environment=\"test\","
                "service_name=~\"unknown_service:demo_service\"");
    auto joined = Vector(Query(prom_port,
                               "sum by (service_version) (http_server_request_duration_seconds_"
                               "count{job=\"demo\"} * on (job, instance) group_left "
                               "(service_version) target_info)"),
                         "service_version");
    CHECK(joined["9.9.9"] > 0);
    auto region =
        Vector(Query(prom_port, "count by (region) ({job=\"demo\",region=\"test-1\"})"), "region");
    CHECK(region["test-1"] > 100);  // every family's series
    CHECK(Query(prom_port, "count(target_info{region!=\"\"})").find("\"result\":[]") !=
          std::string::npos);
  }

  // After a few scrapes, every route the load generator hits has a non-zero request rate.
  const std::vector<std::string> routes = {"/users/:id", "/products/:id", "/orders",
                                           "/search",    "/flaky",        "/cpu",
                                           "/",          "/memory/leak",  "unmatched"};
  auto all_positive = [&](std::map<std::string, double>& rates) {
    for (const auto& r : routes) {
      if (!(rates[r] > 0)) return false;
    }
    return true;
  };
  std::map<std::string, double> rates, errors;
  for (auto deadline = std::chrono::steady_clock::now() + 90s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1s)) {
    rates = Vector(Query(prom_port,
                         "sum by (http_route) (rate(http_server_request_duration_seconds_count"
                         "{job=\"demo\"}[15s]))"),
                   "http_route");
    errors = Vector(
        Query(prom_port,
              "sum by (http_response_status_code) (rate(http_server_request_duration_seconds_count"
              "{job=\"demo\",http_route=\"/flaky\"}[30s]))"),
        "http_response_status_code");
    if (all_positive(rates) && errors["500"] > 0) break;
  }
  for (const std::string& route : routes) {
    INFO("route " << route);
    CHECK(rates[route] > 0);
  }
  // The histogram is usable for quantiles, and errors are visible by status.
  auto p99 = Vector(Query(prom_port,
                          "histogram_quantile(0.99, sum by (http_route, le) (rate("
                          "http_server_request_duration_seconds_bucket{job=\"demo\"}[15s])))"),
                    "http_route");
  CHECK(p99["/search"] > 0);
  CHECK(errors["500"] > 0);
  auto build = Vector(Query(prom_port, "vitals_build_info"), "version");
  CHECK(build.size() == 1);

  // The products cache (an LruCache under a hot/cold key pattern): a hit ratio strictly
  // between 0 and 1, evictions, and a bound.
  std::map<std::string, double> ratio, evictions, size;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1s)) {
    ratio = Vector(Query(prom_port,
                         "sum by (cache) (rate(cache_gets_total{job=\"demo\",result=\"hit\"}[30s]))"
                         " / sum by (cache) (rate(cache_gets_total{job=\"demo\"}[30s]))"),
                   "cache");
    evictions = Vector(Query(prom_port, "cache_evictions_total{job=\"demo\"}"), "cache");
    if (ratio["products"] > 0 && evictions["products"] > 0) break;
  }
  size = Vector(Query(prom_port, "cache_size{job=\"demo\"} <= cache_max_size"), "cache");
  INFO("products hit ratio " << ratio["products"]);
  CHECK(ratio["products"] > 0);
  CHECK(ratio["products"] < 1);
  CHECK(evictions["products"] > 0);
  CHECK(size["products"] > 0);
  auto loads = Vector(Query(prom_port, "cache_load_duration_seconds_count{job=\"demo\"}"), "cache");
  CHECK(loads["products"] > 0);

  // The database routes: the N+1 one is flagged and the join one is not, each request of the
  // N+1 route makes many more queries, and the pool's metrics move under load.
  const std::string nplus1 = "/orders/recent/n-plus-one", join = "/orders/recent/join";
  std::map<std::string, double> flagged, per_request, pool_total, pool_waits;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1s)) {
    flagged =
        Vector(Query(prom_port, "sum by (http_route) (vitals_db_n_plus_one_total{job=\"demo\"})"),
               "http_route");
    per_request = Vector(
        Query(
            prom_port,
            "sum by (http_route) (rate(http_server_request_db_queries_sum{job=\"demo\"}[30s])) / "
            "sum by (http_route) (rate(http_server_request_db_queries_count{job=\"demo\"}[30s]))"),
        "http_route");
    pool_total = Vector(
        Query(
            prom_port,
            "sum by (db_client_connection_pool_name) (db_client_connections_usage{job=\"demo\"})"),
        "db_client_connection_pool_name");
    pool_waits = Vector(Query(prom_port,
                              "sum by (db_client_connection_pool_name) "
                              "(rate(db_client_connection_wait_time_seconds_count{job=\"demo\"}"
                              "[30s]))"),
                        "db_client_connection_pool_name");
    if (flagged[nplus1] > 0 && per_request[join] > 0 && pool_waits["demo-sqlite"] > 0) break;
  }
  CHECK(flagged[nplus1] > 0);
  CHECK(flagged.count(join) == 0);
  INFO("queries per request: n+1 " << per_request[nplus1] << ", join " << per_request[join]);
  CHECK(per_request[nplus1] > 10);        // 1 + one per order (20)
  CHECK(per_request[join] == Approx(1));  // one join
  CHECK(pool_total["demo-sqlite"] == 4);  // idle + used: every connection is accounted for
  CHECK(pool_waits["demo-sqlite"] > 0);   // connections handed out per second
  auto pool_max = Vector(Query(prom_port, "db_client_connection_max{job=\"demo\"}"),
                         "db_client_connection_pool_name");
  CHECK(pool_max["demo-sqlite"] == 4);

  demo.Signal(SIGINT);
  CHECK(demo.Wait(10s) == 0);
}

TEST_CASE("a Prometheus with native histograms on scrapes the demo's protobuf format",
          "[integration][protobuf]") {
  // Such a Prometheus asks for the protobuf format first (its Accept header, captured, is in
  // tests/exporters/text_format_test.cc); everything must read as it does from the text.
  vitals_test::TempDir dir;
  const int metrics_port = vitals_test::FreePort();
  vitals_test::Subprocess demo(
      {vitals_test::BinaryDir() + "/examples/demo_service", "--port=0", "--load-rps=80"},
      {{"VITALS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)}}, dir.path());
  REQUIRE(demo.WaitForOutput("metrics: http://", 10s));
  httplib::Client agent("127.0.0.1", metrics_port);
  auto pb = agent.Get("/metrics", {{"Accept",
                                    "application/vnd.google.protobuf;proto=io.prometheus.client."
                                    "MetricFamily;encoding=delimited"},
                                   {"Accept-Encoding", "gzip"}});
  REQUIRE(pb);
  CHECK(pb->get_header_value("Content-Type") ==
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
        "encoding=delimited");

  const int prom_port = vitals_test::FreePort();
  auto prometheus =
      vitals_test::StartPrometheus(dir.path(),
                                   "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                   "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
                                   "      - targets: ['127.0.0.1:" +
                                       std::to_string(metrics_port) + "']\n",
                                   prom_port, {"--enable-feature=native-histograms"});
  std::map<std::string, double> rates, p99, hits;
  for (auto deadline = std::chrono::steady_clock::now() + 90s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1s)) {
    rates = Vector(Query(prom_port,
                         "sum by (http_route) (rate(http_server_request_duration_seconds_count"
                         "{job=\"demo\"}[10s]))"),
                   "http_route");
    p99 = Vector(Query(prom_port,
                       "histogram_quantile(0.99, sum by (http_route, le) "
                       "(rate(http_server_request_duration_seconds_bucket{job=\"demo\"}[10s])))"),
                 "http_route");
    hits = Vector(Query(prom_port, "sum by (result) (cache_gets_total{job=\"demo\"})"), "result");
    if (rates["/cpu"] > 0 && p99["/cpu"] > 0 && hits["miss"] > 0) break;
  }
  INFO("prometheus stderr: " << prometheus->Stderr().substr(0, 2000));
  CHECK(rates["/cpu"] > 0);
  CHECK(p99["/cpu"] > 0);
  CHECK(p99["/cpu"] < 10);
  CHECK(hits["miss"] > 0);
  auto up = Vector(Query(prom_port, "up{job=\"demo\"}"), "job");
  CHECK(up["demo"] == 1);
  demo.Signal(SIGINT);
  CHECK(demo.Wait(10s) == 0);
}

// The duration Prometheus' histogram_quantile reads from the native histogram for `route`;
// NaN until it has one.
double NativeQuantile(int prom_port, double q, const std::string& route) {
  auto v = Vector(Query(prom_port, "histogram_quantile(" + std::to_string(q) +
                                       ", sum by (http_route) (rate(http_server_request_duration_"
                                       "seconds{job=\"demo\",http_route=\"" +
                                       route + "\"}[1m])))"),
                  "http_route");
  return v.count(route) ? v[route] : std::nan("");
}

// The observation count of the native histogram of `route` in Prometheus' latest sample.
double NativeCount(int prom_port, const std::string& route) {
  auto v = Vector(Query(prom_port,
                        "sum by (http_route) (histogram_count(http_server_request_"
                        "duration_seconds{job=\"demo\",http_route=\"" +
                            route + "\"}))"),
                  "http_route");
  return v.count(route) ? v[route] : 0;
}

TEST_CASE("a Prometheus with exemplars and native histograms: trace ids and accurate quantiles",
          "[integration][exemplars][native]") {
  vitals_test::TempDir dir;
  const int metrics_port = vitals_test::FreePort();
  const int demo_port = vitals_test::FreePort();
  const std::string trace_log = dir.path() + "/traces.txt";
  vitals_test::Subprocess demo(
      {vitals_test::BinaryDir() + "/examples/demo_service", "--port=" + std::to_string(demo_port),
       "--load-rps=40", "--trace-log=" + trace_log},
      {{"VITALS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)},
       {"VITALS_NATIVE_HISTOGRAMS", "true"}},
      dir.path());
  REQUIRE(demo.WaitForOutput("metrics: http://", 10s));
  const int prom_port = vitals_test::FreePort();
  auto prometheus = vitals_test::StartPrometheus(
      dir.path(),
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
      "      - targets: ['127.0.0.1:" +
          std::to_string(metrics_port) + "']\n",
      prom_port, {"--enable-feature=exemplar-storage", "--enable-feature=native-histograms"});
  INFO("prometheus stderr: " << prometheus->Stderr().substr(0, 3000));

  // A route whose latencies the test chooses: one request so that Prometheus has the series
  // before the measured ones (rate() counts what happens after its first sample), then 300
  // requests of 20..119 ms, untraced.
  const std::string route = "/delay/:ms";
  httplib::Client service("127.0.0.1", demo_port);
  service.set_read_timeout(10);
  REQUIRE(service.Get("/delay/50"));
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       NativeCount(prom_port, route) < 1 && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(500ms)) {
  }
  REQUIRE(NativeCount(prom_port, route) == 1);
  std::vector<double> delays;
  for (int i = 0; i < 300; ++i) delays.push_back(0.020 + 0.001 * (i % 100));
  std::atomic<size_t> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 6; ++t) {
    senders.emplace_back([&] {
      httplib::Client c("127.0.0.1", demo_port);
      c.set_read_timeout(10);
      for (size_t i = next++; i < delays.size(); i = next++) {
        const int ms = static_cast<int>(std::lround(delays[i] * 1000));
        auto r = c.Get(("/delay/" + std::to_string(ms)).c_str());
        if (!r || r->status != 200) failed.fetch_add(1);
      }
    });
  }
  for (auto& t : senders) t.join();
  REQUIRE(failed.load() == 0);
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       NativeCount(prom_port, route) < 301 && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(500ms)) {
  }
  REQUIRE(NativeCount(prom_port, route) == 301);

  // The p99 Prometheus computes from the native buckets (schema 3, each 9% wide) agrees with
  // the p99 of the delays within one bucket's width; the handler's own overhead is far below.
  std::vector<double> sorted = delays;
  std::sort(sorted.begin(), sorted.end());
  for (double q : {0.5, 0.99}) {
    const double known = sorted[static_cast<size_t>(std::ceil(q * sorted.size())) - 1];
    const double got = NativeQuantile(prom_port, q, route);
    INFO("q=" << q << " known=" << known << " from the native histogram=" << got);
    CHECK(got >= known / 1.0905);
    CHECK(got <= known * 1.0905);
  }

  // Exemplars: the load generator's traced requests; every trace id Prometheus stored is one
  // it sent.
  std::string exemplars;
  std::smatch m;
  const std::regex trace_id("\"trace_id\":\"([0-9a-f]{32})\"");
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1s)) {
    httplib::Client client("127.0.0.1", prom_port);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto res = client.Get("/api/v1/query_exemplars",
                          {{"query", "http_server_request_duration_seconds{job=\"demo\"}"},
                           {"start", std::to_string(now - 600)},
                           {"end", std::to_string(now + 60)}},
                          httplib::Headers{});
    exemplars = res && res->status == 200 ? res->body : "";
    if (std::regex_search(exemplars, m, trace_id)) break;
  }
  INFO("query_exemplars: " << exemplars.substr(0, 2000));
  const std::string sent = vitals_test::ReadFile(trace_log);
  int found = 0;
  for (auto it = std::sregex_iterator(exemplars.begin(), exemplars.end(), trace_id);
       it != std::sregex_iterator(); ++it) {
    ++found;
    INFO("trace id " << (*it)[1]);
    CHECK(sent.find((*it)[1].str() + "\n") != std::string::npos);
  }
  CHECK(found > 0);
  CHECK(exemplars.find("\"span_id\":\"") != std::string::npos);
  demo.Signal(SIGINT);
  CHECK(demo.Wait(10s) == 0);
}

}  // namespace
