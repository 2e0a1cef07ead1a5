#include "vitals/options.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "agent/base/listen_address.h"
#include "agent/root/options_table.h"
#include "tests/support/fakes.h"
#include "tests/support/process.h"
#include "tests/support/sockets.h"
#include "vitals/agent.h"

namespace {

vitals::EnvLookup Env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST_CASE("every option can be set from its VITALS_ variable", "[options]") {
  vitals::Options o;
  REQUIRE(vitals::ApplyEnvironment(o, Env({{"VITALS_LISTEN", "127.0.0.1:0"},
                                           {"VITALS_HTTP_THREADS", "3"},
                                           {"VITALS_HTTP_REQUEST_TIMEOUT", "750ms"},
                                           {"VITALS_GZIP", "false"},
                                           {"VITALS_REQUEST_DURATION_BUCKETS", "0.01, 0.1,1"},
                                           {"VITALS_SLOW_REQUEST_THRESHOLD", "0.25"},
                                           {"VITALS_SERIES_LIMIT", "10"},
                                           {"VITALS_LOG_LINES_PER_SECOND", "5"},
                                           {"VITALS_LOG_BURST", "2"},
                                           {"VITALS_FAST_CLOCK", "off"},
                                           {"VITALS_PROCESS_METRICS", "no"},
                                           {"VITALS_HEAP_METRICS", "0"},
                                           {"VITALS_SAMPLE_INTERVAL", "2s"},
                                           {"VITALS_HEAP_GROWTH_WINDOW", "30m"},
                                           {"VITALS_MEMORY_LOG_INTERVAL", "1m"},
                                           {"VITALS_PROC_ROOT", "/host/proc"},
                                           {"VITALS_HTTP_ENABLED", "false"},
                                           {"VITALS_PUSHGATEWAY_URL", "http://gw:9091"},
                                           {"VITALS_JOB", "nightly"},
                                           {"VITALS_PUSH_GROUPING", "instance=b-7, shard=3"},
                                           {"VITALS_PUSH_INTERVAL", "30s"},
                                           {"VITALS_PUSH_TIMEOUT", "2s"},
                                           {"VITALS_PUSH_DELETE_ON_STOP", "yes"},
                                           {"VITALS_N_PLUS_ONE_THRESHOLD", "7"},
                                           {"VITALS_PROFILING", "1"},
                                           {"VITALS_PROFILE_MAX_DURATION", "30s"},
                                           {"VITALS_PROFILING_BASIC_AUTH", "u:p"},
                                           {"VITALS_AUTO_PROFILE", "true"},
                                           {"VITALS_AUTO_PROFILE_SLOW_REQUESTS", "8"},
                                           {"VITALS_AUTO_PROFILE_DURATION", "20s"},
                                           {"VITALS_AUTO_PROFILE_COOLDOWN", "1h"},
                                           {"VITALS_AUTO_PROFILE_KEEP", "3"},
                                           {"VITALS_HTTP_HEADER_TIMEOUT", "2s"},
                                           {"VITALS_HTTP_MAX_CONNECTIONS", "64"},
                                           {"VITALS_TLS_CERT_FILE", " /etc/tls/c.pem "},
                                           {"VITALS_TLS_KEY_FILE", "/etc/tls/k.pem"},
                                           {"VITALS_TLS_CLIENT_CA_FILE", "/etc/tls/ca.pem"},
                                           {"VITALS_METRICS_BASIC_AUTH", "prom:pw"}}))
              .ok());
  CHECK(o.listen == "127.0.0.1:0");
  CHECK(o.http_threads == 3);
  CHECK(o.http_request_timeout == absl::Milliseconds(750));
  CHECK_FALSE(o.gzip);
  CHECK(o.request_duration_buckets == std::vector<double>{0.01, 0.1, 1});
  CHECK(o.slow_request_threshold == absl::Milliseconds(250));
  CHECK(o.series_limit == 10);
  CHECK(o.log_lines_per_second == 5);
  CHECK(o.log_burst == 2);
  CHECK_FALSE(o.fast_clock);
  CHECK_FALSE(o.process_metrics);
  CHECK_FALSE(o.heap_metrics);
  CHECK(o.sample_interval == absl::Seconds(2));
  CHECK(o.heap_growth_window == absl::Minutes(30));
  CHECK(o.memory_log_interval == absl::Minutes(1));
  CHECK(o.proc_root == "/host/proc");
  CHECK_FALSE(o.http_enabled);
  CHECK(o.pushgateway_url == "http://gw:9091");
  CHECK(o.job == "nightly");
  CHECK(o.push_grouping == std::map<std::string, std::string>{{"instance", "b-7"}, {"shard", "3"}});
  CHECK(o.push_interval == absl::Seconds(30));
  CHECK(o.push_timeout == absl::Seconds(2));
  CHECK(o.push_delete_on_stop);
  CHECK(o.n_plus_one_threshold == 7);
  CHECK(o.profiling);
  CHECK(o.profile_max_duration == absl::Seconds(30));
  CHECK(o.profiling_basic_auth == "u:p");
  CHECK(o.auto_profile);
  CHECK(o.auto_profile_slow_requests == 8);
  CHECK(o.auto_profile_duration == absl::Seconds(20));
  CHECK(o.auto_profile_cooldown == absl::Hours(1));
  CHECK(o.auto_profile_keep == 3);
  CHECK(o.http_header_timeout == absl::Seconds(2));
  CHECK(o.http_max_connections == 64);
  CHECK(o.tls_cert_file == "/etc/tls/c.pem");
  CHECK(o.tls_key_file == "/etc/tls/k.pem");
  CHECK(o.tls_client_ca_file == "/etc/tls/ca.pem");
  CHECK(o.metrics_basic_auth == "prom:pw");
  CHECK(vitals::ValidateOptions(o).ok());
}

TEST_CASE("endpoint options are range-checked", "[options]") {
  auto invalid = [](auto mutate) {
    vitals::Options o;
    mutate(o);
    return vitals::ValidateOptions(o).code() == absl::StatusCode::kInvalidArgument;
  };
  CHECK(invalid([](vitals::Options& o) { o.http_header_timeout = absl::Milliseconds(1); }));
  CHECK(invalid([](vitals::Options& o) { o.http_header_timeout = absl::Minutes(6); }));
  CHECK(invalid([](vitals::Options& o) { o.http_request_timeout = absl::Milliseconds(1); }));
  CHECK(invalid([](vitals::Options& o) { o.http_max_connections = 15; }));
  CHECK(invalid([](vitals::Options& o) { o.tls_cert_file = "c.pem"; }));  // no key
  CHECK(invalid([](vitals::Options& o) { o.tls_key_file = "k.pem"; }));   // no certificate
  CHECK(invalid([](vitals::Options& o) { o.tls_client_ca_file = "ca.pem"; }));
  CHECK(invalid([](vitals::Options& o) { o.metrics_basic_auth = "no-colon"; }));
  CHECK(invalid([](vitals::Options& o) { o.metrics_basic_auth = ":pw"; }));
  vitals::Options ok;
  ok.http_max_connections = 16;
  ok.metrics_basic_auth = "u:";
  CHECK(vitals::ValidateOptions(ok).ok());
  vitals::Options bad;
  CHECK(vitals::ApplyEnvironment(bad, Env({{"VITALS_HTTP_MAX_CONNECTIONS", "2"}})).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("push options are checked", "[options]") {
  vitals::Options o;
  o.pushgateway_url = "gw:9091";
  CHECK(vitals::ValidateOptions(o).message() ==
        "option pushgateway_url: \"gw:9091\" is not an http:// or https:// URL");
  o = vitals::Options();
  o.push_grouping = {{"job", "x"}};
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
  o = vitals::Options();
  o.push_interval = absl::Milliseconds(5);
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
  o.push_interval = absl::ZeroDuration();
  CHECK(vitals::ValidateOptions(o).ok());
  o.push_timeout = absl::Hours(1);
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
  vitals::Options env;
  CHECK(absl::IsInvalidArgument(vitals::ApplyEnvironment(env, [](const char* n) -> const char* {
    return std::string(n) == "VITALS_PUSH_GROUPING" ? "instance" : nullptr;
  })));
}

TEST_CASE("sampling options are range-checked", "[options]") {
  vitals::Options o;
  CHECK(vitals::ValidateOptions(o).ok());
  CHECK(o.sample_interval == absl::Seconds(15));  // the documented default
  o.sample_interval = absl::Milliseconds(1);
  CHECK(vitals::ValidateOptions(o).message() == "option sample_interval: 1ms is not in 10ms..1h");
  o = vitals::Options();
  o.heap_growth_window = absl::Hours(48);
  CHECK(vitals::ValidateOptions(o).message() == "option heap_growth_window: 48h is not in 1s..24h");
  o = vitals::Options();
  o.memory_log_interval = absl::Seconds(-1);
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
  o = vitals::Options();
  o.proc_root = "";
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
}

TEST_CASE("automatic profiles need profiling and fit in its longest profile", "[options]") {
  vitals::Options o;
  CHECK_FALSE(o.auto_profile);  // off by default
  CHECK(o.auto_profile_slow_requests == 5);
  CHECK(o.auto_profile_duration == absl::Seconds(10));
  CHECK(o.auto_profile_cooldown == absl::Minutes(10));
  CHECK(o.auto_profile_keep == 5);
  o.auto_profile = true;
  CHECK(vitals::ValidateOptions(o).message() ==
        "option auto_profile: needs profiling on (VITALS_PROFILING=1)");
  o.profiling = true;
  CHECK(vitals::ValidateOptions(o).ok());
  o.auto_profile_duration = absl::Seconds(61);  // profile_max_duration is 60 s
  CHECK(vitals::ValidateOptions(o).message() ==
        "option auto_profile_duration: 1m1s is longer than profile_max_duration (1m)");
  o.auto_profile_duration = absl::Seconds(10);
  o.auto_profile_slow_requests = 0;
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
  o.auto_profile_slow_requests = 1001;
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
  o.auto_profile_slow_requests = 5;
  o.auto_profile_keep = 0;
  CHECK(absl::IsInvalidArgument(vitals::ValidateOptions(o)));
  // From the environment, the error names the variable.
  vitals::Options env;
  const absl::Status s = vitals::ApplyEnvironment(env, Env({{"VITALS_AUTO_PROFILE", "1"}}));
  CHECK(s.message() ==
        "VITALS_AUTO_PROFILE=\"1\": option auto_profile: needs profiling on "
        "(VITALS_PROFILING=1)");
  CHECK(
      vitals::ApplyEnvironment(env, Env({{"VITALS_PROFILING", "1"}, {"VITALS_AUTO_PROFILE", "1"}}))
          .ok());
  // An agent asked for them without profiling says so, and runs without them.
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options code;
  code.read_environment = false;
  code.http_enabled = false;
  code.auto_profile = true;
  code.log_sink = sink;
  vitals::Agent agent(code);
  CHECK(agent.Start().ok());
  CHECK_FALSE(agent.options().auto_profile);
  REQUIRE(sink->lines().size() == 1);
  CHECK(sink->lines()[0] ==
        "WARNING option auto_profile: needs profiling on (VITALS_PROFILING=1); using false");
}

TEST_CASE("a bad variable is an error naming it, and changes nothing", "[options]") {
  const std::map<std::string, std::string> bad[] = {
      {{"VITALS_HTTP_THREADS", "many"}},
      {{"VITALS_HTTP_THREADS", "0"}},
      {{"VITALS_SLOW_REQUEST_THRESHOLD", "soon"}},
      {{"VITALS_REQUEST_DURATION_BUCKETS", "1,0.5"}},
      {{"VITALS_REQUEST_DURATION_BUCKETS", "a,b"}},
      {{"VITALS_SERIES_LIMIT", "-4"}},
      {{"VITALS_GZIP", "maybe"}},
      {{"VITALS_SAMPLE_INTERVAL", "often"}},
      {{"VITALS_HEAP_METRICS", "sometimes"}},
  };
  for (const auto& vars : bad) {
    vitals::Options o;
    const vitals::Options before = o;
    absl::Status s = vitals::ApplyEnvironment(o, Env(vars));
    INFO(s.ToString());
    REQUIRE_FALSE(s.ok());
    CHECK(std::string(s.message()).find(vars.begin()->first) != std::string::npos);
    CHECK(o.http_threads == before.http_threads);
    CHECK(o.series_limit == before.series_limit);
  }
}

TEST_CASE("listen addresses", "[options]") {
  using vitals::internal::ParseListenAddress;
  auto a = ParseListenAddress("0.0.0.0:9464");
  REQUIRE(a.ok());
  CHECK(a->host == "0.0.0.0");
  CHECK(a->port == 9464);
  auto b = ParseListenAddress("[::1]:0");
  REQUIRE(b.ok());
  CHECK(b->ipv6);
  CHECK(b->host == "::1");
  auto c = ParseListenAddress(":80");
  REQUIRE(c.ok());
  CHECK(c->host == "0.0.0.0");
  CHECK(ParseListenAddress("localhost:1")->host == "127.0.0.1");
  // The one "is loopback": every 127/8 address, ::1, 127.x mapped into IPv6, and localhost.
  using vitals::internal::IsLoopbackHost;
  for (const char* yes : {"127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1", "localhost"}) {
    INFO(yes);
    CHECK(IsLoopbackHost(yes));
  }
  for (const char* no :
       {"0.0.0.0", "10.0.0.1", "128.0.0.1", "::", "::2", "::ffff:10.0.0.1", "example.com", ""}) {
    INFO(no);
    CHECK_FALSE(IsLoopbackHost(no));
  }
  CHECK(ParseListenAddress("[::ffff:127.0.0.1]:9464")->loopback());
  CHECK_FALSE(ParseListenAddress(":9464")->loopback());
  // A bare port, as exporters' flags are often given: every IPv4 interface.
  auto d = ParseListenAddress("9464");
  REQUIRE(d.ok());
  CHECK(d->host == "0.0.0.0");
  CHECK(d->port == 9464);
  for (const char* bad :
       {"", "99999", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:80x",
        "example.com:80", "::1:80", "[::1]80", "[::1:80", "300.1.1.1:80"}) {
    auto r = ParseListenAddress(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(r.status().message()).find(bad) != std::string::npos);
  }
}

TEST_CASE("an agent given a bad option still records, and Start says what is wrong", "[options]") {
  vitals::Options o;
  o.read_environment = false;
  o.listen = "not an address";
  vitals::Agent agent(o);
  absl::Status s = agent.Start();
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("not an address") != std::string::npos);
  agent.Record("GET", "/x", 200, absl::Milliseconds(3));
  CHECK(agent.RenderText().find("http_route=\"/x\"") != std::string::npos);
  CHECK(agent.port() == 0);
}

// Sets VITALS_* variables for the life of the object (the agent reads the real environment).
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const std::string, std::string>> vars) : vars_(vars) {
    for (const auto& [name, value] : vars_) setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& entry : vars_) unsetenv(entry.first.c_str());
  }

 private:
  std::map<std::string, std::string> vars_;
};

