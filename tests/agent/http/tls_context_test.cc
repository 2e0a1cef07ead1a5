// TLS on the agent's endpoint, with a CA and certificates made by the real openssl command.

#include "agent/http/tls_context.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "tests/support/sockets.h"
#include "tests/support/tls_certs.h"
#include "vitals/agent.h"

namespace {

using namespace std::chrono_literals;
using vitals_test::CertFiles;

struct Pki {
  vitals_test::TempDir dir;
  CertFiles ca, server, client, other_ca, stranger;
  Pki() {
    std::string err;
    ca = vitals_test::MakeCa(dir.path(), "ca", &err);
    INFO(err);
    REQUIRE(!ca.cert.empty());
    server = vitals_test::MakeCert(dir.path(), ca, "server", &err);
    client = vitals_test::MakeCert(dir.path(), ca, "client", &err);
    other_ca = vitals_test::MakeCa(dir.path(), "other-ca", &err);
    stranger = vitals_test::MakeCert(dir.path(), other_ca, "stranger", &err);
    REQUIRE(!server.cert.empty());
    REQUIRE(!client.cert.empty());
    REQUIRE(!stranger.cert.empty());
  }
};

vitals::Options Tls(const Pki& pki) {
  vitals::Options o = vitals_test::LoopbackOptions();
  o.tls_cert_file = pki.server.cert;
  o.tls_key_file = pki.server.key;
  return o;
}

// The count of connections closed for `reason`, once it reaches `at_least` (the server notices
// a failed handshake a moment after the client gives up), or what it is after 5 s.
double Closed(vitals::Agent& agent, const std::string& reason, double at_least) {
  double v = 0;
  for (int i = 0; i < 500; ++i) {
    v = vitals_test::SampleValue(agent.RenderText(),
                                 "vitals_http_connections_closed_total{reason=\"" + reason + "\"}");
    if (v >= at_least) break;
    std::this_thread::sleep_for(10ms);
  }
  return v;
}

TEST_CASE("https with a certificate from our CA: plain HTTP and other CAs are refused", "[tls]") {
  Pki pki;
  vitals::Agent agent(Tls(pki));
  REQUIRE(agent.Start().ok());
  httplib::SSLClient trusted("127.0.0.1", agent.port());
  trusted.set_ca_cert_path(pki.ca.cert.c_str());
  trusted.enable_server_certificate_verification(true);
  auto ok = trusted.Get("/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body.find("vitals_build_info") != std::string::npos);

  auto plain = httplib::Client("127.0.0.1", agent.port()).Get("/metrics");
  CHECK(!plain);  // no HTTP answer at all: the handshake failed
  httplib::SSLClient wrong_ca("127.0.0.1", agent.port());
  wrong_ca.set_ca_cert_path(pki.other_ca.cert.c_str());
  wrong_ca.enable_server_certificate_verification(true);
  CHECK(!wrong_ca.Get("/metrics"));               // the client refuses our certificate
  CHECK(Closed(agent, "tls_handshake", 1) >= 1);  // the plain-HTTP client
  auto again = trusted.Get("/metrics");           // unharmed
  REQUIRE(again);
  CHECK(again->status == 200);
}

TEST_CASE("with a client CA, only clients with a certificate it signed get in", "[tls]") {
  Pki pki;
  vitals::Options o = Tls(pki);
  o.tls_client_ca_file = pki.ca.cert;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  httplib::SSLClient with_cert("127.0.0.1", agent.port(), pki.client.cert, pki.client.key);
  with_cert.set_ca_cert_path(pki.ca.cert.c_str());
  with_cert.enable_server_certificate_verification(true);
  auto ok = with_cert.Get("/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);

  httplib::SSLClient no_cert("127.0.0.1", agent.port());
  no_cert.set_ca_cert_path(pki.ca.cert.c_str());
  CHECK(!no_cert.Get("/metrics"));  // the handshake fails: no certificate
  httplib::SSLClient stranger("127.0.0.1", agent.port(), pki.stranger.cert, pki.stranger.key);
  stranger.set_ca_cert_path(pki.ca.cert.c_str());
  CHECK(!stranger.Get("/metrics"));  // the handshake fails: signed by another CA
  CHECK(Closed(agent, "tls_handshake", 2) >= 2);
  CHECK(with_cert.Get("/metrics")->status == 200);
}

TEST_CASE("bad TLS files are InvalidArgument naming the file", "[tls]") {
  Pki pki;
  auto start = [&](vitals::Options o) { return vitals::Agent(std::move(o)).Start(); };
  vitals::Options missing = Tls(pki);
  missing.tls_cert_file = pki.dir.path() + "/nope.crt";
  absl::Status s = start(missing);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("nope.crt") != std::string::npos);

  vitals::Options mismatch = Tls(pki);
  mismatch.tls_key_file = pki.client.key;  // another certificate's key
  s = start(mismatch);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("does not match") != std::string::npos);

  vitals::Options garbage = Tls(pki);
  garbage.tls_cert_file = pki.dir.path() + "/garbage.crt";
  vitals_test::WriteFile(garbage.tls_cert_file, "not a certificate\n");
  s = start(garbage);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("garbage.crt") != std::string::npos);

  vitals::Options half = Tls(pki);
  half.tls_key_file.clear();
  CHECK(start(half).code() == absl::StatusCode::kInvalidArgument);
  vitals::Options ca_only = vitals_test::LoopbackOptions();
  ca_only.tls_client_ca_file = pki.ca.cert;
  CHECK(start(ca_only).code() == absl::StatusCode::kInvalidArgument);
}

// The subject of the certificate the server at `port` presents, as openssl prints it.
std::string ServedSubject(int port) {
  std::string out;
  vitals_test::RunCommand("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                              " 2>/dev/null | openssl x509 -noout -subject",
                          &out);
  return out;
}

TEST_CASE("a rotated certificate is served without a restart", "[tls]") {
  Pki pki;
  vitals_test::TempDir live;
  const std::string cert = live.path() + "/tls.crt", key = live.path() + "/tls.key";
  vitals_test::WriteFile(cert, vitals_test::ReadFile(pki.server.cert));
  vitals_test::WriteFile(key, vitals_test::ReadFile(pki.server.key));
  vitals::Options o = Tls(pki);
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  REQUIRE(ServedSubject(agent.port()).find("CN = server") != std::string::npos);
  // Rotate to the "client" certificate (it is valid for servers too). The agent looks at the
  // files at most once a second, so poll for the change.
  vitals_test::WriteFile(cert + ".new", vitals_test::ReadFile(pki.client.cert));
  vitals_test::WriteFile(key + ".new", vitals_test::ReadFile(pki.client.key));
  REQUIRE(rename((key + ".new").c_str(), key.c_str()) == 0);
  REQUIRE(rename((cert + ".new").c_str(), cert.c_str()) == 0);
  std::string subject;
  for (int i = 0; i < 100; ++i) {
    subject = ServedSubject(agent.port());
    if (subject.find("CN = client") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(subject.find("CN = client") != std::string::npos);
}

}  // namespace
