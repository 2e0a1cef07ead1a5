// The real pprof clients against the real demo: Go's `go tool pprof` (Debian's golang-go) reads
// the gzipped profile.proto of /debug/pprof with no binary and no symbol round trip;
// Debian's google-pprof reads gperftools' formats under /debug/gperftools/pprof. Heap profiles
// run with tcmalloc preloaded and sampling on; automatic profiles with a low slow threshold.

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>

#include "httplib.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

namespace {

using namespace std::chrono_literals;

// Starts the demo with profiling on; returns its metrics port.
int StartDemo(vitals_test::TempDir& dir, std::unique_ptr<vitals_test::Subprocess>& demo,
              std::map<std::string, std::string> env) {
  const int port = vitals_test::FreePort();
  env["VITALS_LISTEN"] = "127.0.0.1:" + std::to_string(port);
  env["VITALS_PROFILING"] = "1";
  demo = std::make_unique<vitals_test::Subprocess>(
      std::vector<std::string>{vitals_test::BinaryDir() + "/examples/demo_service", "--port=0",
                               "--load-rps=150"},
      env, dir.path());
  REQUIRE(demo->WaitForOutput("metrics: http://", 20s));
  return port;
}

std::string Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30);
  auto res = client.Get(path.c_str());
  return res && res->status == 200 ? res->body : "";
}