// An agent that reads the environment, logs into `sink`, and serves on `listen`.
vitals::Options EnvOptions(std::shared_ptr<vitals_test::CapturingSink> sink) {
  vitals::Options o;
  o.log_sink = std::move(sink);
  o.listen = "127.0.0.1:0";
  o.process_metrics = false;
  return o;
}

int CountContaining(const std::vector<std::string>& lines, const std::string& text) {
  int n = 0;
  for (const std::string& l : lines) n += l.find(text) != std::string::npos;
  return n;
}

TEST_CASE(
    "a malformed optional variable is one warning with its value and the value used, and "
    "the agent serves",
    "[options]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  ScopedEnv env({{"VITALS_LOG_LINES_PER_SECOND", "0"},
                 {"VITALS_SERIES_LIMIT", "lots"},
                 {"VITALS_SLOW_REQUEST_THRESHOLD", "soon"},
                 {"VITALS_GZIP", "maybe"},
                 {"VITALS_HTTP_THREADS", "8"}});  // a good one among them is applied
  vitals::Options o = EnvOptions(sink);
  o.slow_request_threshold = absl::Milliseconds(250);
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  CHECK(agent.port() > 0);
  CHECK(agent.options().http_threads == 8);
  CHECK(agent.options().log_lines_per_second == 1);
  CHECK(agent.options().series_limit == 2000);
  CHECK(agent.options().slow_request_threshold == absl::Milliseconds(250));
  CHECK(agent.options().gzip);
  const std::vector<std::string> lines = sink->lines();
  INFO(absl::StrJoin(lines, "\n"));
  CHECK(CountContaining(lines, "WARNING VITALS_LOG_LINES_PER_SECOND=\"0\"") == 1);
  CHECK(CountContaining(lines,
                        "VITALS_LOG_LINES_PER_SECOND=\"0\": option log_lines_per_second: "
                        "must be positive; using 1 (the default)") == 1);
  CHECK(CountContaining(lines, "VITALS_SERIES_LIMIT=\"lots\"") == 1);
  CHECK(CountContaining(lines, "; using 2000 (the default)") == 1);
  CHECK(CountContaining(lines, "VITALS_SLOW_REQUEST_THRESHOLD=\"soon\"") == 1);
  CHECK(CountContaining(lines, "; using 250ms (the value in code)") == 1);
  CHECK(CountContaining(lines, "VITALS_GZIP=\"maybe\"") == 1);
  CHECK(CountContaining(lines, "VITALS_HTTP_THREADS") == 0);
  // /metrics answers: the service did not lose its metrics over them.
  const std::string answer =
      vitals_test::RawExchange(agent.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(vitals_test::StatusOf(answer) == 200);
}

