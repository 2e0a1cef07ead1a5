// Percentiles a C++ service can trust, at every scale: a cpp-httplib host whose routes take a
// known time (50 us and 500 us of work, 5 ms and 200 ms of waiting), loaded by a client that
// measures every request, and a real Prometheus that scrapes the host and evaluates the shipped
// recording rules. The p50 and p99 from the rules, and from the live page's /vitals.json, must
// each lie within one bucket of the client's own p50 and p99 (in the bucket holding the truth,
// or the next one either side), with the default buckets.
//
// Main build only: under a sanitizer the client and the handlers run several times slower than
// the routes' times, which is not what this measures.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "vitals/agent.h"
#include "vitals/httplib.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Route {
  std::string path;
  int requests;  // measured ones (one more warms the series up)
  int threads;
};

// Busy for `d` (work that takes CPU time, as a fast route's does).
void Spin(std::chrono::microseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

// The bucket of `value` among `bounds`: the index of the first bound >= value (bounds.size()
// for +Inf), as the classic histogram counts it.
int BucketOf(const std::vector<double>& bounds, double value) {
  return static_cast<int>(std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin());
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string Get(int port, const std::string& path, const httplib::Params& params = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5);
  auto res = client.Get(path.c_str(), params, httplib::Headers{});
  return res && res->status == 200 ? res->body : "";
}

// The one sample value of an instant query, NaN when there is none.
double Scalar(int prom_port, const std::string& promql) {
  const std::string body = Get(prom_port, "/api/v1/query", {{"query", promql}});
  std::smatch m;
  static const std::regex value(R"re("value":\[[0-9.]+,"([^"]+)"\])re");
  if (!std::regex_search(body, m, value)) return NAN;
  return std::stod(m[1]);
}

// The values of history key `key` in a /vitals.json body (null as NaN).
std::vector<double> HistoryValues(const std::string& json, const std::string& key) {
  std::vector<double> out;
  const std::string needle = "\"" + key + "\":[";
  const size_t at = json.find(needle);
  if (at == std::string::npos) return out;
  const size_t end = json.find(']', at);
  std::string list = json.substr(at + needle.size(), end - at - needle.size());
  for (size_t i = 0; i < list.size();) {
    size_t comma = list.find(',', i);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(i, comma - i);
    out.push_back(item == "null" ? NAN : std::stod(item));
    i = comma + 1;
  }
  return out;
}

double JsonNumber(const std::string& json, const std::string& field) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + field + R"re(":([0-9.eE+-]+))re"))) return NAN;
  return std::stod(m[1]);
}

