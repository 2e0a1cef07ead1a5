// The custom-metric API as a user of another client expects it (issue 30): labels by name,
// one-expression handles and info metrics.

#include "vitals/metrics.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "exporters/text_format.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::CountLines;
using vitals_test::SampleValue;

std::string RenderOpenMetrics(vitals::Agent& agent) {
  std::string body;
  vitals::exporters::TextFormat text(nullptr);
  text.Render(vitals::internal::AgentAccess::Impl(agent).registry(), body,
              vitals::exporters::ExpositionFormat::kOpenMetrics);
  return body;
}

TEST_CASE("labels by name find the positional series, in any order", "[metrics]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto family = agent.AddCounter("jobs_total", "Jobs.", {"queue", "result"});
  REQUIRE(family.ok());
  auto positional = family->WithLabels({"mail", "ok"});
  auto by_name = family->WithLabels({{"result", "ok"}, {"queue", "mail"}});
  REQUIRE(positional.ok());
  REQUIRE(by_name.ok());
  positional->Increment();
  by_name->Increment(2);
  CHECK(positional->Value() == 3);  // one series
  CHECK(SampleValue(agent.RenderText(), "jobs_total{queue=\"mail\",result=\"ok\"}") == 3);
}

TEST_CASE("labels by name are checked against the family's label names", "[metrics]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto family = agent.AddGauge("depth", "Depth.", {"queue", "shard"});
  REQUIRE(family.ok());
  auto unknown = family->WithLabels({{"queue", "a"}, {"shrd", "1"}});
  CHECK(unknown.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(unknown.status().message(), "\"shrd\" is not one of them"));
  auto twice = family->WithLabels({{"queue", "a"}, {"queue", "b"}});
  CHECK(absl::StrContains(twice.status().message(), "\"queue\" is given twice"));
  auto missing = family->WithLabels({{"queue", "a"}});
  CHECK(absl::StrContains(missing.status().message(), "\"shard\" is missing"));
  CHECK(absl::StrContains(missing.status().message(), "has labels [queue,shard]"));
  CHECK(CountLines(agent.RenderText(), "depth{") == 0);  // nothing was created
}

TEST_CASE("one expression gives a handle, and the same family however the names are ordered",
          "[metrics]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  absl::StatusOr<vitals::Counter> web =
      agent.GetCounter("orders_total", "Orders taken.", {{"channel", "web"}, {"region", "eu"}});
  REQUIRE(web.ok());
  web->Increment();
  auto again =
      agent.GetCounter("orders_total", "Orders taken.", {{"region", "eu"}, {"channel", "web"}});
  REQUIRE(again.ok());
  again->Increment();
  CHECK(web->Value() == 2);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "orders_total{channel=\"web\",region=\"eu\"}") == 2);

  // Another type, or other label names, under the same name is an error.
  CHECK(
      agent.GetGauge("orders_total", "x", {{"channel", "web"}, {"region", "eu"}}).status().code() ==
      absl::StatusCode::kAlreadyExists);
  CHECK(agent.GetCounter("orders_total", "x", {{"channel", "web"}}).status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(agent.GetCounter("bad name", "x").status().code() == absl::StatusCode::kInvalidArgument);

  auto depth = agent.GetGauge("queue_depth", "Depth.");
  REQUIRE(depth.ok());
  depth->Set(7);
  auto latency = agent.GetHistogram("step_seconds", "Step.", {0.001, 0.01}, {{"step", "parse"}});
  REQUIRE(latency.ok());
  latency->Observe(0.005);
  const std::string after = agent.RenderText();
  CHECK(SampleValue(after, "queue_depth") == 7);
  CHECK(SampleValue(after, "step_seconds_bucket{step=\"parse\",le=\"0.01\"}") == 1);
  CHECK(agent.GetHistogram("step_seconds", "Step.", {0.001, 0.02}, {{"step", "parse"}})
            .status()
            .code() == absl::StatusCode::kAlreadyExists);  // other buckets
}

TEST_CASE("an info metric is OpenMetrics' info type and a gauge of 1 in the text format",
          "[metrics]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  REQUIRE(
      agent.AddInfo("shop_build_info", "Build.", {{"version", "1.2.3"}, {"commit", "abc"}}).ok());
  REQUIRE(agent.AddInfo("shop_build_info", "Build.", {{"commit", "abc"}, {"version", "1.2.3"}})
              .ok());  // the same series
  const std::string text = agent.RenderText();
  CHECK(absl::StrContains(text, "# TYPE shop_build_info gauge\n"));
  CHECK(SampleValue(text, "shop_build_info{version=\"1.2.3\",commit=\"abc\"}") == 1);
  CHECK(CountLines(text, "shop_build_info{") == 1);

  auto om = RenderOpenMetrics(agent);
  CHECK(absl::StrContains(om, "# TYPE shop_build info\n"));
  CHECK(absl::StrContains(om, "# HELP shop_build Build.\n"));
  CHECK(absl::StrContains(om, "\nshop_build_info{version=\"1.2.3\",commit=\"abc\"} 1\n"));
  // The agent's own build info is one too.
  CHECK(absl::StrContains(om, "# TYPE vitals_build info\n"));

  CHECK(agent.AddInfo("shop_build", "x", {{"a", "b"}}).code() ==
        absl::StatusCode::kInvalidArgument);  // not ending in _info
  // The OpenMetrics family name of an info metric is taken.
  CHECK(agent.AddGauge("shop_build", "x").status().code() == absl::StatusCode::kAlreadyExists);
}

}  // namespace