TEST_CASE("a bad option in code is a warning and its default, not a failed Start", "[options]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o = EnvOptions(sink);
  o.read_environment = false;
  o.series_limit = 0;
  o.sample_interval = absl::ZeroDuration();
  o.auto_profile = true;  // without profiling
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  CHECK(agent.options().series_limit == 2000);
  CHECK(agent.options().sample_interval == absl::Seconds(15));
  CHECK_FALSE(agent.options().auto_profile);
  const std::vector<std::string> lines = sink->lines();
  INFO(absl::StrJoin(lines, "\n"));
  CHECK(CountContaining(lines, "option series_limit: 0 is not in 1..1000000; using 2000") == 1);
  CHECK(CountContaining(lines, "option sample_interval: 0 is not in 10ms..1h; using 15s") == 1);
  CHECK(CountContaining(lines, "option auto_profile: needs profiling on") == 1);
}

TEST_CASE("VITALS_LISTEN takes a bare port and :port, as exporters' flags do", "[options]") {
  for (const std::string prefix : {"", ":"}) {
    const int port = vitals_test::FreePort();
    ScopedEnv env({{"VITALS_LISTEN", prefix + std::to_string(port)}});
    vitals::Agent agent(EnvOptions(std::make_shared<vitals_test::CapturingSink>()));
    REQUIRE(agent.Start().ok());
    CHECK(agent.port() == port);
  }
}

