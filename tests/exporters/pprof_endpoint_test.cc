// /debug/pprof/* on a real agent over real HTTP, and the programmatic profile API. CPU work for
// the profiler comes from a burner thread running the demo's own CPU-heavy function.

#include "exporters/pprof_endpoint.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "examples/cpu_work.h"
#include "httplib.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/profiler_state.h"
#include "vitals/agent.h"

namespace {

using namespace std::chrono_literals;

vitals::Options Profiling() {
  vitals::Options o = vitals_test::QuietOptions();
  o.listen = "0.0.0.0:0";  // so the test can also come from a non-loopback address
  o.profiling = true;
  o.profile_max_duration = absl::Seconds(60);
  o.process_metrics = false;
  return o;
}

using Burner = vitals_test::CpuBurner;

// An IPv4 address of this machine that is not loopback, or "".
std::string NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
    if (std::string(buf).rfind("127.", 0) != 0) found = buf;
  }
  freeifaddrs(list);
  return found;
}

httplib::Result Get(const std::string& host, int port, const std::string& path,
                    httplib::Headers headers = {}) {
  httplib::Client client(host, port);
  client.set_read_timeout(90);
  return client.Get(path.c_str(), headers);
}

__attribute__((noinline)) int SymbolTestMarker(int x) { return x * 3 + 1; }

TEST_CASE("profiling is off by default and says how to turn it on", "[pprof]") {
  vitals::Options o = Profiling();
  o.profiling = false;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  for (const char* path : {"/debug/pprof/", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap",
                           "/debug/pprof/symbol", "/debug/pprof/cmdline"}) {
    auto res = Get("127.0.0.1", agent.port(), path);
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK(res->body.find("VITALS_PROFILING=1") != std::string::npos);
  }
  CHECK(Get("127.0.0.1", agent.port(), "/metrics")->status == 200);  // unaffected
}

TEST_CASE("index, symbol lookup and command line", "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  auto index = Get("127.0.0.1", agent.port(), "/debug/pprof/");
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(index->body.find("/debug/pprof/profile?seconds=N") != std::string::npos);
  CHECK(Get("127.0.0.1", agent.port(), "/")->body.find("/debug/pprof/") != std::string::npos);

  auto count = Get("127.0.0.1", agent.port(), "/debug/pprof/symbol");
  CHECK(count->body == "num_symbols: 1\n");

  const auto addr = reinterpret_cast<uintptr_t>(&SymbolTestMarker);
  httplib::Client client("127.0.0.1", agent.port());
  const std::string query = absl::StrFormat("0x%x+0x%x+0x1", addr, addr + 4);
  auto symbols = client.Post("/debug/pprof/symbol", query, "application/octet-stream");
  REQUIRE(symbols);
  CHECK(symbols->status == 200);
  CHECK(symbols->body.find(absl::StrFormat("0x%016x ", addr)) != std::string::npos);
  CHECK(symbols->body.find("SymbolTestMarker") != std::string::npos);
  CHECK(symbols->body.find("0x0000000000000001") == std::string::npos);  // unknown: left out

  auto cmdline = Get("127.0.0.1", agent.port(), "/debug/pprof/cmdline");
  CHECK(cmdline->body.find("vitals_unit_tests") != std::string::npos);
}

TEST_CASE("a CPU profile over HTTP is in gperftools' format", "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  Burner burner;
  auto res = Get("127.0.0.1", agent.port(), "/debug/pprof/profile?seconds=1");
  REQUIRE(res);
  INFO(res->body.substr(0, 300));
  REQUIRE(res->status == 200);
  // The legacy CPU profile header: five machine words 0, 3, 0, period (us), 0.
  REQUIRE(res->body.size() > 5 * sizeof(uintptr_t));
  uintptr_t header[5];
  std::memcpy(header, res->body.data(), sizeof header);
  CHECK(header[0] == 0);
  CHECK(header[1] == 3);
  CHECK(header[3] == 10000);                                        // 100 Hz
  CHECK(res->body.find("vitals_unit_tests") != std::string::npos);  // the mapped binaries
}

