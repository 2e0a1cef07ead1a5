// Calls to a dependency, timed per instance and guarded by a circuit breaker: the program the
// README's "Dependencies" snippets are cut from. It serves a stand-in "inventory" upstream on
// loopback whose answers fail after the first few, calls it until the breaker opens, and prints
// the metrics that tell the story. The breaker is a function-local static bound to main's agent,
// so it outlives the agent (it then records nothing); tests/examples/run_example.py runs this
// under AddressSanitizer too.
//
//   examples/dependencies

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "vitals/agent.h"
#include "vitals/httplib.h"

namespace {

int DoTheCall() { return 200; }  // stands in for any other client's call

}  // namespace

int main() {
  vitals::Options agent_options;
  agent_options.listen = "127.0.0.1:0";
  vitals::Agent agent(agent_options);

  // The stand-in upstream: healthy for 20 calls, then failing.
  httplib::Server upstream;
  std::atomic<int> served{0};
  upstream.Get("/stock/42", [&served](const httplib::Request&, httplib::Response& res) {
    res.status = served.fetch_add(1) < 20 ? 200 : 503;
  });
  const int port = upstream.bind_to_any_port("127.0.0.1");
  std::thread serve([&] { upstream.listen_after_bind(); });
  while (!upstream.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string address = "127.0.0.1";

  // [readme:outbound]
  vitals::HttplibClient inventory_a(agent, address, port);  // cpp-httplib: every call timed
  auto res = inventory_a.Get("/stock/42");                  // status, or timeout/connection_error

  vitals::UpstreamHandle users = agent.Upstream("GET", "10.0.0.9", 9000);  // any other client
  {
    vitals::ClientCallScope call(users);
    call.set_status(DoTheCall());  // or call.set_error(vitals::kErrorTimeout)
  }
  // [/readme:outbound]
  (void)res;

  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    // [readme:breaker]
    vitals::CircuitBreakerOptions options;
    options.failure_rate_threshold = 50;  // percent of the window
    options.wait_duration_in_open_state = absl::Seconds(30);
    static vitals::CircuitBreaker breaker("inventory", options, &agent);  // made once
    absl::StatusOr<httplib::Result> res = breaker.Execute(
        [&] { return inventory_a.Get("/stock/42"); },  // timed with the agent's clock
        [](const httplib::Result& r) { return r && r->status < 500; });  // a success?
    if (!res.ok()) {
      // Refused without calling: the breaker is open (res.status() says so). Fail fast.
    }
    // [/readme:breaker]
    refused += !res.ok();
  }
  upstream.stop();
  serve.join();

  std::printf("calls refused by the open breaker: %d\n", refused);
  const std::string body = agent.RenderText();
  for (size_t at = 0, end; at < body.size(); at = end + 1) {
    end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(at, end - at);
    if (line.rfind("resilience4j_circuitbreaker_state", 0) == 0 ||
        line.rfind("http_client_request_duration_seconds_count", 0) == 0) {
      std::printf("%s\n", line.c_str());
    }
  }
  return refused > 0 ? 0 : 1;
}