TEST_CASE("an address that cannot be used fails Start with a message naming it", "[options]") {
  {
    ScopedEnv env({{"VITALS_LISTEN", "not an address"}});
    vitals::Agent agent(EnvOptions(std::make_shared<vitals_test::CapturingSink>()));
    absl::Status s = agent.Start();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).find("VITALS_LISTEN=\"not an address\"") != std::string::npos);
    // It still records: nothing else was lost.
    agent.Record("GET", "/x", 200, absl::Milliseconds(3));
    CHECK(agent.RenderText().find("http_route=\"/x\"") != std::string::npos);
  }
  {
    // Well formed, but not an address of this host (TEST-NET-1, RFC 5737).
    ScopedEnv env({{"VITALS_LISTEN", "192.0.2.1:9464"}});
    vitals::Agent agent(EnvOptions(std::make_shared<vitals_test::CapturingSink>()));
    absl::Status s = agent.Start();
    CHECK(s.code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(s.message()).find("192.0.2.1:9464") != std::string::npos);
  }
  {
    // Credentials and TLS never fall back to "none".
    ScopedEnv env({{"VITALS_METRICS_BASIC_AUTH", "nocolon"}});
    vitals::Agent agent(EnvOptions(std::make_shared<vitals_test::CapturingSink>()));
    absl::Status s = agent.Start();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).find("VITALS_METRICS_BASIC_AUTH") != std::string::npos);
    CHECK(std::string(s.message()).find("nocolon") == std::string::npos);  // a secret
  }
}

