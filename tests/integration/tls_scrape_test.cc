// A real Prometheus scrapes the demo over https, with client certificates and basic auth, from
// a CA this test makes with openssl; clients without the right CA, or speaking plain HTTP, are
// refused and Prometheus keeps scraping.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/tls_certs.h"

namespace {

using namespace std::chrono_literals;

// The value of an instant query's single sample, or -1.
double QueryOne(int prom_port, const std::string& promql) {
  httplib::Client client("127.0.0.1", prom_port);
  client.set_read_timeout(5);
  auto res = client.Get("/api/v1/query", {{"query", promql}}, httplib::Headers{});
  if (!res || res->status != 200) return -1;
  std::smatch m;
  static const std::regex value("\"value\":\\[[0-9.]+,\"([^\"]+)\"\\]");
  return std::regex_search(res->body, m, value) ? std::stod(m[1]) : -1;
}

TEST_CASE(
    "a real Prometheus scrapes the demo over https with a client certificate and basic "
    "auth: wrong clients are refused without harm",
    "[integration]") {
  vitals_test::TempDir dir;
  std::string err;
  const auto ca = vitals_test::MakeCa(dir.path(), "ca", &err);
  const auto server = vitals_test::MakeCert(dir.path(), ca, "demo", &err);
  const auto scraper = vitals_test::MakeCert(dir.path(), ca, "prometheus", &err);
  const auto other_ca = vitals_test::MakeCa(dir.path(), "other-ca", &err);
  const auto stranger = vitals_test::MakeCert(dir.path(), other_ca, "stranger", &err);
  INFO(err);
  REQUIRE(!stranger.cert.empty());

  const int metrics_port = vitals_test::FreePort();
  vitals_test::Subprocess demo({vitals_test::BinaryDir() + "/examples/demo_service", "--port=0"},
                               {{"VITALS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)},
                                {"VITALS_TLS_CERT_FILE", server.cert},
                                {"VITALS_TLS_KEY_FILE", server.key},
                                {"VITALS_TLS_CLIENT_CA_FILE", ca.cert},
                                {"VITALS_METRICS_BASIC_AUTH", "prometheus:s3cret"}},
                               dir.path());
  REQUIRE(demo.WaitForOutput("metrics: https://", 10s));

  const int prom_port = vitals_test::FreePort();
  auto prometheus =
      vitals_test::StartPrometheus(dir.path(),
                                   "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                   "scrape_configs:\n"
                                   "  - job_name: demo\n"
                                   "    scheme: https\n"
                                   "    basic_auth: {username: prometheus, password: s3cret}\n"
                                   "    tls_config:\n"
                                   "      ca_file: " +
                                       ca.cert +
                                       "\n"
                                       "      cert_file: " +
                                       scraper.cert +
                                       "\n"
                                       "      key_file: " +
                                       scraper.key +
                                       "\n"
                                       "    static_configs:\n"
                                       "      - targets: ['127.0.0.1:" +
                                       std::to_string(metrics_port) + "']\n",
                                   prom_port);

  double up = -1;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       up != 1 && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(500ms)) {
    up = QueryOne(prom_port, "up{job=\"demo\"}");
  }
  INFO("prometheus stderr: " << prometheus->Stderr().substr(0, 3000));
  REQUIRE(up == 1);
  CHECK(QueryOne(prom_port, "count(vitals_build_info{job=\"demo\"})") == 1);

  // Refused: plain HTTP, a client without a certificate, one from another CA, and the right
  // certificate without the password.
  auto plain = httplib::Client("127.0.0.1", metrics_port).Get("/metrics");
  CHECK((!plain || plain->status != 200));
  httplib::SSLClient no_cert("127.0.0.1", metrics_port);
  no_cert.set_ca_cert_path(ca.cert.c_str());
  auto r1 = no_cert.Get("/metrics");
  CHECK((!r1 || r1->status != 200));
  httplib::SSLClient foreign("127.0.0.1", metrics_port, stranger.cert, stranger.key);
  foreign.set_ca_cert_path(ca.cert.c_str());
  auto r2 = foreign.Get("/metrics");
  CHECK((!r2 || r2->status != 200));
  httplib::SSLClient no_password("127.0.0.1", metrics_port, scraper.cert, scraper.key);
  no_password.set_ca_cert_path(ca.cert.c_str());
  no_password.enable_server_certificate_verification(true);
  auto r3 = no_password.Get("/metrics");
  REQUIRE(r3);
  CHECK(r3->status == 401);

  // Prometheus keeps scraping: its count of successful scrapes keeps growing.
  const double before = QueryOne(prom_port, "count_over_time(up{job=\"demo\"}[1h])");
  double after = before;
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       after < before + 3 && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(500ms)) {
    after = QueryOne(prom_port, "count_over_time(up{job=\"demo\"}[1h])");
  }
  CHECK(after >= before + 3);
  CHECK(QueryOne(prom_port, "min_over_time(up{job=\"demo\"}[1h])") == 1);
  CHECK(demo.running());
}

}  // namespace