TEST_CASE(
    "p50 and p99 from the recording rules and the live page are within one bucket of what "
    "the client measured, for routes of 50 us, 500 us, 5 ms and 200 ms",
    "[integration][latency]") {
  vitals::Options options = vitals_test::QuietOptions();
  options.listen = "127.0.0.1:0";
  options.sample_interval = absl::Hours(1);  // the live page's points are taken by this test
  options.process_metrics = false;
  vitals::Agent agent(options);
  REQUIRE(agent.Start().ok());
  vitals::exporters::LiveHistory& history =
      vitals::internal::AgentAccess::Impl(agent).live_history();

  httplib::Server server;
  server.set_tcp_nodelay(true);
  vitals::HttplibInstrumentation routes(agent, server);
  routes.Get("/spin/50us", [](const httplib::Request&, httplib::Response& res) {
    Spin(50us);
    res.set_content("ok", "text/plain");
  });
  routes.Get("/spin/500us", [](const httplib::Request&, httplib::Response& res) {
    Spin(500us);
    res.set_content("ok", "text/plain");
  });
  routes.Get("/sleep/5ms", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(5ms);
    res.set_content("ok", "text/plain");
  });
  routes.Get("/sleep/200ms", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(200ms);
    res.set_content("ok", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serve([&] { server.listen_after_bind(); });
  struct Stopper {  // a failed REQUIRE leaves through here too
    httplib::Server& server;
    std::thread& thread;
    ~Stopper() {
      server.stop();
      thread.join();
    }
  } stopper{server, serve};
  REQUIRE(vitals_test::WaitUntil([&] { return server.is_running(); }));

  const std::vector<Route> route_list = {{"/spin/50us", 1000, 1},
                                         {"/spin/500us", 500, 1},
                                         {"/sleep/5ms", 200, 1},
                                         {"/sleep/200ms", 100, 4}};
  // One request each first: the series exist before Prometheus' first scrape, so rate() sees
  // every measured request (a series' first sample is where rate() starts).
  {
    httplib::Client client("127.0.0.1", port);
    for (const Route& r : route_list) REQUIRE(client.Get(r.path.c_str()));
  }

  vitals_test::TempDir dir;
  const int prom_port = vitals_test::FreePort();
  const std::string rules = std::string(VITALS_SOURCE_DIR) + "/dashboards/rules/vitals.rules.yml";
  auto prometheus = vitals_test::StartPrometheus(
      dir.path(),
      absl::StrCat("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   "rule_files:\n  - ",
                   rules,
                   "\n"
                   "scrape_configs:\n  - job_name: latency\n    static_configs:\n"
                   "      - targets: ['127.0.0.1:",
                   agent.port(), "']\n"),
      prom_port);
  auto scraped_count = [&](const std::string& path) {
    return Scalar(prom_port,
                  "sum(http_server_request_duration_seconds_count{http_route=\"" + path + "\"})");
  };
  for (const Route& r : route_list) {
    INFO(r.path);
    REQUIRE(vitals_test::WaitUntil([&] { return scraped_count(r.path) == 1; }, 60s));
  }

  // The load, one route at a time, each request timed by the client; a live-page point after
  // each route, so that point's interval holds exactly that route's requests.
  history.Sample(absl::Now());
  std::map<std::string, std::vector<double>> measured;
  for (const Route& r : route_list) {
    std::vector<std::vector<double>> per_thread(r.threads);
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < r.threads; ++t) {
      threads.emplace_back([&, t] {
        httplib::Client client("127.0.0.1", port);
        client.set_tcp_nodelay(true);
        client.set_keep_alive(true);
        for (int i = t; i < r.requests; i += r.threads) {
          const auto start = Clock::now();
          auto res = client.Get(r.path.c_str());
          const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
          if (!res || res->status != 200) ++failed;
          per_thread[t].push_back(seconds);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    REQUIRE(failed == 0);
    // The adapter records a request after its answer is written, so the client can have the
    // last answer before the server recorded it: count them in before the point is taken, or
    // that request lands in the next route's point.
    const std::string count_series = absl::StrCat(
        "http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"",
        r.path, "\",http_response_status_code=\"200\"}");
    REQUIRE(vitals_test::WaitUntil(
        [&] {
          return vitals_test::SampleValue(agent.RenderText(), count_series) == r.requests + 1;
        },
        60s));
    history.Sample(absl::Now());
    for (const auto& v : per_thread) {
      measured[r.path].insert(measured[r.path].end(), v.begin(), v.end());
    }
  }
  const std::string page = Get(agent.port(), "/vitals.json");
  REQUIRE(!page.empty());
  INFO(page.substr(page.find("\"history\"")));

  // Prometheus has every request once its counts are complete; then the rules are evaluated at
  // least once more (every second) over them.
  for (const Route& r : route_list) {
    INFO(r.path);
    REQUIRE(vitals_test::WaitUntil([&] { return scraped_count(r.path) == r.requests + 1; }, 60s));
  }
  const double complete = Scalar(prom_port, "vector(time())");
  REQUIRE(complete > 0);
  REQUIRE(vitals_test::WaitUntil(
      [&] {
        return Scalar(prom_port,
                      "min(timestamp(job_route:http_server_request_duration_seconds:"
                      "p99_5m))") > complete + 1;
      },
      60s));

  const std::vector<double> bounds = vitals::DefaultRequestDurationBuckets();
  CHECK(JsonNumber(page, "quantile_floor_seconds") == bounds.front());
  CHECK(JsonNumber(page, "quantile_ceiling_seconds") == bounds.back());
  for (size_t k = 0; k < route_list.size(); ++k) {
    const Route& r = route_list[k];
    for (const auto& [q, name] : {std::pair<double, const char*>{0.50, "p50"}, {0.99, "p99"}}) {
      const double truth = Quantile(measured[r.path], q);
      const double rule = Scalar(prom_port, absl::StrCat("job_route:http_server_request_duration_"
                                                         "seconds:",
                                                         name, "_5m{http_route=\"", r.path, "\"}"));
      // The point taken right after this route's load: the last points are this test's,
      // one per route in order, and only this route's has requests of it.
      const std::vector<double> values = HistoryValues(page, "route:GET " + r.path + ":" + name);
      REQUIRE(values.size() >= route_list.size());
      const size_t first = values.size() - route_list.size();
      const double shown = values[first + k];
      int points = 0;
      for (size_t i = first; i < values.size(); ++i) points += !std::isnan(values[i]);
      INFO(r.path << " " << name << ": the client measured " << truth * 1e6 << " us, the rule says "
                  << rule * 1e6 << " us, the page " << shown * 1e6 << " us");
      WARN(r.path << " " << name << ": client " << truth * 1e6 << " us, rule " << rule * 1e6
                  << " us, page " << shown * 1e6 << " us");
      CHECK(points == 1);
      const int want = BucketOf(bounds, truth);
      CHECK(std::abs(BucketOf(bounds, rule) - want) <= 1);
      CHECK(std::abs(BucketOf(bounds, shown) - want) <= 1);
      // Nothing here is a sub-bucket artefact: no figure below what the route really takes.
      CHECK(shown >= bounds.front());
    }
  }
}

}  // namespace
