// Exemplars and native histograms in the expositions: OpenMetrics text carries exemplars (and a
// strict parser reads them), the protobuf format carries exemplars and native buckets (and
// protoc decodes them), the 0.0.4 text carries neither and stays promtool-clean.

#include <catch2/catch.hpp>
#include <cmath>
#include <regex>
#include <string>

#include "absl/time/clock.h"
#include "agent/root/agent_access.h"
#include "exporters/text_format.h"
#include "tests/support/fakes.h"
#include "tests/support/process.h"
#include "tests/support/protobuf_exposition.h"
#include "vitals/agent.h"

namespace {

using vitals::TraceContext;
using vitals::exporters::ExpositionFormat;

const TraceContext kA =
    TraceContext::FromHex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
const TraceContext kB =
    TraceContext::FromHex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
const TraceContext kC = TraceContext::FromHex("11111111111111112222222222222222");

std::string Render(vitals::Agent& agent, ExpositionFormat format) {
  std::string body;
  vitals::exporters::TextFormat text(nullptr);
  text.Render(vitals::internal::AgentAccess::Impl(agent).registry(), body, format);
  return body;
}

// The exemplar on the bucket line that starts with `series`, as "trace_id span_id value ts"
// (span_id "-" when absent); empty when the line has none.
std::string ExemplarOn(const std::string& body, const std::string& series) {
  const size_t at = body.find("\n" + series + " ");
  if (at == std::string::npos) return "no such line";
  const std::string line = body.substr(at + 1, body.find('\n', at + 1) - at - 1);
  static const std::regex kExemplar(
      R"re( # \{trace_id="([0-9a-f]{32})"(?:,span_id="([0-9a-f]{16})")?\} (\S+) (\d+\.\d{3})$)re");
  std::smatch m;
  if (!std::regex_search(line, m, kExemplar)) return "";
  return m[1].str() + " " + (m[2].matched ? m[2].str() : "-") + " " + m[3].str() + " " + m[4].str();
}

struct Fixture : vitals_test::ClockAndLog {};

TEST_CASE_METHOD(Fixture, "exemplars: traced requests mark their bucket in OpenMetrics only",
                 "[exemplars][openmetrics]") {
  vitals::Agent agent(Options());
  const vitals::RouteHandle route = agent.Route("GET", "/x");
  route.Record(200, absl::Milliseconds(3), kA);
  route.Record(200, absl::Milliseconds(4), kB);  // same bucket, too soon: A stays
  route.Record(200, absl::Milliseconds(40));     // untraced: nothing offered
  route.Record(200, absl::Milliseconds(2000), TraceContext::FromTraceparent("garbage"));
  {
    vitals::RequestScope scope(route);
    scope.set_trace(kC);
    clock.AdvanceMs(2000);  // the scope's own duration: 2 s, bucket le="2.5"
  }
  const std::string series =
      "http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_route=\"/"
      "x\",http_response_status_code=\"200\",le=";
  const std::string om = Render(agent, ExpositionFormat::kOpenMetrics);
  INFO(om.substr(om.find("http_server_request_duration_seconds_bucket"), 3000));
  const std::string first = ExemplarOn(om, series + "\"0.005\"}");
  REQUIRE(first.size() > 60);
  CHECK(first.rfind(kA.TraceIdHex() + " " + kA.SpanIdHex() + " 0.003 ", 0) == 0);
  // The exemplar's time is Unix time, now (the fake clock is converted at render time).
  const double ts = std::stod(first.substr(first.rfind(' ') + 1));
  CHECK(std::abs(ts - absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch())) < 60);
  CHECK(ExemplarOn(om, series + "\"0.05\"}").empty());  // the untraced 40 ms request
  CHECK(ExemplarOn(om, series + "\"2.5\"}").substr(0, 35) == kC.TraceIdHex() + " - ");
  CHECK(ExemplarOn(om, series + "\"+Inf\"}").empty());

  // 100 ms later a new trace replaces A.
  clock.AdvanceMs(100);
  route.Record(200, absl::Milliseconds(4), kB);
  CHECK(ExemplarOn(Render(agent, ExpositionFormat::kOpenMetrics), series + "\"0.005\"}")
            .substr(0, 32) == kB.TraceIdHex());

