// /vitals.json: served with the metrics access rules, valid JSON (checked by Python's parser),
// and numbers that match what the agent recorded.

#include "exporters/live_endpoint.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "agent/root/agent_access.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "tests/support/sockets.h"
#include "vitals/agent.h"
#include "vitals/circuit_breaker.h"
#include "vitals/client.h"
#include "vitals/executor.h"
#include "vitals/request.h"

namespace {

struct Fixture : vitals_test::ClockAndLog {
  vitals::Options Opts() {
    vitals::Options o = Options();
    o.process_metrics = false;
    o.http_enabled = true;
    o.listen = "127.0.0.1:0";
    o.slow_request_threshold = absl::Milliseconds(100);
    return o;
  }
};

std::string Get(int port, const std::string& path, const std::string& extra = "") {
  return vitals_test::RawExchange(
      port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "Connection: close\r\n\r\n");
}

// Runs `expression` in Python on the parsed document `d`; returns what it prints.
std::string PythonOnJson(const std::string& json, const std::string& expression) {
  // Per process: ctest runs the cases of this file in parallel processes.
  const std::string dir =
      vitals_test::BinaryDir() + "/live_endpoint_test." + std::to_string(getpid());
  std::string out;
  vitals_test::RunCommand("mkdir -p " + dir, &out);
  vitals_test::WriteFile(dir + "/doc.json", json);
  vitals_test::WriteFile(dir + "/q.py", "import json\nd = json.load(open('" + dir +
                                            "/doc.json'))\nprint(" + expression + ")\n");
  out.clear();
  if (vitals_test::RunCommand("python3 " + dir + "/q.py 2>&1", &out) != 0) return "ERROR " + out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST_CASE("/vitals.json carries slow requests, requests in flight, statements and N+1 patterns",
          "[live]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  REQUIRE(agent.Start().ok());
  agent.Record("GET", "/slow/\"quoted\"", 503, absl::Milliseconds(250));
  agent.Record("GET", "/fast", 200, absl::Milliseconds(5));
  {
    vitals::RequestScope scope(agent, "GET", "/orders/:id");
    for (int i = 0; i < 6; ++i) {
      agent.RecordDbOperation("sqlite", "SELECT * FROM items WHERE order_id = " + std::to_string(i),
                              absl::Milliseconds(2));
    }
  }
  vitals::RequestScope running(agent, "POST", "/upload");
  f.clock.AdvanceMs(1500);

  const std::string response = Get(agent.port(), "/vitals.json");
  REQUIRE(vitals_test::StatusOf(response) == 200);
  CHECK(response.find("Content-Type: application/json") != std::string::npos);
  const std::string json = vitals_test::BodyOf(response);
  CHECK(PythonOnJson(json, "d['schema']") == "vitals.json/1");
  CHECK(PythonOnJson(json, "d['in_flight']['requests']") == "1");
  CHECK(PythonOnJson(json, "d['in_flight']['oldest_seconds']") == "1.5");
  CHECK(PythonOnJson(json, "d['slow_requests_total']") == "1");
  CHECK(PythonOnJson(json,
                     "[(r['method'], r['route'], r['status'], r['seconds']) for r in "
                     "d['slow_requests']]") == "[('GET', '/slow/\"quoted\"', 503, 0.25)]");
  CHECK(PythonOnJson(json,
                     "[(s['statement'], s['table'], s['calls'], s['mean_seconds']) for s "
                     "in d['db_statements']]") ==
        "[('SELECT * FROM items WHERE order_id = ?', 'items', 6, 0.002)]");
  CHECK(PythonOnJson(json,
                     "[(p['route'], p['last_calls'], p['requests']) for p in "
                     "d['n_plus_one']]") == "[('/orders/:id', 6, 1)]");
  // Times are Unix seconds: the slow request ended 1.5 s of agent time before the document.
  CHECK(PythonOnJson(json, "round(d['time'] - d['slow_requests'][0]['time'], 3)") == "1.5");
  // History: Start() took the first point; one more, 10 s later, gives the interval's rates.
  CHECK(PythonOnJson(json, "d['history']['interval_seconds']") == "15");
  CHECK(PythonOnJson(json, "len(d['history']['times'])") == "1");
  for (int i = 0; i < 20; ++i) agent.Record("GET", "/fast", 200, absl::Milliseconds(5));
  auto& history = vitals::internal::AgentAccess::Impl(agent).live_history();
  const double first = std::stod(PythonOnJson(json, "d['history']['times'][0]"));
  history.Sample(absl::FromUnixMicros(static_cast<int64_t>(first * 1e6)) + absl::Seconds(10));
  const std::string later = vitals_test::BodyOf(Get(agent.port(), "/vitals.json"));
  // 21 requests on /fast since the first point (1 earlier in this test, 20 now) in 10 s.
  CHECK(PythonOnJson(later,
                     "[None if v is None else round(v, 3) for v in "
                     "d['history']['series']['route:GET /fast:rate']]") == "[None, 2.1]");
  CHECK(PythonOnJson(later, "d['history']['series']['route:GET /fast:error_ratio'][1] == 0") ==
        "True");
  running.Cancel();
  agent.Stop();
}

TEST_CASE("/vitals.json follows the metrics credentials", "[live]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.metrics_basic_auth = "user:secret";
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  CHECK(vitals_test::StatusOf(Get(agent.port(), "/vitals.json")) == 401);
  CHECK(vitals_test::StatusOf(
            Get(agent.port(), "/vitals.json", "Authorization: Basic dXNlcjpzZWNyZXQ=\r\n")) == 200);
  agent.Stop();
}

TEST_CASE("the JSON stays valid whatever the text in it", "[live]") {
  vitals::exporters::LiveView v;
  v.now = absl::FromUnixSeconds(1700000000);
  v.slow_requests.push_back({v.now, "GET", std::string("/a\"b\\c\n\x01\xff"), 200, 0.5});
  v.statements.push_back({"sqlite", "SELECT '\t'", "t", 1, 1.0 / 3, 0.5});
  v.statements.push_back({"sqlite", "x", "t", 0, 0, std::numeric_limits<double>::infinity()});
  const std::string json = vitals::exporters::LiveEndpoint::RenderJson(v);
  CHECK(PythonOnJson(json, "d['slow_requests'][0]['route'][:6]") == "/a\"b\\c");
  CHECK(PythonOnJson(json, "d['db_statements'][1]['max_seconds']") == "None");
  CHECK(PythonOnJson(json, "d['time']") == "1700000000");
}

TEST_CASE("/vitals.json's routes, caches, pools and memory equal what /metrics says", "[live]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.process_metrics = true;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  for (int i = 0; i < 7; ++i) agent.Record("GET", "/items/:id", 200, absl::Milliseconds(10));
  agent.Record("GET", "/items/:id", 502, absl::Milliseconds(30));
  agent.Record("POST", "/items", 201, absl::Milliseconds(20));
  const vitals::CacheMetrics cache = agent.Cache("items");
  for (int i = 0; i < 3; ++i) cache.Hit();
  cache.Miss();
  cache.AddSize(5);
  cache.SetMaxSize(100);
  cache.Eviction(false);
  const vitals::DbPool pool = agent.Pool("main");
  pool.SetMax(8);
  pool.SetUsed(3);
  pool.SetIdle(5);
  pool.AddPending(2);
  pool.RecordWait(absl::Milliseconds(4));
  pool.RecordWait(absl::Milliseconds(6));
  pool.Timeout();

  const std::string json = vitals_test::BodyOf(Get(agent.port(), "/vitals.json"));
  CHECK(PythonOnJson(json,
                     "[(r['method'], r['route'], r['requests'], r['errors'], "
                     "round(r['mean_seconds'], 6)) for r in d['routes']]") ==
        "[('GET', '/items/:id', 8, 1, 0.0125), ('POST', '/items', 1, 0, 0.02)]");
  CHECK(PythonOnJson(json,
                     "[(c['name'], c['hits'], c['misses'], c['hit_ratio'], c['size'], "
                     "c['max_size'], c['evictions'], c['evictions_unused']) for c in "
                     "d['caches']]") == "[('items', 3, 1, 0.75, 5, 100, 1, 1)]");
  CHECK(PythonOnJson(json,
                     "[(p['name'], p['used'], p['idle'], p['max'], p['pending'], p['timeouts'], "
                     "p['waits'], round(p['mean_wait_seconds'], 6)) for p in d['pools']]") ==
        "[('main', 3, 5, 8, 2, 1, 2, 0.005)]");
  CHECK(PythonOnJson(json, "d['memory']['rss_bytes'] > 0 and d['memory']['threads'] > 0") ==
        "True");
  // The allocator /metrics names (none under a sanitizer, whose malloc neither reports).
  const std::string text = agent.RenderText();
  const std::string key = "vitals_heap_reserved_bytes{allocator=\"";
  const size_t at = text.find(key);
  const std::string allocator =
      at == std::string::npos
          ? ""
          : text.substr(at + key.size(), text.find('"', at + key.size()) - at - key.size());
  CHECK(PythonOnJson(json, "d['memory']['allocator']") == allocator);
  CHECK(PythonOnJson(json, "(d['service'] != '', d['version'] != '')") == "(True, True)");
  // Profiling is off in this agent: the page is told so, and not allowed.
  CHECK(PythonOnJson(json, "d['profiling']") ==
        "{'enabled': False, 'allowed': False, 'auto': False}");
  agent.Stop();
}

TEST_CASE("/vitals.json's time split, peers, breakers and thread pools equal what was recorded",
          "[live]") {
  Fixture f;
  vitals::Agent agent(f.Opts());
  REQUIRE(agent.Start().ok());
  const vitals::UpstreamHandle peer = agent.Upstream("GET", "stock", 8080);
  {
    vitals::RequestScope request(agent, "GET", "/cart");
    {
      vitals::ClientCallScope call(peer);
      f.clock.AdvanceMs(30);
      call.set_status(200);
    }
    f.clock.AdvanceMs(10);
  }
  peer.Record(503, absl::Milliseconds(5));
  peer.RecordError("timeout", absl::Milliseconds(5));
  peer.Record(200, absl::Milliseconds(5));
  vitals::CircuitBreakerOptions options;
  options.minimum_number_of_calls = 2;
  options.sliding_window_size = 2;
  vitals::CircuitBreaker breaker("stock", options, &agent);
  for (int i = 0; i < 2; ++i) {
    auto permit = breaker.TryAcquire();
    REQUIRE(permit);
    breaker.OnFailure(permit, absl::Milliseconds(1));
  }
  CHECK_FALSE(breaker.TryAcquire());  // open: refused
  const vitals::ExecutorMonitor pool = *agent.Executor("jobs", vitals::ExecutorOptions{});
  const vitals::TaskTicket ticket = pool.Submitted();
  f.clock.AdvanceMs(4);
  { vitals::TaskScope task(pool, ticket, "job"); }

  const std::string json = vitals_test::BodyOf(Get(agent.port(), "/vitals.json"));
  CHECK(PythonOnJson(json,
                     "[(r['route'], {k: round(v, 6) for k, v in r['time_seconds'].items()}, "
                     "r['sequential_requests']) for r in d['routes']]") ==
        "[('/cart', {'db': 0, 'outbound': 0.03, 'self': 0.01}, 0)]");
  CHECK(PythonOnJson(json, "[(u['peer'], u['calls'], u['errors']) for u in d['upstreams']]") ==
        "[('stock:8080', 4, 2)]");
  CHECK(PythonOnJson(json,
                     "[(b['name'], b['state'], b['not_permitted']) for b in "
                     "d['breakers']]") == "[('stock', 'open', 1)]");
  // The failure rate as the gauge says it.
  const std::string text = agent.RenderText();
  const std::string gauge = "resilience4j_circuitbreaker_failure_rate{name=\"stock\"} ";
  const size_t at = text.find(gauge);
  REQUIRE(at != std::string::npos);
  CHECK(PythonOnJson(json, "d['breakers'][0]['failure_rate_percent']") ==
        text.substr(at + gauge.size(), text.find('\n', at) - at - gauge.size()));
  CHECK(PythonOnJson(json,
                     "[(e['name'], e['active'], e['queued'], e['completed'], e['waits'], "
                     "round(e['mean_wait_seconds'], 6)) for e in d['executors']]") ==
        "[('jobs', 0, 0, 1, 1, 0.004)]");
  agent.Stop();
}

TEST_CASE("/vitals.json counts the threads and names the busiest by CPU since the last look",
          "[live]") {
  Fixture f;
  vitals_test::TempDir proc;
  const long hz = sysconf(_SC_CLK_TCK);
  auto thread = [&](int tid, const std::string& name, long ticks) {
    const std::string dir = proc.path() + "/self/task/" + std::to_string(tid);
    std::filesystem::create_directories(dir);
    vitals_test::WriteFile(dir + "/stat", std::to_string(tid) + " (" + name +
                                              ") S 1 1 1 0 -1 0 0 0 0 0 " + std::to_string(ticks) +
                                              " 0 0 0 20 0 1 0 100 1000 10 0\n");
  };
  thread(1, "main", 10 * hz);
  thread(2, "worker \"7\"", 0);  // a name the JSON must escape
  vitals::Options o = f.Opts();
  o.proc_root = proc.path();
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  std::string json = vitals_test::BodyOf(Get(agent.port(), "/vitals.json"));
  CHECK(PythonOnJson(json,
                     "(d['threads']['count'], d['threads']['window_seconds'], "
                     "[(t['tid'], t['name'], t['cpu_seconds']) for t in "
                     "d['threads']['busiest']])") ==
        "(2, 0, [(1, 'main', 10), (2, 'worker \"7\"', 0)])");
  thread(2, "worker \"7\"", hz / 2);  // half a CPU-second in the next second
  f.clock.AdvanceMs(1000);
  json = vitals_test::BodyOf(Get(agent.port(), "/vitals.json"));
  CHECK(PythonOnJson(json,
                     "(d['threads']['window_seconds'], d['threads']['busiest'][0]['tid'], "
                     "round(d['threads']['busiest'][0]['cpu_percent']))") == "(1, 2, 50)");
  agent.Stop();
}

TEST_CASE("/vitals.json says whether this client may profile, as the profiling endpoints decide",
          "[live]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.profiling = true;
  SECTION("loopback clients may, without credentials") {
    vitals::Agent agent(o);
    REQUIRE(agent.Start().ok());
    CHECK(PythonOnJson(vitals_test::BodyOf(Get(agent.port(), "/vitals.json")),
                       "(d['profiling']['enabled'], d['profiling']['allowed'])") == "(True, True)");
    agent.Stop();
  }
  SECTION("with profiling credentials, only a client that sends them") {
    o.profiling_basic_auth = "prof:pw";
    vitals::Agent agent(o);
    REQUIRE(agent.Start().ok());
    CHECK(PythonOnJson(vitals_test::BodyOf(Get(agent.port(), "/vitals.json")),
                       "(d['profiling']['enabled'], d['profiling']['allowed'])") ==
          "(True, False)");
    CHECK(PythonOnJson(vitals_test::BodyOf(Get(agent.port(), "/vitals.json",
                                               "Authorization: Basic cHJvZjpwdw==\r\n")),
                       "d['profiling']['allowed']") == "True");
    agent.Stop();
  }
}

TEST_CASE("/ is the live page: self-contained, under 150 KB, with the agent's endpoints",
          "[live]") {
  const std::string page = vitals::exporters::LiveEndpoint::RenderPage(
      {{"/metrics", "every metric"}, {"/x?a=<b>", "a \"quoted\" <tag>"}});
  CHECK(page.size() <= 150 * 1024);
  CHECK(page.rfind("<!doctype html>", 0) == 0);
  CHECK(page.find("</html>") != std::string::npos);
  // The CSS and JavaScript were put in place of their markers at build time.
  CHECK(page.find("/*vitals:css*/") == std::string::npos);
  CHECK(page.find("/*vitals:js*/") == std::string::npos);
  CHECK(page.find("window.vitalsPage") != std::string::npos);
  // Nothing is loaded from elsewhere: no absolute URL in a src or href, no @import.
  for (const char* foreign : {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import",
                              "url(http", "fetch('http"}) {
    INFO(foreign);
    CHECK(page.find(foreign) == std::string::npos);
  }
  // The links, escaped, where the marker was.
  CHECK(page.find("<!--vitals:links-->") == std::string::npos);
  CHECK(page.find("<a href=\"/metrics\">/metrics</a> every metric") != std::string::npos);
  CHECK(page.find("/x?a=&lt;b&gt;") != std::string::npos);
  CHECK(page.find("a &quot;quoted&quot; &lt;tag&gt;") != std::string::npos);
}

TEST_CASE("/ serves the page with the metrics credentials and a policy that forbids other origins",
          "[live]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.metrics_basic_auth = "user:secret";
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  CHECK(vitals_test::StatusOf(Get(agent.port(), "/")) == 401);
  const std::string response = Get(agent.port(), "/", "Authorization: Basic dXNlcjpzZWNyZXQ=\r\n");
  REQUIRE(vitals_test::StatusOf(response) == 200);
  CHECK(response.find("Content-Type: text/html; charset=utf-8") != std::string::npos);
  CHECK(response.find("Content-Security-Policy: default-src 'self'") != std::string::npos);
  const std::string body = vitals_test::BodyOf(response);
  CHECK(body.find("<a href=\"/vitals.json\">") != std::string::npos);
  // Profiling is off: its endpoints are not offered.
  CHECK(body.find("<a href=\"/debug/") == std::string::npos);
  agent.Stop();
}

}  // namespace

TEST_CASE(
    "the series budget: per family, live series, limit and overflowed lookups, in the "
    "metrics and in /vitals.json, most series first",
    "[live]") {
  Fixture f;
  vitals::Options o = f.Opts();
  o.series_limit = 3;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  auto jobs = agent.AddCounter("jobs_total", "Jobs.", {"kind"});
  REQUIRE(jobs.ok());
  for (const char* kind : {"a", "b", "c", "d", "e"}) jobs->WithLabels({kind})->Increment();
  auto one = agent.AddGauge("queue_depth", "Depth.", {"queue"});
  REQUIRE(one.ok());
  one->WithLabels({"only"})->Set(1);
  auto peers = agent.AddCounter("peer_calls_total", "Calls.", {"peer"});
  REQUIRE(peers->ExpireIdleSeries().ok());
  peers->WithLabels({"10.0.0.1"})->Increment();

  const std::string text = agent.RenderText();
  CHECK(text.find("vitals_series{metric=\"jobs_total\"} 3\n") != std::string::npos);
  CHECK(text.find("vitals_series_limit{metric=\"jobs_total\"} 3\n") != std::string::npos);
  CHECK(text.find("vitals_series_overflow_total{metric=\"jobs_total\"} 2\n") != std::string::npos);
  CHECK(text.find("vitals_series{metric=\"queue_depth\"} 1\n") != std::string::npos);
  // Every family's budget series exist from its creation, hidden until it holds a series:
  // the budget families count only the label sets the exposition shows.
  for (const char* budget : {"vitals_series", "vitals_series_limit"}) {
    INFO(budget);
    CHECK(vitals_test::SampleValue(text, std::string("vitals_series{metric=\"") + budget + "\"}") ==
          vitals_test::CountLines(text, std::string(budget) + "{"));
  }

  const std::string json = vitals_test::BodyOf(Get(agent.port(), "/vitals.json"));
  CHECK(PythonOnJson(json, "[b for b in d['series_budget'] if b['metric'] == 'jobs_total']") ==
        "[{'metric': 'jobs_total', 'series': 3, 'limit': 3, 'overflowed': 2, 'expired': None}]");
  // A family that expires idle series says how many it expired (none yet); others say null.
  CHECK(PythonOnJson(json,
                     "[b['expired'] for b in d['series_budget'] if b['metric'] == "
                     "'peer_calls_total']") == "[0]");
  CHECK(PythonOnJson(json,
                     "[b['series'] for b in d['series_budget']] == sorted([b['series'] for "
                     "b in d['series_budget']], reverse=True)") == "True");
  CHECK(PythonOnJson(json, "d['series_total'] == sum(b['series'] for b in d['series_budget'])") ==
        "True");
  CHECK(PythonOnJson(json, "len(d['series_budget']) > 5") == "True");
}