TEST_CASE("an unknown VITALS_ variable is one warning naming the closest known one", "[options]") {
  using vitals::internal::UnknownVariableWarnings;
  const std::vector<std::string> w = UnknownVariableWarnings(
      {"VITALS_SLOW_REQUST_THRESHOLD", "VITALS_LISTEN", "VITALS_SERIESLIMIT", "VITALS_ZZZ"});
  REQUIRE(w.size() == 3);
  CHECK(w[0] ==
        "the environment variable VITALS_SLOW_REQUST_THRESHOLD is not a vitals option and is "
        "ignored; did you mean VITALS_SLOW_REQUEST_THRESHOLD?");
  CHECK(w[1].find("did you mean VITALS_SERIES_LIMIT?") != std::string::npos);
  CHECK(w[2] == "the environment variable VITALS_ZZZ is not a vitals option and is ignored");

  // And an agent reading the environment logs it once.
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  ScopedEnv env({{"VITALS_SLOW_REQUST_THRESHOLD", "250ms"}});
  vitals::Agent agent(EnvOptions(sink));
  REQUIRE(agent.Start().ok());
  CHECK(CountContaining(sink->lines(), "did you mean VITALS_SLOW_REQUEST_THRESHOLD?") == 1);
  CHECK(agent.options().slow_request_threshold == absl::Seconds(1));
}

}  // namespace
