#include "exporters/text_format.h"

#include <catch2/catch.hpp>
#include <memory>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "tests/support/process.h"
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
