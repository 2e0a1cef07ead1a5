#include "agent/core/names.h"

#include <catch2/catch.hpp>

#include "tests/support/fakes.h"
#include "vitals/agent.h"

namespace {

using namespace vitals::internal;

TEST_CASE("metric and label name syntax", "[names]") {
  CHECK(IsValidMetricName("http_requests_total"));
  CHECK(IsValidMetricName("ns:rate5m"));
  CHECK(IsValidMetricName("_x"));
  CHECK_FALSE(IsValidMetricName(""));
  CHECK_FALSE(IsValidMetricName("1abc"));
  CHECK_FALSE(IsValidMetricName("a-b"));
  CHECK_FALSE(IsValidMetricName("a b"));
  CHECK(IsValidLabelName("route"));
  CHECK_FALSE(IsValidLabelName("__name__"));
  CHECK_FALSE(IsValidLabelName("a:b"));
  CHECK_FALSE(IsValidLabelName("9"));
}

TEST_CASE("bad names give a Status that names the bad value", "[names]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto bad_name = agent.AddCounter("bad-name", "x");
  REQUIRE_FALSE(bad_name.ok());
  CHECK(bad_name.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(bad_name.status().message()).find("\"bad-name\"") != std::string::npos);

  auto binary = agent.AddCounter(std::string("a\0b\n", 4), "x");
  REQUIRE_FALSE(binary.ok());
  CHECK(std::string(binary.status().message()).find("\\x00") != std::string::npos);

  for (const char* reserved : {"le", "quantile"}) {
    auto s = agent.AddHistogram("h_seconds", "x", {1}, {reserved});
    REQUIRE_FALSE(s.ok());
    CHECK(std::string(s.status().message()).find(reserved) != std::string::npos);
  }
  auto dup = agent.AddGauge("g", "x", {"a", "a"});
  REQUIRE_FALSE(dup.ok());
  CHECK(std::string(dup.status().message()).find("twice") != std::string::npos);
  CHECK_FALSE(agent.AddGauge("g", "x", {"__reserved"}).ok());
}

TEST_CASE("a name is served once: clashes are AlreadyExists, identical asks are shared",
          "[names]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto a = agent.AddCounter("jobs_total", "Jobs.", {"kind"});
  auto b = agent.AddCounter("jobs_total", "Jobs.", {"kind"});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  a->WithLabels({"x"})->Increment();
  CHECK(b->WithLabels({"x"})->Value() == 1);

  auto other_labels = agent.AddCounter("jobs_total", "Jobs.", {"queue"});
  REQUIRE_FALSE(other_labels.ok());
  CHECK(other_labels.status().code() == absl::StatusCode::kAlreadyExists);

  REQUIRE(agent.AddHistogram("rpc_seconds", "RPC.", {0.1, 1}).ok());
  auto derived = agent.AddCounter("rpc_seconds_count", "Clash.");
  REQUIRE_FALSE(derived.ok());
  CHECK(std::string(derived.status().message()).find("rpc_seconds") != std::string::npos);

  auto builtin = agent.AddGauge("http_server_active_requests", "Mine.");
  CHECK(builtin.status().code() == absl::StatusCode::kAlreadyExists);

  auto buckets = agent.AddHistogram("bad_seconds", "x", {1, 0.5});
  CHECK(buckets.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(agent.AddHistogram("inf_seconds", "x", {1, INFINITY}).ok());
  CHECK_FALSE(agent.AddHistogram("none_seconds", "x", {}).ok());
}

TEST_CASE("names and label lists have length limits", "[names]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  CHECK(agent.AddCounter(std::string(255, 'a'), "Longest.").ok());
  auto too_long = agent.AddCounter(std::string(256, 'b'), "Too long.");
  CHECK(too_long.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(too_long.status().message()).find("255") != std::string::npos);
  CHECK(agent.AddCounter("c_total", "Label.", {std::string(256, 'l')}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  std::vector<std::string> labels;
  for (int i = 0; i < 33; ++i) labels.push_back("l" + std::to_string(i));
  CHECK(agent.AddCounter("d_total", "Many labels.", labels).status().code() ==
        absl::StatusCode::kInvalidArgument);
  labels.pop_back();
  CHECK(agent.AddCounter("e_total", "32 labels.", labels).ok());
  // Help text is kept and served cut at 4096 bytes.
  REQUIRE(agent.AddGauge("f", std::string(10000, 'h')).ok());
  const std::string body = agent.RenderText();
  CHECK(body.find("# HELP f " + std::string(4096, 'h') + "\n") != std::string::npos);
}

}  // namespace
