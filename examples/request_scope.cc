// The README's example for services on any other framework: a RequestScope around the handler
// times the request under its route template, and one that records body sizes. Also the
// README's pull example. Built with the
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
  bool recorded = agent.RenderText().find("http_route=\"/users/:id\"") != std::string::npos;

  const std::string upload(1500, 'x');
  // [readme:body_sizes]
  vitals::Options options;
  options.body_sizes = true;  // or VITALS_BODY_SIZES=true
  vitals::Agent sized(options);
  {
    vitals::RequestScope scope(sized, "POST", "/uploads");
    scope.set_request_body_size(static_cast<int64_t>(upload.size()));
    const std::string reply = "stored";  // ... the real work ...
    scope.set_response_body_size(static_cast<int64_t>(reply.size()));
    scope.set_status(201);
  }
  // [/readme:body_sizes]
  recorded = recorded && sized.RenderText().find(
                             "http_server_request_body_size_bytes_sum{http_request_"
                             "method=\"POST\",http_route=\"/uploads\",http_response_"
                             "status_code=\"201\"} 1500") != std::string::npos;
  std::printf("request_scope: %s\n", recorded ? "recorded" : "NOT recorded");
  return recorded ? 0 : 1;
}