  // The 0.0.4 text has no exemplars; it stays clean for promtool.
  const std::string text = agent.RenderText();
  CHECK(text.find(" # {") == std::string::npos);
  vitals_test::TempDir dir;
  vitals_test::WriteFile(dir.path() + "/om.txt", om);
  vitals_test::WriteFile(dir.path() + "/text.txt", text);
  std::string out;
  CHECK(vitals_test::RunCommand("promtool check metrics < " + dir.path() + "/text.txt 2>&1",
                                &out) == 0);
  CHECK(out.empty());
  // A strict OpenMetrics parser (python3-prometheus-client) reads every exemplar.
  out.clear();
  const int rc = vitals_test::RunCommand(
      "/usr/bin/python3 -c '"
      "import sys\n"
      "from prometheus_client.openmetrics import parser\n"
      "for f in parser.text_string_to_metric_families(open(sys.argv[1]).read()):\n"
      "  for s in f.samples:\n"
      "    if s.exemplar: print(s.exemplar.labels[\"trace_id\"], s.exemplar.value)\n"
      "' " +
          dir.path() + "/om.txt 2>&1",
      &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find(kA.TraceIdHex() + " 0.003") != std::string::npos);
  CHECK(out.find(kC.TraceIdHex() + " 2") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "exemplars: off by option, the request metrics keep none",
                 "[exemplars]") {
  vitals::Options o = Options();
  o.exemplars = false;
  vitals::Agent agent(o);
  agent.Route("GET", "/x").Record(200, absl::Milliseconds(3), kA);
  CHECK(Render(agent, ExpositionFormat::kOpenMetrics).find(" # {") == std::string::npos);
}

TEST_CASE_METHOD(Fixture, "custom histograms: exemplars and native buckets on request",
                 "[exemplars][native][protobuf]") {
  vitals::Agent agent(Options());
  vitals::HistogramFeatures features;
  features.exemplars = true;
  features.native = true;
  auto family = agent.AddHistogram("job_seconds", "Jobs.", {0.1, 1, 10}, {}, features);
  REQUIRE(family.ok());
  const vitals::Histogram h = *family->WithLabels({});
  h.Observe(1.0, kA);  // native index 0 at schema 3; classic le="1"
  h.Observe(1.0);
  h.Observe(2.0);       // index 8
  h.Observe(0.0);       // the zero bucket
  h.Observe(20.0, kB);  // +Inf: carried in an explicit +Inf bucket
  CHECK(h.Count() == 5);

  // Asking again with other features is a different family: refused.
  CHECK(agent.AddHistogram("job_seconds", "Jobs.", {0.1, 1, 10}, {}).status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(agent.AddHistogram("job_seconds", "Jobs.", {0.1, 1, 10}, {}, features).ok());
  vitals::HistogramFeatures bad = features;
  bad.native_schema = 9;
  CHECK(agent.AddHistogram("other_seconds", "x", {1}, {}, bad).status().code() ==
        absl::StatusCode::kInvalidArgument);

  const std::string decoded =
      vitals_test::DecodeExposition(Render(agent, ExpositionFormat::kProtobuf), VITALS_SOURCE_DIR);
  const size_t at = decoded.find("name: \"job_seconds\"");
  REQUIRE(at != std::string::npos);
  const std::string job = decoded.substr(at, decoded.find("---", at) - at);
  INFO(job);
  CHECK(job.find("protoc failed") == std::string::npos);
  CHECK(job.find("    sample_count: 5\n    sample_sum: 24\n") != std::string::npos);
  CHECK(job.find("    bucket {\n      cumulative_count: 3\n      upper_bound: 1\n      exemplar {\n"
                 "        label {\n          name: \"trace_id\"\n          value: \"" +
                 kA.TraceIdHex() +
                 "\"\n        }\n        label {\n          name: \"span_id\"\n"
                 "          value: \"" +
                 kA.SpanIdHex() + "\"\n        }\n        value: 1\n") != std::string::npos);
  CHECK(
      job.find("    bucket {\n      cumulative_count: 5\n      upper_bound: inf\n      exemplar {\n"
               "        label {\n          name: \"trace_id\"\n          value: \"" +
               kB.TraceIdHex()) != std::string::npos);
  CHECK(job.find("    schema: 3\n    zero_threshold: 9.5367431640625e-07\n    zero_count: 1\n"
                 "    positive_span {\n      offset: 0\n      length: 1\n    }\n"
                 "    positive_span {\n      offset: 7\n      length: 1\n    }\n"
                 "    positive_span {\n      offset: 26\n      length: 1\n    }\n"
                 "    positive_delta: 2\n    positive_delta: -1\n    positive_delta: 0\n") !=
        std::string::npos);

  // OpenMetrics shows the same exemplars; the classic text is unchanged by native buckets.
  const std::string om = Render(agent, ExpositionFormat::kOpenMetrics);
  CHECK(om.find("job_seconds_bucket{le=\"1\"} 3 # {trace_id=\"" + kA.TraceIdHex()) !=
        std::string::npos);
  const std::string text = agent.RenderText();
  CHECK(text.find("job_seconds_bucket{le=\"+Inf\"} 5\n") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "native histograms for the built-in durations follow the option",
                 "[native][protobuf]") {
  vitals::Options o = Options();
  o.native_histograms = true;
  vitals::Agent agent(o);
  agent.Record("GET", "/x", 200, absl::Milliseconds(3));
  agent.RecordDbOperation("sqlite", "SELECT * FROM t WHERE id = 1", absl::Microseconds(300));
  const std::string decoded =
      vitals_test::DecodeExposition(Render(agent, ExpositionFormat::kProtobuf), VITALS_SOURCE_DIR);
  for (const char* name :
       {"http_server_request_duration_seconds", "db_client_operation_duration_seconds"}) {
    const size_t at = decoded.find(std::string("name: \"") + name + "\"");
    REQUIRE(at != std::string::npos);
    const std::string family = decoded.substr(at, decoded.find("---", at) - at);
    INFO(family);
    CHECK(family.find("    schema: 3\n    zero_threshold: 9.5367431640625e-07\n") !=
          std::string::npos);
    CHECK(family.find("    positive_delta: 1\n") != std::string::npos);
  }
  // Off (the default): no native fields, so Prometheus 2.40-2.44 keeps ingesting the classic
  // buckets (it drops them from a histogram that has native ones).
  vitals::Agent classic(Options());
  classic.Record("GET", "/x", 200, absl::Milliseconds(3));
  const std::string plain = vitals_test::DecodeExposition(
      Render(classic, ExpositionFormat::kProtobuf), VITALS_SOURCE_DIR);
  CHECK(plain.find("schema:") == std::string::npos);
  CHECK(plain.find("zero_threshold") == std::string::npos);
}

}  // namespace
