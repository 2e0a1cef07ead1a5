// The real pprof client (Debian's google-pprof) against the real demo: a CPU profile and, with
// tcmalloc preloaded and heap sampling on, a heap profile, fetched over HTTP with no local copy
// of the binary (symbols come from /debug/pprof/symbol).

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

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

std::string Pprof(const vitals_test::TempDir& dir, const std::string& args) {
  std::string out;
  const int rc = vitals_test::RunCommand(
      "HOME=" + dir.path() + " PPROF_TMPDIR=" + dir.path() + " google-pprof " + args, &out);
  INFO("google-pprof " << args << "\n" << out);
  CHECK(rc == 0);
  return out;
}

// The report's lines from "Total:" on, the first `n` of them.
std::string TopLines(const std::string& report, int n) {
  std::istringstream in(report.substr(std::min(report.find("Total:"), report.size())));
  std::string line, top;
  for (int i = 0; i <= n && std::getline(in, line); ++i) top += line + "\n";
  return top;
}

TEST_CASE("google-pprof takes a CPU profile of the demo and names its hot function",
          "[integration][pprof]") {
  vitals_test::TempDir dir;
  std::unique_ptr<vitals_test::Subprocess> demo;
  const int port = StartDemo(dir, demo, {});
  std::this_thread::sleep_for(1s);  // let the load generator get going
  const std::string report = Pprof(
      dir, "--text --seconds=5 http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/profile");
  const std::string top = TopLines(report, 5);
  INFO(report);
  CHECK(report.find("Total:") != std::string::npos);
  CHECK(top.find("CpuHeavyWork") != std::string::npos);
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
  std::string cmdline;
  REQUIRE(vitals_test::RunCommand("curl -s http://127.0.0.1:" + std::to_string(port) +
                                      "/debug/pprof/cmdline | od -An -c",
                                  &cmdline) == 0);
  std::string want;
  REQUIRE(vitals_test::RunCommand("printf '%s' " + binary + " | od -An -c", &want) == 0);
  CHECK(cmdline == want);
  REQUIRE(host.Send("burn 8000\n"));  // CPU for the profile to sample
  const std::string report = Pprof(
      dir, "--text --seconds=3 http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/profile");
  INFO(report);
  CHECK(report.find("Total:") != std::string::npos);
  CHECK(report.find("sh: ") == std::string::npos);  // no shell error from a mangled program name
  // Named frames, not bare addresses: the host's own code appears by name.
  CHECK((report.find("Burn") != std::string::npos || report.find("main") != std::string::npos ||
         report.find("CpuSeconds") != std::string::npos));
}

#ifdef VITALS_TEST_TCMALLOC
TEST_CASE("google-pprof reads the demo's heap on tcmalloc and names the allocating function",
          "[integration][pprof][tcmalloc]") {
  vitals_test::TempDir dir;
  std::unique_ptr<vitals_test::Subprocess> demo;
  const int port = StartDemo(
      dir, demo, {{"LD_PRELOAD", VITALS_TEST_TCMALLOC}, {"TCMALLOC_SAMPLE_PARAMETER", "524288"}});
  std::this_thread::sleep_for(4s);  // the deliberate leak keeps 256 KiB per call
  const std::string report =
      Pprof(dir, "--text http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/heap");
  INFO(report);
  CHECK(report.find("Total:") != std::string::npos);
  CHECK(report.find("DeliberateLeak::Leak") != std::string::npos);
}
#endif

}  // namespace