// The requests the demo has served on `route` (all methods and codes), from its /metrics.
double Served(int port, const std::string& route) {
  std::istringstream in(Get(port, "/metrics"));
  std::string line;
  double total = 0;
  const std::string needle = "http_route=\"" + route + "\"";
  while (std::getline(in, line)) {
    if (line.rfind("http_server_request_duration_seconds_count{", 0) == 0 &&
        line.find(needle) != std::string::npos) {
      total += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return total;
}

// Waits until the demo's load generator has sent `n` requests to `route`.
void WaitForLoad(int port, const std::string& route, double n) {
  INFO("waiting for " << n << " requests to " << route);
  REQUIRE(vitals_test::WaitUntil([&] { return Served(port, route) >= n; }, 30s));
}

std::string Run(const vitals_test::TempDir& dir, const std::string& tool, const std::string& args) {
  std::string out;
  const int rc = vitals_test::RunCommand(
      "HOME=" + dir.path() + " PPROF_TMPDIR=" + dir.path() + " " + tool + " " + args, &out);
  INFO(tool << " " << args << "\n" << out);
  CHECK(rc == 0);
  return out;
}

std::string GoPprof(const vitals_test::TempDir& dir, const std::string& args) {
  return Run(dir, "go tool pprof", args);
}

// The first `n` lines of a report after the line that starts with `header`.
std::string TopLines(const std::string& report, const std::string& header, int n) {
  std::istringstream in(report.substr(std::min(report.find(header), report.size())));
  std::string line, top;
  for (int i = 0; i <= n && std::getline(in, line); ++i) top += line + "\n";
  return top;
}

TEST_CASE("go tool pprof reads a CPU profile of the demo from its URL and names the hot function",
          "[integration][pprof]") {
  vitals_test::TempDir dir;
  std::unique_ptr<vitals_test::Subprocess> demo;
  const int port = StartDemo(dir, demo, {});
  WaitForLoad(port, "/cpu", 20);
  // No binary, no -symbolize flag: the profile carries its own names.
  const std::string report = GoPprof(
      dir, "-top -seconds=5 http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/profile");
  INFO(report);
  CHECK(report.find("File: demo_service") != std::string::npos);
  CHECK(report.find("Type: cpu") != std::string::npos);
  CHECK(TopLines(report, "      flat", 5).find("demo::CpuHeavyWork") != std::string::npos);
  CHECK(report.find("Main binary filename not available") == std::string::npos);
}

TEST_CASE("go tool pprof -raw shows the demo's mappings with their build IDs",
          "[integration][pprof]") {
  vitals_test::TempDir dir;
  std::unique_ptr<vitals_test::Subprocess> demo;
  const int port = StartDemo(dir, demo, {});
  WaitForLoad(port, "/cpu", 20);
  const std::string raw = GoPprof(
      dir, "-raw -seconds=3 http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/profile");
  const std::string binary = vitals_test::BinaryDir() + "/examples/demo_service";
  std::string readelf;
  REQUIRE(vitals_test::RunCommand("readelf -n " + binary + " | sed -n 's/.*Build ID: //p'",
                                  &readelf) == 0);
  const std::string build_id = readelf.substr(0, readelf.find('\n'));
  REQUIRE(build_id.size() == 40);
  const std::string mappings = raw.substr(std::min(raw.find("Mappings"), raw.size()));
  INFO(mappings);
  // "1: 0xSTART/0xLIMIT/0xOFFSET /path/demo_service BUILDID [FN][FL][LN][IN]"
  CHECK(mappings.find(binary + " " + build_id + " [FN]") != std::string::npos);
  CHECK(mappings.find("libc.so.6 ") != std::string::npos);  // shared libraries too
}

TEST_CASE("google-pprof reads gperftools' format under /debug/gperftools/pprof",
          "[integration][pprof]") {
  vitals_test::TempDir dir;
  std::unique_ptr<vitals_test::Subprocess> demo;
  const int port = StartDemo(dir, demo, {});
  WaitForLoad(port, "/cpu", 20);
  const std::string report = Run(dir, "google-pprof",
                                 "--text --seconds=5 http://127.0.0.1:" + std::to_string(port) +
                                     "/debug/gperftools/pprof/profile");
  INFO(report);
  CHECK(report.find("Total:") != std::string::npos);
  CHECK(TopLines(report, "Total:", 5).find("CpuHeavyWork") != std::string::npos);
}

TEST_CASE("google-pprof profiles a program started without arguments, from its URL alone",
          "[integration][pprof]") {
  vitals_test::TempDir dir;
  // memory_host takes no arguments: its command line is its path alone.
  const std::string binary = vitals_test::BinaryDir() + "/tests/memory_host";
  vitals_test::Subprocess host({binary}, {{"VITALS_PROFILING", "1"}}, dir.path());
  REQUIRE(host.WaitForOutput("port ", 10s));
  const std::string out = host.Stdout();
  const int port = std::stoi(out.substr(out.find("port ") + 5));
  // Go's format, byte for byte: the arguments joined by NUL, no NUL at the end.
  for (const char* path : {"/debug/pprof/cmdline", "/debug/gperftools/pprof/cmdline"}) {
    std::string cmdline;
    REQUIRE(vitals_test::RunCommand(
                "curl -s http://127.0.0.1:" + std::to_string(port) + path + " | od -An -c",
                &cmdline) == 0);
    std::string want;
    REQUIRE(vitals_test::RunCommand("printf '%s' " + binary + " | od -An -c", &want) == 0);
    CHECK(cmdline == want);
  }
  REQUIRE(host.Send("burn 8000\n"));  // CPU for the profile to sample
  const std::string report = Run(dir, "google-pprof",
                                 "--text --seconds=3 http://127.0.0.1:" + std::to_string(port) +
                                     "/debug/gperftools/pprof/profile");
  INFO(report);
  CHECK(report.find("Total:") != std::string::npos);
  CHECK(report.find("sh: ") == std::string::npos);  // no shell error from a mangled program name
  // Named frames, not bare addresses: the host's own code appears by name.
  CHECK((report.find("Burn") != std::string::npos || report.find("main") != std::string::npos ||
         report.find("CpuSeconds") != std::string::npos));
}

#ifdef VITALS_TEST_TCMALLOC
TEST_CASE(
    "the demo's heap on tcmalloc: go tool pprof and google-pprof name the allocating function",
    "[integration][pprof][tcmalloc]") {
  vitals_test::TempDir dir;
  std::unique_ptr<vitals_test::Subprocess> demo;
  // Sampling is random and tcmalloc 2.10 samples fewer 256 KiB blocks than the textbook 39%:
  // with the usual 512 KiB period, measured by hand, 2 of 12, 4 of 24 and 10 of 48 leaked
  // blocks were in the sample, and a CI run saw none of 12. With a 64 KiB period every one of
  // 12, 24 and 48 blocks was sampled.
  const int port = StartDemo(
      dir, demo, {{"LD_PRELOAD", VITALS_TEST_TCMALLOC}, {"TCMALLOC_SAMPLE_PARAMETER", "65536"}});
  WaitForLoad(port, "/memory/leak", 20);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string report = GoPprof(dir, "-top " + url + "/debug/pprof/heap");
  INFO(report);
  CHECK(report.find("Type: inuse_space") != std::string::npos);
  // The allocator's own frames are dropped, as pprof does for tcmalloc: the leak is at the top.
  CHECK(TopLines(report, "      flat", 3).find("DeliberateLeak::Leak") != std::string::npos);
  // By object count the leak's few large allocations compete with every small one the process
  // keeps (each sampled small object stands for thousands), so pprof's default node fraction
  // (0.5%) could hide it; the claim here is that the function is named, not that it ranks
  // first. (This check failed once in CI without the report in its output: hence the INFO.)
  const std::string objects = GoPprof(
      dir, "-top -nodefraction=0 -sample_index=inuse_objects " + url + "/debug/pprof/allocs");
  INFO(objects);
  CHECK(objects.find("DeliberateLeak::Leak") != std::string::npos);
  const std::string legacy =
      Run(dir, "google-pprof", "--text " + url + "/debug/gperftools/pprof/heap");
  INFO(legacy);
  CHECK(legacy.find("Total:") != std::string::npos);
  CHECK(legacy.find("DeliberateLeak::Leak") != std::string::npos);
}
#endif

TEST_CASE("a burst of slow requests in the demo captures a profile go tool pprof reads",
          "[integration][pprof][auto_profile]") {
  vitals_test::TempDir dir;
  std::unique_ptr<vitals_test::Subprocess> demo;
  const int port = StartDemo(dir, demo,
                             {{"VITALS_AUTO_PROFILE", "1"},
                              {"VITALS_SLOW_REQUEST_THRESHOLD", "1ms"},
                              {"VITALS_AUTO_PROFILE_DURATION", "3s"}});
  std::string index;
  REQUIRE(vitals_test::WaitUntil(
      [&] {
        index = Get(port, "/debug/pprof/auto/index.json");
        return index.find("\"id\":1,") != std::string::npos;
      },
      30s));
  INFO(index);
  CHECK(index.find("\"trigger\":\"slow_requests\"") != std::string::npos);
  // The log line says where.
  CHECK(vitals_test::WaitUntil(
      [&] {
        const std::string log = demo->Stdout() + demo->Stderr();
        return log.find("fetch: go tool pprof http://127.0.0.1:" + std::to_string(port) +
                        "/debug/pprof/auto/profile?id=1") != std::string::npos;
      },
      5s));
  const std::string report = GoPprof(
      dir, "-top 'http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/auto/profile?id=1'");
  INFO(report);
  CHECK(report.find("Type: cpu") != std::string::npos);
  CHECK(report.find("demo::") != std::string::npos);
}

}  // namespace
