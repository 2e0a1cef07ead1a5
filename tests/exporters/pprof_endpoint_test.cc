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
#include "agent/base/gzip.h"
#include "examples/cpu_work.h"
#include "httplib.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/profile_decoder.h"
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
  for (const char* path :
       {"/debug/pprof/", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap",
        "/debug/pprof/allocs", "/debug/pprof/symbol", "/debug/pprof/cmdline", "/debug/pprof/auto/",
        "/debug/pprof/auto/index.json", "/debug/pprof/auto/profile?id=1",
        "/debug/gperftools/pprof/profile?seconds=1", "/debug/gperftools/pprof/heap",
        "/debug/gperftools/pprof/symbol", "/debug/gperftools/pprof/cmdline"}) {
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

// The body as a decoded profile.proto, after checking it is gzipped as Go serves it.
std::optional<vitals_test::DecodedProfile> DecodeGzipped(const std::string& body) {
  if (body.size() < 2 || static_cast<uint8_t>(body[0]) != 0x1f ||
      static_cast<uint8_t>(body[1]) != 0x8b) {
    return std::nullopt;
  }
  std::string proto;
  if (!vitals::internal::GzipDecompress(body, proto)) return std::nullopt;
  return vitals_test::DecodeProfile(proto);
}

TEST_CASE("a CPU profile over HTTP is a gzipped profile.proto that names the hot function",
          "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  Burner burner;
  auto res = Get("127.0.0.1", agent.port(), "/debug/pprof/profile?seconds=1");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/octet-stream");
  CHECK(res->get_header_value("Content-Disposition") == "attachment; filename=\"profile\"");
  auto p = DecodeGzipped(res->body);
  REQUIRE(p.has_value());
  CHECK(p->sample_types.at(1).first == "cpu");
  CHECK(p->period == 10'000'000);  // 100 Hz
  CHECK(p->duration_nanos >= 1'000'000'000);
  // The burner runs the demo's CPU-heavy function: most samples are in it, named in place.
  int64_t total = 0;
  for (const auto& s : p->samples) total += s.values.at(0);
  const int64_t hot = p->ValueWith("demo::CpuHeavyWork", 0);
  INFO(hot << " of " << total << " samples in demo::CpuHeavyWork");
  CHECK(total > 0);
  CHECK(hot * 2 > total);
  bool self = false;
  for (const auto& m : p->mappings) {
    self |= m.filename == vitals_test::BinaryDir() + "/tests/vitals_unit_tests" &&
            m.build_id.size() == 40 && m.has_functions;
  }
  CHECK(self);
}

TEST_CASE("gperftools' own formats stay under /debug/gperftools/pprof", "[pprof]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  Burner burner;
  auto res = Get("127.0.0.1", agent.port(), "/debug/gperftools/pprof/profile?seconds=1");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  // The legacy CPU profile header: five machine words 0, 3, 0, period (us), 0.
  REQUIRE(res->body.size() > 5 * sizeof(uintptr_t));
  uintptr_t header[5];
  std::memcpy(header, res->body.data(), sizeof header);
  CHECK(header[0] == 0);
  CHECK(header[1] == 3);
  CHECK(header[3] == 10000);                                        // 100 Hz
  CHECK(res->body.find("vitals_unit_tests") != std::string::npos);  // the mapped binaries
  CHECK(Get("127.0.0.1", agent.port(), "/debug/gperftools/pprof/symbol")->body ==
        "num_symbols: 1\n");
  CHECK(Get("127.0.0.1", agent.port(), "/debug/gperftools/pprof/cmdline")
            ->body.find("vitals_unit_tests") != std::string::npos);
  CHECK(Get("127.0.0.1", agent.port(), "/debug/gperftools/pprof/")->body.find("google-pprof") !=
        std::string::npos);
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
  for (const char* path : {"/debug/pprof/", "/debug/pprof/auto/", "/debug/pprof/auto/index.json",
                           "/debug/pprof/auto/profile?id=1", "/debug/gperftools/pprof/symbol"}) {
    auto res = Get(outside, agent.port(), path);
    REQUIRE(res);
    INFO(path);
    CHECK(res->status == 403);
    CHECK(res->body.find("VITALS_PROFILING_BASIC_AUTH") != std::string::npos);
  }
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
  for (const char* path : {"/debug/pprof/heap", "/debug/pprof/allocs", "/debug/pprof/growth",
                           "/debug/gperftools/pprof/heap", "/debug/gperftools/pprof/growth"}) {
    auto res = Get("127.0.0.1", agent.port(), path);
    REQUIRE(res);
    CHECK(res->status == 501);
    CHECK(res->body.find("LD_PRELOAD=libtcmalloc.so.4") != std::string::npos);
  }
  CHECK(absl::IsUnimplemented(agent.HeapProfile().status()));
  CHECK(absl::IsUnimplemented(agent.HeapProfile(vitals::ProfileFormat::kGperftools).status()));
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
    CHECK(DecodeGzipped(*profile).has_value());
    CHECK(std::filesystem::is_empty(tmp.path()));
  }
  {
    Burner burner;
    auto legacy = agent.CpuProfile(absl::Milliseconds(500), vitals::ProfileFormat::kGperftools);
    REQUIRE(legacy.ok());
    uintptr_t header[2] = {1, 1};
    REQUIRE(legacy->size() > sizeof header);
    std::memcpy(header, legacy->data(), sizeof header);
    CHECK(header[0] == 0);
    CHECK(header[1] == 3);
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

vitals::Options AutoProfiling(std::shared_ptr<vitals_test::CapturingSink> sink) {
  vitals::Options o = Profiling();
  o.auto_profile = true;
  o.auto_profile_slow_requests = 3;
  o.auto_profile_duration = absl::Seconds(2);
  o.slow_request_threshold = absl::Milliseconds(100);
  o.log_sink = std::move(sink);
  return o;
}

// Three slow requests on two routes: a burst.
void SlowBurst(vitals::Agent& agent) {
  agent.Record("GET", "/reports/:id", 200, absl::Milliseconds(400));
  agent.Record("GET", "/reports/:id", 200, absl::Milliseconds(300));
  agent.Record("POST", "/upload", 201, absl::Milliseconds(250));
}

TEST_CASE("a burst of slow requests captures a CPU profile, listed and fetchable",
          "[pprof][auto_profile]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Agent agent(AutoProfiling(sink));
  REQUIRE(agent.Start().ok());
  const int port = agent.port();
  auto json = Get("127.0.0.1", port, "/debug/pprof/auto/index.json");
  REQUIRE(json);
  CHECK(json->status == 200);
  CHECK(json->get_header_value("Content-Type") == "application/json");
  CHECK(json->body == "{\"enabled\":true,\"profiles\":[]}\n");
  CHECK(Get("127.0.0.1", port, "/debug/pprof/auto/")->body.find("None yet") != std::string::npos);

  Burner burner;
  agent.Record("GET", "/fast", 200, absl::Milliseconds(5));  // not slow: not counted
  SlowBurst(agent);
  // The capture uses the process's one profiler: an on-demand profile meanwhile gets 409.
  REQUIRE(vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  auto busy = Get("127.0.0.1", port, "/debug/pprof/profile?seconds=1");
  REQUIRE(busy);
  CHECK(busy->status == 409);
  REQUIRE(vitals_test::WaitUntil([&] { return agent.AutoProfiles().size() == 1; }, 30s));

  const vitals::AutoProfileInfo info = agent.AutoProfiles()[0];
  CHECK(info.id == 1);
  CHECK(info.trigger == "slow_requests");
  CHECK(info.duration >= absl::Seconds(2));
  REQUIRE(info.routes.size() == 2);
  CHECK(info.routes[0].route == "/reports/:id");
  CHECK(info.routes[0].slow_requests == 2);
  CHECK(info.routes[1].method == "POST");

  json = Get("127.0.0.1", port, "/debug/pprof/auto/index.json");
  REQUIRE(json);
  INFO(json->body);
  CHECK(json->body.find("\"id\":1,") != std::string::npos);
  CHECK(json->body.find("{\"method\":\"GET\",\"route\":\"/reports/:id\",\"slow_requests\":2}") !=
        std::string::npos);
  CHECK(json->body.find("\"url\":\"/debug/pprof/auto/profile?id=1\"") != std::string::npos);
  // Valid JSON by a real parser.
  vitals_test::TempDir dir;
  vitals_test::WriteFile(dir.path() + "/auto.json", json->body);
  CHECK(vitals_test::RunCommand("python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                                "assert d[\"profiles\"][0][\"bytes\"] > 0' " +
                                    dir.path() + "/auto.json",
                                nullptr) == 0);
  auto html = Get("127.0.0.1", port, "/debug/pprof/auto/");
  REQUIRE(html);
  CHECK(html->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(html->body.find("href=\"profile?id=1\"") != std::string::npos);
  CHECK(html->body.find("GET /reports/:id &times;2") != std::string::npos);

  auto profile = Get("127.0.0.1", port, "/debug/pprof/auto/profile?id=1");
  REQUIRE(profile);
  REQUIRE(profile->status == 200);
  CHECK(profile->body.size() == info.bytes);
  CHECK(*agent.AutoProfile(1) == profile->body);
  auto p = DecodeGzipped(profile->body);
  REQUIRE(p.has_value());
  CHECK(p->ValueWith("demo::CpuHeavyWork", 0) > 0);

  CHECK(Get("127.0.0.1", port, "/debug/pprof/auto/profile?id=2")->status == 404);
  CHECK(Get("127.0.0.1", port, "/debug/pprof/auto/profile?id=x")->status == 400);
  CHECK(Get("127.0.0.1", port, "/debug/pprof/auto/profile")->status == 400);
  CHECK(absl::IsNotFound(agent.AutoProfile(2).status()));
  CHECK(agent.RenderText().find("vitals_auto_profiles_total{trigger=\"slow_requests\"} 1\n") !=
        std::string::npos);
  // One line says where it is.
  bool logged = false;
  for (const std::string& line : sink->lines()) {
    logged |= line.find("automatic profile 1:") != std::string::npos &&
              line.find("fetch: go tool pprof http://127.0.0.1:" + std::to_string(port) +
                        "/debug/pprof/auto/profile?id=1") != std::string::npos;
  }
  CHECK(logged);
}

TEST_CASE("Stop ends an automatic capture at once", "[pprof][auto_profile]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o = AutoProfiling(sink);
  o.auto_profile_duration = absl::Seconds(60);
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  Burner burner;
  SlowBurst(agent);
  REQUIRE(vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); }));
  auto stopped = std::async(std::launch::async, [&] { agent.Stop(); });
  // Far less than the 60 s the capture would last.
  CHECK(stopped.wait_for(10s) == std::future_status::ready);
  CHECK_FALSE(vitals_test::CpuProfileRunning());
  CHECK(agent.AutoProfiles().empty());
}

TEST_CASE("automatic profiles are off by default, and the pages say how to turn them on",
          "[pprof][auto_profile]") {
  vitals::Agent agent(Profiling());
  REQUIRE(agent.Start().ok());
  CHECK(Get("127.0.0.1", agent.port(), "/debug/pprof/auto/index.json")->body ==
        "{\"enabled\":false,\"profiles\":[]}\n");
  CHECK(Get("127.0.0.1", agent.port(), "/debug/pprof/auto/")->body.find("VITALS_AUTO_PROFILE=1") !=
        std::string::npos);
  CHECK(Get("127.0.0.1", agent.port(), "/debug/pprof/auto/profile?id=1")->status == 404);
  SlowBurst(agent);
  CHECK(agent.AutoProfiles().empty());
  CHECK(agent.RenderText().find("vitals_auto_profiles_total") == std::string::npos);
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
