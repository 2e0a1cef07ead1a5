#include "exporters/text_format.h"

#include <catch2/catch.hpp>
#include <memory>

#include "agent/root/agent_access.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
#include "tests/support/protobuf_exposition.h"
#include "tests/support/sockets.h"
#include "vitals/agent.h"

namespace {

using vitals_test::CountLines;
using vitals_test::SampleValue;

// Runs the real `promtool check metrics` on `body`; returns its output, empty when clean.
std::string PromtoolProblems(const std::string& body) {
  vitals_test::TempDir dir;
  const std::string path = dir.path() + "/metrics.txt";
  vitals_test::WriteFile(path, body);
  std::string out;
  int rc = vitals_test::RunCommand("promtool check metrics < " + path, &out);
  if (rc != 0 && out.empty()) out = "promtool exited " + std::to_string(rc);
  return out;
}

TEST_CASE("hostile help text and label values still give a clean exposition", "[text]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto c = agent.AddCounter("hostile_total", "Help with \\ a backslash,\na newline and \xff junk.",
                            {"value"});
  REQUIRE(c.ok());
  for (const std::string v :
       {std::string("quote\"d"), std::string("back\\slash"), std::string("new\nline"),
        std::string("bad \xc3\x28 utf8"), std::string("nul\0byte", 8), std::string(3000, 'y'),
        std::string("}{,=\" le=\"1")}) {
    c->WithLabels({v})->Increment();
  }
  agent.Record("GET", "/weird\"route\\\n\xff", 200, absl::Milliseconds(5));
  const std::string body = agent.RenderText();
  CHECK(body.find("# HELP hostile_total Help with \\\\ a backslash,\\na newline") !=
        std::string::npos);
  CHECK(CountLines(body, "hostile_total{") == 7);
  CHECK(PromtoolProblems(body) == "");
}

TEST_CASE("a prometheus-cpp registry is served next to the agent's metrics", "[text]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto registry = std::make_shared<prometheus::Registry>();
  auto& legacy = prometheus::BuildCounter()
                     .Name("legacy_jobs_total")
                     .Help("Jobs counted by prometheus-cpp.")
                     .Register(*registry);
  legacy.Add({{"queue", "default"}}).Increment(3);
  auto& hist = prometheus::BuildHistogram()
                   .Name("legacy_latency_seconds")
                   .Help("A prometheus-cpp histogram.")
                   .Register(*registry);
  hist.Add({}, prometheus::Histogram::BucketBoundaries{0.1, 1}).Observe(0.5);
  // A clash with a built-in name must not produce a second HELP line.
  prometheus::BuildCounter()
      .Name("http_server_slow_requests_total")
      .Help("Clash.")
      .Register(*registry)
      .Add({})
      .Increment();
  REQUIRE(agent.RegisterCollectable(registry).ok());
  agent.Record("GET", "/x", 200, absl::Milliseconds(1));

  std::string body = agent.RenderText();
  CHECK(SampleValue(body, "legacy_jobs_total{queue=\"default\"}") == 3);
  CHECK(SampleValue(body, "legacy_latency_seconds_bucket{le=\"1\"}") == 1);
  CHECK(CountLines(body, "# HELP http_server_slow_requests_total") == 1);
  CHECK(PromtoolProblems(body) == "");

  registry.reset();  // held weakly: gone from the output, no crash
  body = agent.RenderText();
  CHECK(body.find("legacy_jobs_total") == std::string::npos);
  CHECK_FALSE(agent.RegisterCollectable(std::weak_ptr<prometheus::Collectable>()).ok());
}

TEST_CASE("every built-in family is present from the start, and the output is clean", "[text]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  const std::string body = agent.RenderText();
  for (const char* name : {"http_server_request_duration_seconds", "http_server_active_requests",
                           "http_server_slow_requests_total", "vitals_build_info",
                           "vitals_scrape_duration_seconds", "vitals_series_overflow_total"}) {
    CHECK(CountLines(body, std::string("# TYPE ") + name + " ") == 1);
  }
  CHECK(body.find("vitals_build_info{version=\"") != std::string::npos);
  CHECK(PromtoolProblems(body) == "");
}

}  // namespace

