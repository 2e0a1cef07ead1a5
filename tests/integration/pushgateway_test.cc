// Push mode against the real Pushgateway (Debian's prometheus-pushgateway) and a real Prometheus
// scraping it, and the failure cases: no Pushgateway at all, and one that never answers.

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "tests/support/metrics_text.h"
#include "tests/support/process.h"

namespace {

using namespace std::chrono_literals;

std::string Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5);
  auto res = client.Get(path.c_str());
  return res && res->status == 200 ? res->body : "";
}

int Lines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

struct Job {
  int exit_code;
  std::chrono::milliseconds took;
  std::string out, err;
};

Job RunJob(const std::map<std::string, std::string>& env, const std::string& log_dir,
           const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {vitals_test::BinaryDir() + "/tests/push_job"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto start = std::chrono::steady_clock::now();
  vitals_test::Subprocess job(argv, env, log_dir);
  const int rc = job.Wait(60s);
  return {rc,
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                start),
          job.Stdout(), job.Stderr()};
}

TEST_CASE(
    "a push-only batch job leaves its metrics in a real Pushgateway, and Prometheus "
    "reads them",
    "[integration][push]") {
  vitals_test::TempDir dir;
  const int gw_port = vitals_test::FreePort();
  // Debian's package persists pushed groups to /var/lib/prometheus by default: a run of its own.
  vitals_test::Subprocess gateway(
      {"prometheus-pushgateway", "--web.listen-address=127.0.0.1:" + std::to_string(gw_port),
       "--persistence.file=" + dir.path() + "/pushgateway.data"},
      {}, dir.path());
  bool ready = false;
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       !ready && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(200ms)) {
    ready = !Get(gw_port, "/metrics").empty();
  }
  REQUIRE(ready);

  const std::string url = "http://127.0.0.1:" + std::to_string(gw_port);
  Job job = RunJob({{"VITALS_HTTP_ENABLED", "false"},
                    {"VITALS_PUSHGATEWAY_URL", url},
                    {"VITALS_JOB", "nightly-batch"},
                    {"VITALS_PUSH_GROUPING", "instance=batch-7"},
                    {"VITALS_PUSH_INTERVAL", "0"}},
                   dir.path());
  INFO(job.out << job.err);
  CHECK(job.exit_code == 0);
  CHECK(job.out.find("port 0\n") != std::string::npos);  // push-only: no port was opened
  CHECK(job.out.find("push_failures 0\n") != std::string::npos);

  const std::string pushed = Get(gw_port, "/metrics");
  const std::string labels = "{instance=\"batch-7\",job=\"nightly-batch\"";
  CHECK(vitals_test::SampleValue(pushed, "batch_rows_processed_total" + labels + "}") == 1234);
  // The Pushgateway serves labels in alphabetical order.
  CHECK(vitals_test::SampleValue(pushed,
                                 "http_server_request_duration_seconds_count{http_request_method="
                                 "\"GET\",http_response_status_code=\"200\",http_route=\"/batch/"
                                 "step\",instance=\"batch-7\",job=\"nightly-batch\"}") == 10);
  CHECK(vitals_test::SampleValue(pushed,
                                 "cache_gets_total{cache=\"batch\",instance=\"batch-7\","
                                 "job=\"nightly-batch\",result=\"miss\"}") > 0);
  CHECK(vitals_test::SampleValue(pushed, "process_resident_memory_bytes" + labels + "}") > 0);

  // A job that ends with exit() while its agent is alive still pushes (the exit hook).
  Job exiting = RunJob({{"VITALS_HTTP_ENABLED", "false"},
                        {"VITALS_PUSHGATEWAY_URL", url},
                        {"VITALS_JOB", "exit-job"},
                        {"VITALS_PUSH_INTERVAL", "0"}},
                       dir.path(), {"--exit"});
  CHECK(exiting.exit_code == 0);
  CHECK(Get(gw_port, "/metrics").find("batch_rows_processed_total{instance=") != std::string::npos);
  CHECK(Lines(Get(gw_port, "/metrics"), "job=\"exit-job\"") > 0);

  // A real Prometheus scraping the Pushgateway with honor_labels keeps the job's labels.
  const int prom_port = vitals_test::FreePort();
  auto prometheus = vitals_test::StartPrometheus(
      dir.path(),
      "global:\n  scrape_interval: 1s\n"
      "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n"
      "    static_configs:\n      - targets: ['127.0.0.1:" +
          std::to_string(gw_port) + "']\n",
      prom_port);
  std::string answer;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(500ms)) {
    answer = Get(prom_port,
                 "/api/v1/query?query=batch_rows_processed_total%7Bjob%3D%22nightly-batch%22%7D");
    if (answer.find("\"batch-7\"") != std::string::npos) break;
  }
  INFO(answer);
  CHECK(answer.find("\"instance\":\"batch-7\"") != std::string::npos);
  CHECK(answer.find("\"1234\"") != std::string::npos);
}

TEST_CASE("no Pushgateway: the job still exits 0, promptly, with one logged failure",
          "[integration][push]") {
  vitals_test::TempDir dir;
  const int nobody = vitals_test::FreePort();  // nothing listens there
  Job job = RunJob({{"VITALS_HTTP_ENABLED", "false"},
                    {"VITALS_PUSHGATEWAY_URL", "http://127.0.0.1:" + std::to_string(nobody)},
                    {"VITALS_JOB", "lonely"},
                    {"VITALS_PUSH_INTERVAL", "0"},
                    {"VITALS_PUSH_TIMEOUT", "2s"}},
                   dir.path());
  INFO(job.out << job.err);
  CHECK(job.exit_code == 0);
  CHECK(job.took < 10s);
  CHECK(Lines(job.err, "push to the Pushgateway failed") == 1);
  CHECK(job.out.find("push_failures 1\n") != std::string::npos);
}

TEST_CASE("a Pushgateway that never answers: the push times out and shutdown completes",
          "[integration][push]") {
  vitals_test::TempDir dir;
  // Accepts connections (the kernel completes the handshake) but never reads or answers.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);

  Job job = RunJob({{"VITALS_HTTP_ENABLED", "false"},
                    {"VITALS_PUSHGATEWAY_URL", "http://127.0.0.1:" + std::to_string(port)},
                    {"VITALS_JOB", "stuck"},
                    {"VITALS_PUSH_INTERVAL", "0"},
                    {"VITALS_PUSH_TIMEOUT", "1s"}},
                   dir.path());
  close(fd);
  INFO(job.out << job.err);
  CHECK(job.exit_code == 0);
  CHECK(job.took >= 900ms);  // it did wait for the answer, up to the bound
  CHECK(job.took < 10s);
  CHECK(Lines(job.err, "push to the Pushgateway failed") == 1);
  CHECK(job.err.find("push_timeout 1s") != std::string::npos);
}

}  // namespace
