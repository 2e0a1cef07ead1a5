// The README's first example: a cpp-httplib service with the agent linked in. Every request is
// timed by route template, one counter of the service's own is kept, and everything is served
// on http://127.0.0.1:9464/metrics. Built with the project; run build/examples/quickstart and
// try `curl localhost:8080/users/7` and `curl localhost:9464/metrics`.
//
// The region between the readme markers is the README's snippet, checked word for word by
// tests/scripts/readme_snippets_test.py.

// [readme:service]
#include <httplib.h>

#include <iostream>

#include "vitals/agent.h"
#include "vitals/httplib.h"

int main() {
  vitals::Agent agent;  // options from the VITALS_* environment variables
  if (absl::Status s = agent.Start(); !s.ok()) std::cerr << s << "\n";  // never throws

  // A metric of the service's own: resolve the handle once, then recording takes no lock.
  auto orders = agent.AddCounter("orders_placed_total", "Orders placed.", {"channel"});
  vitals::Counter web_orders = *orders->WithLabels({"web"});

  httplib::Server server;
  vitals::HttplibInstrumentation routes(agent, server);  // times each request by its route
  routes.Get("/users/:id", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("user " + req.matches[1].str(), "text/plain");
  });
  routes.Post("/orders", [&](const httplib::Request&, httplib::Response& res) {
    web_orders.Increment();
    res.status = 201;
  });
  server.listen("127.0.0.1", 8080);
}
// [/readme:service]
