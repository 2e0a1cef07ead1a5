#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "exporters/gzip.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "vitals/agent.h"

namespace {

vitals::Options Loopback() {
  vitals::Options o = vitals_test::QuietOptions();
  o.listen = "127.0.0.1:0";
  return o;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST_CASE("port 0 binds a free port and /metrics answers in the text format", "[http]") {
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  REQUIRE(agent.port() > 0);
  agent.Record("GET", "/x", 200, absl::Milliseconds(3));
  httplib::Client client("127.0.0.1", agent.port());
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(res->body.find("route=\"/x\"") != std::string::npos);
  auto index = client.Get("/");
  REQUIRE(index);
  CHECK(index->body.find("/metrics") != std::string::npos);
  auto missing = client.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto head = client.Head("/metrics");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  // A scrape is timed into the self metric.
  auto again = client.Get("/metrics");
  REQUIRE(again);
  CHECK(vitals_test::SampleValue(again->body, "vitals_scrape_duration_seconds_count") >= 1);
}

TEST_CASE("gzip when the client asks for it", "[http]") {
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  httplib::Client client("127.0.0.1", agent.port());
  client.set_decompress(false);
  auto res = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
  REQUIRE(res);
  CHECK(res->get_header_value("Content-Encoding") == "gzip");
  REQUIRE(res->body.size() > 2);
  CHECK(static_cast<unsigned char>(res->body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(res->body[1]) == 0x8b);
  client.set_decompress(true);
  auto plain = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
  REQUIRE(plain);
  CHECK(plain->body.find("# TYPE vitals_build_info gauge") != std::string::npos);
  CHECK(vitals::exporters::AcceptsGzip("deflate, gzip;q=0.5"));
  CHECK_FALSE(vitals::exporters::AcceptsGzip("gzip;q=0"));
  CHECK_FALSE(vitals::exporters::AcceptsGzip("identity"));
}

TEST_CASE("a port in use is a clear error, and the host keeps running", "[http]") {
  vitals::Agent first(Loopback());
  REQUIRE(first.Start().ok());
  vitals::Options o = Loopback();
  o.listen = "127.0.0.1:" + std::to_string(first.port());
  vitals::Agent second(o);
  absl::Status s = second.Start();
  REQUIRE(s.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(s.message()).find(o.listen) != std::string::npos);
  CHECK(std::string(s.message()).find("in use") != std::string::npos);
  second.Record("GET", "/still-works", 200, absl::Milliseconds(1));
  CHECK(second.RenderText().find("/still-works") != std::string::npos);
}

TEST_CASE("Start twice, Stop twice, Start after Stop", "[http]") {
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  CHECK(agent.Start().code() == absl::StatusCode::kFailedPrecondition);
  agent.Stop();
  agent.Stop();
  CHECK(agent.port() == 0);
  REQUIRE(agent.Start().ok());
  CHECK(agent.port() > 0);
}

TEST_CASE("idle and slow clients do not block scrapes", "[http]") {
  vitals::Agent agent(Loopback());  // default: 8 workers
  REQUIRE(agent.Start().ok());
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Connect(agent.port()));  // never send a byte
  int partial = Connect(agent.port());
  const char* half = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // headers never finished
  REQUIRE(write(partial, half, strlen(half)) > 0);
  const auto start = std::chrono::steady_clock::now();
  httplib::Client client("127.0.0.1", agent.port());
  auto res = client.Get("/metrics");
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(res);
  CHECK(res->status == 200);
  // civetweb's defaults would hold this scrape for ~30 s; a healthy server answers in ms.
  CHECK(took < std::chrono::seconds(3));
  for (int fd : idle) close(fd);
  close(partial);
}

TEST_CASE("more idle clients than workers delay a scrape by at most the request timeout",
          "[http]") {
  vitals::Options o = Loopback();
  o.http_threads = 2;
  o.http_request_timeout = absl::Milliseconds(500);
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  std::vector<int> idle;
  for (int i = 0; i < 6; ++i) idle.push_back(Connect(agent.port()));
  const auto start = std::chrono::steady_clock::now();
  httplib::Client client("127.0.0.1", agent.port());
  client.set_read_timeout(20);
  auto res = client.Get("/metrics");
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(res);
  CHECK(res->status == 200);
  // 6 idle connections over 2 workers: three rounds of 0.5 s at worst, never civetweb's 30 s.
  CHECK(took < std::chrono::seconds(10));
  for (int fd : idle) close(fd);
}

TEST_CASE("oversized requests are refused", "[http]") {
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  httplib::Client client("127.0.0.1", agent.port());
  auto res = client.Get("/metrics", {{"X-Big", std::string(64 * 1024, 'a')}});
  CHECK((!res || res->status >= 400));
  auto ok = client.Get("/metrics");  // and the server still serves
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

bool IsCloseOnExec(int port) {
  DIR* dir = opendir("/proc/self/fd");
  bool found = false, cloexec = false;
  while (dirent* e = readdir(dir)) {
    int fd = atoi(e->d_name);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    if (addr.sin_family != AF_INET || ntohs(addr.sin_port) != port) continue;
    int listening = 0;
    socklen_t l = sizeof listening;
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l);
    if (!listening) continue;
    found = true;
    cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
  }
  closedir(dir);
  return found && cloexec;
}

TEST_CASE("the listening socket is close-on-exec", "[http]") {
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  CHECK(IsCloseOnExec(agent.port()));
}

TEST_CASE("the host keeps its SIGPIPE disposition, and clients that vanish do not kill it",
          "[http]") {
  // In a child, so the test binary's own signal setup does not matter.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    vitals::Agent agent(Loopback());
    auto family = agent.AddCounter("bulk_total", "Bulk.", {"i"});
    for (int i = 0; i < 20000; ++i) family->WithLabels({std::to_string(i)})->Increment();
    if (!agent.Start().ok()) _exit(10);
    struct sigaction now {};
    sigaction(SIGPIPE, nullptr, &now);
    if (now.sa_handler != SIG_DFL) _exit(11);  // civetweb's SIG_IGN leaked to the host
    for (int i = 0; i < 20; ++i) {             // ask for a ~1 MB body and hang up at once
      int fd = Connect(agent.port());
      const char* req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
      if (write(fd, req, strlen(req)) < 0) _exit(12);
      struct linger lg {
        1, 0
      };
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);  // RST on close
      close(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    httplib::Client client("127.0.0.1", agent.port());
    auto res = client.Get("/metrics");
    _exit(res && res->status == 200 ? 0 : 13);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  INFO("child status " << status);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
