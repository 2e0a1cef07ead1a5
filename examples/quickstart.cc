// The README's first example: a cpp-httplib service with the agent linked in. Every request is
// timed by route template, one counter of the service's own is kept, and everything is served
// on http://127.0.0.1:9464/metrics. Built with the project; run build/examples/quickstart and
// try `curl localhost:8080/users/7` and `curl localhost:9464/metrics`; Ctrl-C stops it.
// tests/examples/run_example.py runs it as printed: requests, a scrape, then SIGTERM.
//
// The region between the readme markers is the README's snippet, checked word for word by
// tests/scripts/readme_snippets_test.py.

// [readme:service]
#include <httplib.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "vitals/agent.h"
#include "vitals/httplib.h"

int main() {
  // SIGTERM and Ctrl-C end the service cleanly (the agent's shutdown runs): block them before
  // any thread starts, so that only the sigwait below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  vitals::Agent agent;  // options from the VITALS_* environment variables
  if (absl::Status s = agent.Start(); !s.ok()) std::cerr << s << "\n";  // never throws

  // A metric of the service's own: resolve the handle once, then recording takes no lock.
  auto orders = agent.AddCounter("orders_placed_total", "Orders placed.", {"channel"});
  vitals::Counter web_orders = *orders->WithLabels({"web"});

  httplib::Server server;
  server.set_tcp_nodelay(true);  // else keep-alive clients wait ~40 ms per request (Nagle)
  vitals::HttplibInstrumentation routes(agent, server);  // times each request by its route
  routes.Get("/users/:id", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("user " + req.matches[1].str(), "text/plain");
  });
  routes.Post("/orders", [&](const httplib::Request&, httplib::Response& res) {
    web_orders.Increment();
    res.status = 201;
  });
  if (!server.bind_to_port("127.0.0.1", 8080)) return 1;
  std::thread serve([&] { server.listen_after_bind(); });
  int signal;
  sigwait(&stop, &signal);
  server.stop();
  serve.join();
}
// [/readme:service]
