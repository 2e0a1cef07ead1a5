// Uses the installed headers and library: starts an agent on a free port, records a request,
// uses an LruCache, and checks the exposition has them and the process figures. Exit code 0
// on success.
#include <cstdio>
#include <string>

#include "vitals/agent.h"
#include "vitals/lru_cache.h"
#include "vitals/version.h"

int main() {
  vitals::Options options;
  options.listen = "127.0.0.1:0";
  vitals::Agent agent(options);
  if (absl::Status s = agent.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  {
    vitals::RequestScope scope(agent, "GET", "/hello/:name");
    scope.set_status(200);
  }
  vitals::LruCache<std::string, int> cache(agent, "consumer", {});
  if (!cache.GetOrLoad("k", [] { return absl::StatusOr<int>(1); }).ok()) return 1;
  const std::string body = agent.RenderText();
  if (body.find("http_route=\"/hello/:name\"") == std::string::npos || agent.port() <= 0 ||
      body.find("cache_puts_total{cache=\"consumer\"} 1") == std::string::npos ||
      body.find("\nprocess_resident_memory_bytes ") == std::string::npos) {
    std::fprintf(stderr, "unexpected exposition:\n%s\n", body.c_str());
    return 1;
  }
  std::printf("consumer ok, port %d, version %s\n", agent.port(), VITALS_VERSION);
  return 0;
}