namespace {

using vitals::exporters::ExpositionFormat;
using vitals::exporters::NegotiateFormat;

TEST_CASE("the Accept header picks OpenMetrics or the 0.0.4 text", "[text][openmetrics]") {
  // What Prometheus 2.42 sends: OpenMetrics first.
  CHECK(NegotiateFormat("application/openmetrics-text;version=1.0.0,application/"
                        "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                        "*/*;q=0.1") == ExpositionFormat::kOpenMetrics);
  CHECK(NegotiateFormat("application/openmetrics-text") == ExpositionFormat::kOpenMetrics);
  CHECK(NegotiateFormat("Application/OpenMetrics-Text; version=0.0.1") ==
        ExpositionFormat::kOpenMetrics);
  // Everything else gets the text format, as before.
  CHECK(NegotiateFormat("") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("*/*") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("text/html,application/xhtml+xml,*/*;q=0.8") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("text/plain;version=0.0.4") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("application/openmetrics-text;version=2.0.0") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("application/openmetrics-text;q=0") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("application/openmetrics-text;q=0.4,text/plain;q=0.5") ==
        ExpositionFormat::kText);
  CHECK(NegotiateFormat("application/openmetrics-text;q=bad") == ExpositionFormat::kText);
}

TEST_CASE("OpenMetrics names counter families without _total, adds units and # EOF",
          "[text][openmetrics]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto jobs = agent.AddCounter("jobs_total", "Jobs \"done\".", {"queue"});
  REQUIRE(jobs.ok());
  jobs->WithLabels({"a"})->Increment(2);
  auto bare = agent.AddCounter("bare_counter", "A counter without the suffix.", {});
  REQUIRE(bare.ok());
  bare->WithLabels({})->Increment();
  auto queue = agent.AddGauge("queue_bytes", "Bytes queued.", {});
  REQUIRE(queue.ok());
  queue->WithLabels({})->Set(42);
  agent.Record("GET", "/x", 200, absl::Milliseconds(3));

  std::string body;
  vitals::exporters::TextFormat format(nullptr);
  format.Render(vitals::internal::AgentAccess::Impl(agent).registry(), body,
                ExpositionFormat::kOpenMetrics);
  CHECK(body.find("# HELP jobs Jobs \\\"done\\\".\n# TYPE jobs counter\n") != std::string::npos);
  CHECK(body.find("\njobs_total{queue=\"a\"} 2\n") != std::string::npos);
  CHECK(body.find("# TYPE bare_counter counter\n") != std::string::npos);
  CHECK(body.find("\nbare_counter_total 1\n") != std::string::npos);
  CHECK(body.find("# TYPE queue_bytes gauge\n# UNIT queue_bytes bytes\nqueue_bytes 42\n") !=
        std::string::npos);
  CHECK(body.find("# TYPE http_server_request_duration_seconds histogram\n"
                  "# UNIT http_server_request_duration_seconds seconds\n") != std::string::npos);
  CHECK(body.find("# TYPE http_server_slow_requests counter\n") != std::string::npos);
  CHECK(body.find("_total counter") == std::string::npos);
  CHECK(body.size() > 6);
  CHECK(body.substr(body.size() - 6) == "# EOF\n");
  CHECK(CountLines(body, "# EOF") == 1);

  // The 0.0.4 text is unchanged: names as given, no UNIT, no EOF.
  const std::string text = agent.RenderText();
  CHECK(text.find("# TYPE jobs_total counter\n") != std::string::npos);
  CHECK(text.find("\nbare_counter 1\n") != std::string::npos);
  CHECK(text.find("# UNIT") == std::string::npos);
  CHECK(text.find("# EOF") == std::string::npos);
}

TEST_CASE("/metrics answers in the format the Accept header asks for, gzipped or not",
          "[text][openmetrics]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.http_enabled = true;
  o.listen = "127.0.0.1:0";
  vitals::Agent agent(o);
  REQUIRE(agent.Start().ok());
  auto get = [&](const std::string& headers) {
    return vitals_test::RawExchange(agent.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n" + headers +
                                                      "Connection: close\r\n\r\n");
  };
  const std::string om = get("Accept: application/openmetrics-text;version=1.0.0\r\n");
  CHECK(om.find("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8") !=
        std::string::npos);
  CHECK(vitals_test::BodyOf(om).find("# EOF\n") != std::string::npos);
  const std::string text = get("Accept: */*\r\n");
  CHECK(text.find("Content-Type: text/plain; version=0.0.4; charset=utf-8") != std::string::npos);
  CHECK(vitals_test::BodyOf(text).find("# EOF") == std::string::npos);
  const std::string zipped =
      get("Accept: application/openmetrics-text\r\nAccept-Encoding: gzip\r\n");
  CHECK(zipped.find("Content-Encoding: gzip") != std::string::npos);
  CHECK(zipped.find("Content-Type: application/openmetrics-text") != std::string::npos);
  agent.Stop();
}

TEST_CASE(
    "the protobuf format is chosen when asked for first, as Prometheus does for native histograms",
    "[text][protobuf]") {
  // What Prometheus 2.42 sends with --enable-feature=native-histograms (captured).
  CHECK(NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                        "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                        "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;"
                        "version=0.0.4;q=0.5,*/*;q=0.1") == ExpositionFormat::kProtobuf);
  // Not the delimited MetricFamily stream: not this format.
  CHECK(NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                        "encoding=text") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("application/vnd.google.protobuf") == ExpositionFormat::kText);
  CHECK(NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                        "encoding=delimited;q=0.5,application/openmetrics-text") ==
        ExpositionFormat::kOpenMetrics);
}