TEST_CASE("one CPU profile at a time: the second gets 409 at once", "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  Burner burner;
  auto first = std::async(std::launch::async, [&] {
    return Get("127.0.0.1", agent.port(), "/debug/pprof/profile?seconds=3");
  });
  // Once the first one holds the profiler, ask again.
  REQUIRE(vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  auto second = Get("127.0.0.1", agent.port(), "/debug/pprof/profile?seconds=1");
  REQUIRE(second);
  CHECK(second->status == 409);
  CHECK(second->body.find("already being taken") != std::string::npos);
  // The 409 came back while the first profile was still running.
  CHECK(first.wait_for(0s) == std::future_status::timeout);
  auto res = first.get();
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("bad durations are 400", "[pprof]") {
  vitals::Options o = Profiling();
  o.profile_max_duration = absl::Seconds(10);
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  for (const char* q : {"?seconds=11", "?seconds=0", "?seconds=-3", "?seconds=ten", "?seconds="}) {
    auto res = Get("127.0.0.1", agent.port(), std::string("/debug/pprof/profile") + q);
    REQUIRE(res);
    INFO(q << ": " << res->body);
    CHECK(res->status == 400);
  }
  CHECK(Get("127.0.0.1", agent.port(), "/debug/pprof/profile?seconds=11")
            ->body.find("over the limit of 10") != std::string::npos);
}

TEST_CASE("without credentials only loopback clients may profile", "[pprof]") {
  const std::string outside = NonLoopbackAddress();
  INFO("this test needs a non-loopback IPv4 address on the machine");
  REQUIRE(!outside.empty());
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  auto res = Get(outside, agent.port(), "/debug/pprof/");
  REQUIRE(res);
  CHECK(res->status == 403);
  CHECK(res->body.find("VITALS_PROFILING_BASIC_AUTH") != std::string::npos);
  CHECK(Get(outside, agent.port(), "/metrics")->status == 200);  // metrics are for everyone
  CHECK(Get("127.0.0.1", agent.port(), "/debug/pprof/")->status == 200);
}

TEST_CASE("with credentials, authenticated clients may profile from anywhere", "[pprof]") {
  const std::string outside = NonLoopbackAddress();
  REQUIRE(!outside.empty());
  vitals::Options o = Profiling();
  o.profiling_basic_auth = "ops:s3cret";
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  auto basic = [](const std::string& creds) {
    return httplib::Headers{{"Authorization", "Basic " + absl::Base64Escape(creds)}};
  };
  auto none = Get(outside, agent.port(), "/debug/pprof/");
  CHECK(none->status == 401);
  CHECK(none->get_header_value("WWW-Authenticate") == "Basic realm=\"vitals profiling\"");
  CHECK(Get(outside, agent.port(), "/debug/pprof/", basic("ops:wrong"))->status == 401);
  CHECK(Get(outside, agent.port(), "/debug/pprof/", basic("ops:s3cret!"))->status == 401);
  CHECK(Get(outside, agent.port(), "/debug/pprof/", basic("ops"))->status == 401);
  CHECK(Get(outside, agent.port(), "/debug/pprof/", {{"Authorization", "Basic %%%"}})->status ==
        401);
  CHECK(Get(outside, agent.port(), "/debug/pprof/", basic("ops:s3cret"))->status == 200);
  // Credentials apply to loopback too once configured.
  CHECK(Get("127.0.0.1", agent.port(), "/debug/pprof/")->status == 401);
}

TEST_CASE("heap endpoints without tcmalloc answer 501 and say how to enable them", "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  for (const char* path : {"/debug/pprof/heap", "/debug/pprof/growth"}) {
    auto res = Get("127.0.0.1", agent.port(), path);
    REQUIRE(res);
    CHECK(res->status == 501);
    CHECK(res->body.find("LD_PRELOAD=libtcmalloc.so.4") != std::string::npos);
  }
  CHECK(absl::IsUnimplemented(agent.HeapProfile().status()));
}

TEST_CASE("/metrics answers while a 5 s profile runs", "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  Burner burner;
  std::atomic<bool> profile_done{false};
  std::thread profile([&] {
    Get("127.0.0.1", agent.port(), "/debug/pprof/profile?seconds=5");
    profile_done.store(true);
  });
  REQUIRE(vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  auto scrape = Get("127.0.0.1", agent.port(), "/metrics");
  // The profile ran from before the scrape started until after it ended.
  const bool during = vitals_test::CpuProfileRunning() && !profile_done.load();
  profile.join();
  REQUIRE(scrape);
  CHECK(scrape->status == 200);
  CHECK(during);
}

TEST_CASE("a client that disconnects ends its profile early", "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(agent.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string request = "GET /debug/pprof/profile?seconds=50 HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  REQUIRE(vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  close(fd);
  // The profiler stops within moments, long before the 50 s asked for.
  CHECK(vitals_test::WaitUntil([] { return !vitals_test::CpuProfileRunning(); }, 5s));
}

TEST_CASE("the programmatic API: durations, cancellation by Stop, no samples", "[pprof]") {
  vitals::Agent agent(Profiling());
  CHECK(absl::IsInvalidArgument(agent.CpuProfile(absl::ZeroDuration()).status()));
  CHECK(absl::IsInvalidArgument(agent.CpuProfile(absl::Minutes(2)).status()));
  {
    // The profile goes through a temporary file in TMPDIR, removed afterwards.
    vitals_test::TempDir tmp;
    const char* old_tmpdir = std::getenv("TMPDIR");
    const std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
    setenv("TMPDIR", tmp.path().c_str(), 1);
    Burner burner;
    auto profile = agent.CpuProfile(absl::Milliseconds(500));
    if (old_tmpdir != nullptr) {
      setenv("TMPDIR", saved.c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
    REQUIRE(profile.ok());
    CHECK(profile->size() > 40);
    CHECK(std::filesystem::is_empty(tmp.path()));
  }
  // An idle process gathers nothing: an error, never an empty profile.
  auto idle = agent.CpuProfile(absl::Seconds(1));
  CHECK(absl::IsUnavailable(idle.status()));
  CHECK(idle.status().message().find("no samples") != absl::string_view::npos);

  REQUIRE(agent.Start().ok());
  auto running =
      std::async(std::launch::async, [&] { return agent.CpuProfile(absl::Seconds(50)).status(); });
  REQUIRE(vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  agent.Stop();  // ends the profile instead of waiting 50 s
  CHECK(absl::IsCancelled(running.get()));
}

void HostSigprofHandler(int) {}

TEST_CASE("a host that owns SIGPROF gets an error, not an empty profile", "[pprof]") {
  struct sigaction mine {
  }, previous{};
  mine.sa_handler = &HostSigprofHandler;
  REQUIRE(sigaction(SIGPROF, &mine, &previous) == 0);
  vitals::Agent agent(Profiling());
  Burner burner;
  auto profile = agent.CpuProfile(absl::Seconds(1));
  sigaction(SIGPROF, &previous, nullptr);
  CHECK(absl::IsUnavailable(profile.status()));
  CHECK(profile.status().message().find("SIGPROF already has a handler") !=
        absl::string_view::npos);
}

}  // namespace
