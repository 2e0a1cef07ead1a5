#include "agent/http/http_server.h"

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
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/base/gzip.h"
#include "agent/base/listen_address.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "tests/support/sockets.h"
#include "vitals/agent.h"

namespace {

vitals::Options Loopback() { return vitals_test::LoopbackOptions(); }

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
  CHECK(res->body.find("http_route=\"/x\"") != std::string::npos);
  auto index = client.Get("/");
  REQUIRE(index);
  CHECK(index->body.find("/metrics") != std::string::npos);
  CHECK(index->body.find("/vitals.json") != std::string::npos);
  // Profiling is off: the page's list of endpoints does not offer what would answer 404.
  CHECK(index->body.find("<a href=\"/debug/") == std::string::npos);
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
  CHECK(vitals::internal::AcceptsGzip("deflate, gzip;q=0.5"));
  CHECK_FALSE(vitals::internal::AcceptsGzip("gzip;q=0"));
  CHECK_FALSE(vitals::internal::AcceptsGzip("identity"));
  // "*" stands for codings not listed: an explicit refusal of gzip wins over it (RFC 9110).
  CHECK(vitals::internal::AcceptsGzip("br, *"));
  CHECK_FALSE(vitals::internal::AcceptsGzip("gzip;q=0, *"));
  CHECK_FALSE(vitals::internal::AcceptsGzip("*;q=0, identity"));
  CHECK(vitals::internal::AcceptsGzip("*;q=0, GZIP;Q=0.5"));
  CHECK_FALSE(vitals::internal::AcceptsGzip("gzip;q=nan"));
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
    // A body of about 10 MB: far more than the kernel holds in flight to a client that reads
    // little, so the server is still writing when the client resets.
    auto family = agent.AddCounter("bulk_total", "Bulk.", {"i"});
    const std::string pad(400, 'x');
    for (int i = 0; i < 20000; ++i) family->WithLabels({std::to_string(i) + pad})->Increment();
    if (!agent.Start().ok()) _exit(10);
    struct sigaction now {};
    sigaction(SIGPIPE, nullptr, &now);
    if (now.sa_handler != SIG_DFL) _exit(11);  // the server changed the host's disposition
    for (int i = 0; i < 20; ++i) {
      // A small receive window, the request, the start of the answer (so the server is
      // writing the body), then a close with most of it unread, which resets the connection
      // (abortively with SO_LINGER for even i; Linux resets a socket closed with unread data
      // too): the server's next write fails on a reset socket (strace shows ECONNRESET).
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      const int small = 4096;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(agent.port());
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(12);
      const char* req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
      if (write(fd, req, strlen(req)) < 0) _exit(13);
      char head[64];
      if (recv(fd, head, sizeof head, MSG_WAITALL) != static_cast<ssize_t>(sizeof head)) _exit(14);
      if (i % 2 == 0) {
        struct linger lg {
          1, 0
        };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);  // RST on close
      }
      close(fd);
    }
    // The server has seen every reset once it has closed those connections (its gauge is back
    // at zero): each of them failed a write to a reset socket, which raises SIGPIPE unless the
    // server writes with MSG_NOSIGNAL. This process is still alive to say so.
    const bool closed = vitals_test::WaitUntil([&] {
      return vitals_test::SampleValue(agent.RenderText(), "vitals_http_connections") == 0;
    });
    if (!closed) _exit(15);
    httplib::Client client("127.0.0.1", agent.port());
    auto res = client.Get("/metrics");
    _exit(res && res->status == 200 ? 0 : 16);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  INFO("child status " << status << (WIFSIGNALED(status) ? " (killed by a signal)" : ""));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace

// --- The event-driven transport: protocol, limits, cancellation (agent/http/http_server.h) ---

