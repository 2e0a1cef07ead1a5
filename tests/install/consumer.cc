// A program built against vitals the way a user builds (an installed CMake package, pkg-config,
// add_subdirectory, FetchContent, the shared library, the .deb): starts an agent on a free port,
// records a request, uses an LruCache, scrapes its own /metrics over HTTP and checks the body
// has them and the process figures. Built without prometheus-cpp: the bridge must work (or
// refuse, when vitals was built without it: VITALS_CONSUMER_NO_BRIDGE) with its headers absent.
// Exit code 0 on success.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "vitals/agent.h"
#include "vitals/lru_cache.h"
#include "vitals/version.h"

namespace {

// GET /metrics from 127.0.0.1:port, the whole answer (the agent closes after it with
// Connection: close), or "" on failure. Bounded by a 10 s receive timeout.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[65536];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) answer.append(buf, n);
    }
  }
  close(fd);
  return answer;
}

}  // namespace

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
  const std::string body = Scrape(agent.port());
  if (body.rfind("HTTP/1.1 200", 0) != 0 ||
      body.find("http_route=\"/hello/:name\"") == std::string::npos ||
      body.find("cache_puts_total{cache=\"consumer\"} 1") == std::string::npos ||
      body.find("\nprocess_resident_memory_bytes ") == std::string::npos) {
    std::fprintf(stderr, "unexpected scrape of port %d:\n%s\n", agent.port(), body.c_str());
    return 1;
  }
  // The prometheus-cpp bridge, without prometheus-cpp's headers: an empty weak_ptr is refused
  // as destroyed when the bridge is built in, and the bridge's absence is named when it is not.
  const absl::Status bridge = agent.RegisterCollectable({});
#ifdef VITALS_CONSUMER_NO_BRIDGE
  const absl::StatusCode expected = absl::StatusCode::kFailedPrecondition;
#else
  const absl::StatusCode expected = absl::StatusCode::kInvalidArgument;
#endif
  if (bridge.code() != expected) {
    std::fprintf(stderr, "RegisterCollectable: %s\n", bridge.ToString().c_str());
    return 1;
  }
  std::printf("consumer ok: scraped port %d, version %s, bridge: %s\n", agent.port(),
              VITALS_VERSION, bridge.ToString().c_str());
  return 0;
}
