// What the cpp-httplib adapter (vitals/httplib.h) adds to each request, over the bare handler,
// with 10 and 100 registered routes, in one run:
//
//   taskset -c 1 build/bench/httplib_bench --benchmark_filter='Handler|Regex' \
//     --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//     --benchmark_min_time=0.3
//   build/bench/httplib_bench --benchmark_filter=Loopback --benchmark_repetitions=5 \
//     --benchmark_enable_random_interleaving=true --benchmark_min_time=0.5
//
// Each iteration runs what cpp-httplib runs around a handler once it has routed a request:
// BeforeRouting, the handler, AfterResponse (HttplibInstrumentation's public steps), against
// the bare handler alone, called through a std::function as the server calls it. The request is for
// the last route registered, the worst case for anything that matches routes in order. A second
// baseline is the adapter before issue 28, which matched every request against the registered
// templates with std::regex beside cpp-httplib's own routing: that match alone is measured
// (BM_RegexRematch). The server's own routing and I/O are the same with or without the adapter and
// are not in any of these.
//
// End to end, BM_LoopbackRoundTrip times a whole keep-alive GET to a real cpp-httplib server on
// loopback (the same 10 routes, TCP_NODELAY on both ends), with the handler registered on the
// server directly (0) and through the adapter (1): what a client sees of the adapter.

#include <benchmark/benchmark.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "vitals/agent.h"
#include "vitals/httplib.h"

namespace {

// An agent that serves nothing and samples nothing: only the adapter's requests run in it.
std::unique_ptr<vitals::Agent> QuietAgent() {
  vitals::Options o;
  o.read_environment = false;
  o.http_enabled = false;
  o.process_metrics = false;
  return std::make_unique<vitals::Agent>(o);
}

// The i-th route template; requests go to the last one registered.
std::string RouteAt(int i) { return "/r" + std::to_string(i) + "/items/:id"; }

struct Setup {
  explicit Setup(int routes) {
    agent = QuietAgent();
    instrumentation = std::make_unique<vitals::HttplibInstrumentation>(*agent, server);
    for (int i = 0; i < routes; ++i) {
      const std::string route = RouteAt(i);
      patterns.emplace_back(vitals::RouteTemplateToRegex(route));
      handler = instrumentation->Instrument("GET", route, Bare);
    }
    request.method = "GET";
    request.path = "/r" + std::to_string(routes - 1) + "/items/42";
    request.headers = {{"Host", "127.0.0.1:8080"},
                       {"Accept", "*/*"},
                       {"User-Agent", "bench/1.0"},
                       {"Connection", "keep-alive"}};
  }
  static void Bare(const httplib::Request&, httplib::Response& res) { res.status = 200; }

  std::unique_ptr<vitals::Agent> agent;
  httplib::Server server;
  std::unique_ptr<vitals::HttplibInstrumentation> instrumentation;
  httplib::Server::Handler handler;      // the last route's, instrumented
  httplib::Server::Handler bare = Bare;  // the same handler as the server holds it, plain
  std::vector<std::regex> patterns;
  httplib::Request request;
  httplib::Response response;
};

Setup* g_setup[2];

// A real server on a loopback port, 10 routes registered plain or through the adapter, and a
// keep-alive client to it.
struct Loopback {
  explicit Loopback(bool instrumented) {
    agent = QuietAgent();
    instrumentation = std::make_unique<vitals::HttplibInstrumentation>(*agent, server);
    server.set_tcp_nodelay(true);
    for (int i = 0; i < 10; ++i) {
      const std::string route = RouteAt(i);
      if (instrumented) {
        instrumentation->Get(route, Setup::Bare);
      } else {
        server.Get(vitals::RouteTemplateToRegex(route), Setup::Bare);
      }
    }
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    client = std::make_unique<httplib::Client>("127.0.0.1", port);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
  }
  ~Loopback() {
    client.reset();
    server.stop();
    thread.join();
  }

  std::unique_ptr<vitals::Agent> agent;
  httplib::Server server;
  std::unique_ptr<vitals::HttplibInstrumentation> instrumentation;
  int port = -1;
  std::thread thread;
  std::unique_ptr<httplib::Client> client;
};

Loopback* g_loopback[2];

Setup& For(const benchmark::State& state) { return *g_setup[state.range(0) == 10 ? 0 : 1]; }

}  // namespace

void BenchSetup() {
  g_setup[0] = new Setup(10);
  g_setup[1] = new Setup(100);
  g_loopback[0] = new Loopback(false);  // left running until the program exits
  g_loopback[1] = new Loopback(true);
}

namespace {

void BM_BareHandler(benchmark::State& state) {
  Setup& s = For(state);
  for (auto _ : state) {
    s.bare(s.request, s.response);  // through a std::function, as cpp-httplib calls it
    benchmark::DoNotOptimize(s.response.status);
  }
}
BENCHMARK(BM_BareHandler)->Arg(10)->Arg(100);

void BM_InstrumentedHandler(benchmark::State& state) {
  Setup& s = For(state);
  for (auto _ : state) {
    s.instrumentation->BeforeRouting();
    s.handler(s.request, s.response);
    s.instrumentation->AfterResponse(s.request, s.response);
    benchmark::DoNotOptimize(s.response.status);
  }
}
BENCHMARK(BM_InstrumentedHandler)->Arg(10)->Arg(100);

// The same request from a traced client: its `traceparent` offered as an exemplar.
void BM_InstrumentedHandlerTraced(benchmark::State& state) {
  Setup& s = For(state);
  httplib::Request traced = s.request;
  traced.headers.emplace("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  for (auto _ : state) {
    s.instrumentation->BeforeRouting();
    s.handler(traced, s.response);
    s.instrumentation->AfterResponse(traced, s.response);
    benchmark::DoNotOptimize(s.response.status);
  }
}
BENCHMARK(BM_InstrumentedHandlerTraced)->Arg(10)->Arg(100);

// What the adapter did per request before: match the path against every registered template
// in order until one matched (the last one here).
void BM_RegexRematch(benchmark::State& state) {
  Setup& s = For(state);
  for (auto _ : state) {
    size_t i = 0;
    while (i < s.patterns.size() && !std::regex_match(s.request.path, s.patterns[i])) ++i;
    benchmark::DoNotOptimize(i);
  }
}
BENCHMARK(BM_RegexRematch)->Arg(10)->Arg(100);

// One keep-alive GET to a real server on loopback: 0 without the adapter, 1 with it.
void BM_LoopbackRoundTrip(benchmark::State& state) {
  Loopback& l = *g_loopback[state.range(0)];
  int failed = 0;
  for (auto _ : state) {
    const httplib::Result res = l.client->Get("/r9/items/42");
    failed += !res || res->status != 200;
  }
  if (failed > 0) state.SkipWithError("a request failed");
}
BENCHMARK(BM_LoopbackRoundTrip)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
