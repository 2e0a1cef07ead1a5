// The README's example for services on any other framework: a RequestScope around the handler
// times the request under its route template. Also the README's pull example. Built with the
// project and run by its tests (it exits 0 when the request was recorded).

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

// [readme:scope]
#include "vitals/agent.h"

class UserService {
 public:
  explicit UserService(vitals::Agent& agent)
      : get_user_(agent.Route("GET", "/users/:id")) {}  // resolved once

  int GetUser(int64_t id) {
    vitals::RequestScope scope(get_user_);  // times the request until the scope ends
    const int status = id > 0 ? 200 : 404;  // ... the real work ...
    scope.set_status(status);
    return status;
  }

 private:
  vitals::RouteHandle get_user_;
};
// [/readme:scope]

int main() {
  // [readme:pull]
  vitals::Agent agent;  // serves VITALS_LISTEN, 0.0.0.0:9464 by default
  if (absl::Status s = agent.Start(); !s.ok()) std::cerr << s << "\n";
  // Prometheus scrapes http://host:9464/metrics
  // [/readme:pull]
  UserService users(agent);
  users.GetUser(7);
  const bool recorded = agent.RenderText().find("http_route=\"/users/:id\"") != std::string::npos;
  std::printf("request_scope: %s\n", recorded ? "recorded" : "NOT recorded");
  return recorded ? 0 : 1;
}