TEST_CASE("the protobuf format decodes with protoc to the same families and values",
          "[text][protobuf]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto jobs = agent.AddCounter("jobs_total", "Jobs done.", {"queue"});
  REQUIRE(jobs.ok());
  jobs->WithLabels({"bad \xff utf8"})->Increment(2);
  auto lat = agent.AddHistogram("work_seconds", "Work.", {0.1, 1});
  REQUIRE(lat.ok());
  lat->WithLabels({})->Observe(0.05);
  lat->WithLabels({})->Observe(0.5);
  lat->WithLabels({})->Observe(5);
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("legacy_total")
      .Help("Old.")
      .Register(*registry)
      .Add({})
      .Increment(3);
  REQUIRE(agent.RegisterCollectable(registry).ok());

  std::string body;
  vitals::exporters::TextFormat format(nullptr);
  format.Render(vitals::internal::AgentAccess::Impl(agent).registry(), body,
                ExpositionFormat::kProtobuf);
  REQUIRE(vitals_test::Delimited(body).size() > 3);
  const std::string decoded = vitals_test::DecodeExposition(body, VITALS_SOURCE_DIR);
  CHECK(decoded.find("protoc failed") == std::string::npos);
  INFO(decoded.substr(0, 4000));
  CHECK(decoded.find("name: \"jobs_total\"\nhelp: \"Jobs done.\"\ntype: COUNTER\nmetric {\n"
                     "  label {\n    name: \"queue\"\n    value: \"bad \\357\\277\\275 utf8\"\n"
                     "  }\n  counter {\n    value: 2\n  }\n}") != std::string::npos);
  CHECK(decoded.find("name: \"work_seconds\"\nhelp: \"Work.\"\ntype: HISTOGRAM\nmetric {\n"
                     "  histogram {\n    sample_count: 3\n    sample_sum: 5.55\n"
                     "    bucket {\n      cumulative_count: 1\n      upper_bound: 0.1\n    }\n"
                     "    bucket {\n      cumulative_count: 2\n      upper_bound: 1\n    }\n") !=
        std::string::npos);
  CHECK(decoded.find("name: \"legacy_total\"") != std::string::npos);
  CHECK(decoded.find("name: \"http_server_request_duration_seconds\"") != std::string::npos);
}

}  // namespace