namespace server_tests {

using namespace std::chrono_literals;
using vitals::http::HttpLane;
using vitals::http::HttpRequest;
using vitals::http::HttpResponse;
using vitals::http::HttpRoute;
using vitals::http::HttpServer;
using vitals_test::ConnectLoopback;
using vitals_test::RawExchange;
using vitals_test::ReadUntilClose;
using vitals_test::SendAll;
using vitals_test::StatusOf;

using vitals_test::Latch;

double Closed(vitals::Agent& agent, const std::string& reason) {
  return vitals_test::SampleValue(
      agent.RenderText(), "vitals_http_connections_closed_total{reason=\"" + reason + "\"}");
}

// Waits until the agent's server has `n` connections open (it accepts asynchronously).
bool WaitForOpenConnections(vitals::Agent& agent, double n) {
  return vitals_test::WaitUntil(
      [&] { return vitals_test::SampleValue(agent.RenderText(), "vitals_http_connections") >= n; });
}

std::unique_ptr<HttpServer> StartServer(std::vector<HttpRoute> routes, int slow_threads = 2) {
  HttpServer::Config config;
  config.address = *vitals::internal::ParseListenAddress("127.0.0.1:0");
  config.slow_threads = slow_threads;
  auto server = HttpServer::Start(std::move(config), std::move(routes));
  REQUIRE(server.ok());
  return *std::move(server);
}

TEST_CASE("a kept-alive connection answers several requests, pipelined too",
          "[http][concurrency]") {
  vitals::Agent agent(Loopback());
  REQUIRE(agent.Start().ok());
  const std::string reply = RawExchange(agent.port(),
                                        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(vitals_test::CountLines(reply, "HTTP/1.1 200 OK") == 3);
  CHECK(reply.find("<title>vitals</title>") != std::string::npos);  // the live page
  CHECK(reply.find("</html>") != std::string::npos);
  CHECK(reply.find("Connection: close") != std::string::npos);
  // httplib keeps its connection alive between requests, as Prometheus does.
  httplib::Client client("127.0.0.1", agent.port());
  client.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    auto res = client.Get("/metrics");
    REQUIRE(res);
    CHECK(res->status == 200);
  }
}

TEST_CASE("the request head must arrive within the header timeout, however slowly it trickles",
          "[http]") {
  vitals::Options o = Loopback();
  o.http_header_timeout = absl::Milliseconds(300);
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  const int fd = ConnectLoopback(agent.port());
  REQUIRE(fd >= 0);
  const std::string head = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(80, 'a');
  // One byte every 40 ms would keep an inactivity timer alive for 3.5 s; the head deadline
  // does not move.
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (char c : head) {
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
      cut = true;
      break;
    }
    bool closed = false;
    ReadUntilClose(fd, 40ms, &closed);
    if (closed) {
      cut = true;
      break;
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  CHECK(cut);
  CHECK(took < 3s);
  CHECK(Closed(agent, "header_timeout") >= 1);
  auto res = httplib::Client("127.0.0.1", agent.port()).Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("at the connection cap the oldest idle connection makes room for a scraper", "[http]") {
  vitals::Options o = Loopback();
  o.http_max_connections = 16;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  std::vector<int> idle;
  for (int i = 0; i < 16; ++i) idle.push_back(ConnectLoopback(agent.port()));
  REQUIRE(WaitForOpenConnections(agent, 16));
  auto res = httplib::Client("127.0.0.1", agent.port()).Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Closed(agent, "limit") >= 1);
  bool oldest_closed = false;
  ReadUntilClose(idle.front(), 2s, &oldest_closed);
  CHECK(oldest_closed);  // the first to connect was the one closed
  for (int fd : idle) close(fd);
}

TEST_CASE("malformed and oversize requests get a clear error and the server keeps serving",
          "[http]") {
  vitals::Options o = Loopback();
  o.profiling = true;  // /debug/pprof/symbol takes a body
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  const int port = agent.port();
  struct Case {
    const char* what;
    std::string request;
    int status;
  };
  const std::string big(20 * 1024, 'a');
  std::string chunked =
      "POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 40; ++i) chunked += "10000\r\n" + std::string(0x10000, '+') + "\r\n";
  chunked += "0\r\n\r\n";
  const std::vector<Case> cases = {
      {"HTTP/0.9", "GET /metrics\r\n\r\n", 400},
      {"junk bytes", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n",
       400},
      {"oversize header", "GET /metrics HTTP/1.1\r\nX-Big: " + big + "\r\n\r\n", 431},
      {"oversize URL", "GET /metrics?" + big + " HTTP/1.1\r\n\r\n", 431},
      {"HTTP/2.0 in a 1.x request line", "GET /metrics HTTP/2.0\r\n\r\n", 400},
      {"POST where only GET is served", "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405},
      {"a body where none is taken", "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
       413},
      {"Content-Length over the route's limit",
       "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 3000000\r\n\r\n0x1", 413},
      {"chunked body over the route's limit", chunked, 413},
      {"bad chunk size",
       "POST /debug/pprof/symbol HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"unknown path", "GET /nope HTTP/1.1\r\n\r\n", 404},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const std::string reply = RawExchange(port, c.request);
    CHECK(StatusOf(reply) == c.status);
  }
  CHECK(Closed(agent, "malformed") >= 9);  // all but 404 and 405
  auto res = httplib::Client("127.0.0.1", port).Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("Expect: 100-continue gets its 100 before the body is sent", "[http]") {
  vitals::Options o = Loopback();
  o.profiling = true;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  const int fd = ConnectLoopback(agent.port());
  const std::string body = "0x1+0x2";
  REQUIRE(SendAll(fd,
                  "POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  "Content-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n"));
  const std::string interim = ReadUntilClose(fd, 500ms);
  CHECK(interim == "HTTP/1.1 100 Continue\r\n\r\n");
  REQUIRE(SendAll(fd, body));
  const std::string reply = ReadUntilClose(fd, 5s);
  close(fd);
  CHECK(StatusOf(reply) == 200);
}

TEST_CASE("a handler sees its client go away", "[http][concurrency]") {
  Latch started(1);
  std::atomic<bool> saw_gone{false};
  Latch finished(1);
  std::vector<HttpRoute> routes;
  routes.push_back(HttpRoute{"/wait", "",
                             [&](const HttpRequest& req, HttpResponse& resp) {
                               started.CountDown();
                               for (int i = 0; i < 1000 && !req.cancel.client_gone(); ++i) {
                                 std::this_thread::sleep_for(10ms);
                               }
                               saw_gone = req.cancel.client_gone();
                               resp.body = "late";
                               finished.CountDown();
                             },
                             HttpLane::kSlow});
  auto server = StartServer(std::move(routes));
  const int fd = ConnectLoopback(server->port());
  REQUIRE(SendAll(fd, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(started.Wait());
  close(fd);
  REQUIRE(finished.Wait());
  CHECK(saw_gone);
}

TEST_CASE("Stop answers in-flight handlers with what they return when told, and joins",
          "[http][concurrency]") {
  Latch started(1);
  std::vector<HttpRoute> routes;
  routes.push_back(HttpRoute{"/long", "",
                             [&](const HttpRequest& req, HttpResponse& resp) {
                               started.CountDown();
                               for (int i = 0; i < 3000 && !req.cancel.server_stopping(); ++i) {
                                 std::this_thread::sleep_for(1ms);
                               }
                               vitals::http::HttpFail(resp, 503, "stopping");
                             },
                             HttpLane::kSlow});
  auto server = StartServer(std::move(routes));
  const int fd = ConnectLoopback(server->port());
  const int idle = ConnectLoopback(server->port());
  REQUIRE(SendAll(fd, "GET /long HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(started.Wait());
  const auto start = std::chrono::steady_clock::now();
  server->Stop();
  const auto took = std::chrono::steady_clock::now() - start;
  const std::string reply = ReadUntilClose(fd, 2s);
  bool idle_closed = false;
  ReadUntilClose(idle, 2s, &idle_closed);
  close(fd);
  close(idle);
  CHECK(StatusOf(reply) == 503);
  CHECK(idle_closed);
  CHECK(took < 1s);  // the handler stops at once when told; kDrainTimeout is the cap
}

TEST_CASE("a full lane answers 503 at once instead of queueing without bound",
          "[http][concurrency]") {
  Latch release(1);
  Latch first_running(1);
  std::vector<HttpRoute> routes;
  routes.push_back(HttpRoute{"/block", "",
                             [&](const HttpRequest&, HttpResponse& resp) {
                               first_running.CountDown();
                               release.Wait();
                               resp.body = "done";
                             },
                             HttpLane::kSlow});
  routes.push_back(
      HttpRoute{"/quick", "", [](const HttpRequest&, HttpResponse& resp) { resp.body = "quick"; }});
  auto server = StartServer(std::move(routes), /*slow_threads=*/1);
  std::vector<int> waiting;
  auto send_block = [&] {
    const int fd = ConnectLoopback(server->port());
    SendAll(fd, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
    waiting.push_back(fd);
  };
  send_block();
  REQUIRE(first_running.Wait());
  // The lane's one thread is busy; its queue takes kLaneQueue more, then the answer is 503.
  for (size_t i = 0; i < vitals::http::kLaneQueue; ++i) send_block();
  const std::string refused = RawExchange(server->port(), "GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(StatusOf(refused) == 503);
  // The other lane is not affected.
  CHECK(StatusOf(RawExchange(server->port(), "GET /quick HTTP/1.1\r\nConnection: close\r\n\r\n")) ==
        200);
  release.CountDown();
  for (int fd : waiting) {
    std::string reply;
    for (int i = 0; i < 50 && reply.find("done") == std::string::npos; ++i) {
      reply += ReadUntilClose(fd, 100ms);
    }
    CHECK(StatusOf(reply) == 200);
    close(fd);
  }
}

TEST_CASE("/metrics and the index can require basic auth", "[http]") {
  vitals::Options o = Loopback();
  o.metrics_basic_auth = "prom:s3cret";
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  httplib::Client client("127.0.0.1", agent.port());
  auto anonymous = client.Get("/metrics");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  CHECK(anonymous->get_header_value("WWW-Authenticate") == "Basic realm=\"vitals metrics\"");
  CHECK(anonymous->body.find("vitals_build_info") == std::string::npos);
  auto index = client.Get("/");
  REQUIRE(index);
  CHECK(index->status == 401);
  client.set_basic_auth("prom", "wrong");
  CHECK(client.Get("/metrics")->status == 401);
  client.set_basic_auth("prom", "s3cret");
  auto ok = client.Get("/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body.find("vitals_build_info") != std::string::npos);
}

TEST_CASE("basic auth over plain HTTP off loopback logs one warning at Start", "[http]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o = Loopback();
  o.log_sink = sink;
  o.listen = "0.0.0.0:0";
  o.metrics_basic_auth = "prom:s3cret";
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  int warnings = 0;
  for (const std::string& line : sink->lines()) {
    warnings += line.find("clear text") != std::string::npos;
  }
  CHECK(warnings == 1);
  vitals::Options local = Loopback();
  local.log_sink = sink;
  local.metrics_basic_auth = "prom:s3cret";  // 127.0.0.1: no warning
  vitals::Agent quiet(local);
  REQUIRE(quiet.Start().ok());
  warnings = 0;
  for (const std::string& line : sink->lines()) {
    warnings += line.find("clear text") != std::string::npos;
  }
  CHECK(warnings == 1);
}

}  // namespace server_tests
