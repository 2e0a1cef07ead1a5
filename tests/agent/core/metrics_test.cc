// The custom-metric API as a user of another client expects it (issue 30): labels by name,
// one-expression handles and info metrics.

#include "vitals/metrics.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "agent/core/cell_store.h"
#include "agent/core/family.h"
#include "agent/core/series_reclaim.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "exporters/text_format.h"
#include "tests/support/agent_internals.h"
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

namespace {

using vitals_test::FamilyNamed;

TEST_CASE("a removed series leaves the exposition, and its handles record nothing",
          "[metrics][cells]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto family = agent.AddCounter("calls_total", "Calls.", {"peer"});
  REQUIRE(family.ok());
  vitals::Counter gone = *family->WithLabels({"10.0.0.1"});
  vitals::Counter kept = *family->WithLabels({"10.0.0.2"});
  gone.Increment(5);
  kept.Increment(7);
  REQUIRE(family->Remove({"10.0.0.1"}).ok());
  std::string body = agent.RenderText();
  CHECK(CountLines(body, "calls_total{peer=\"10.0.0.1\"}") == 0);
  CHECK(SampleValue(body, "calls_total{peer=\"10.0.0.2\"}") == 7);
  gone.Increment(100);  // safe, and without effect
  CHECK(gone.Value() == 0);
  CHECK(CountLines(agent.RenderText(), "calls_total{peer=\"10.0.0.1\"}") == 0);

  // The label set again: a new series from zero, which the old handle does not reach, even when
  // the new series reuses the old one's memory.
  vitals::Counter again = *family->WithLabels({{"peer", "10.0.0.1"}});
  again.Increment(1);
  gone.Increment(1000);
  body = agent.RenderText();
  CHECK(SampleValue(body, "calls_total{peer=\"10.0.0.1\"}") == 1);
  CHECK(again.Value() == 1);
  CHECK(gone.Value() == 0);

  // By name, and the errors.
  REQUIRE(family->Remove({{"peer", "10.0.0.1"}}).ok());
  CHECK(family->Remove({"10.0.0.1"}).code() == absl::StatusCode::kNotFound);
  CHECK(family->Remove({"a", "b"}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(family->Remove({{"host", "x"}}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(family->Remove({"__overflow__"}).code() == absl::StatusCode::kNotFound);
  // The agent's own families keep their series.
  auto builtin = agent.AddCounter("vitals_series_overflow_total", "x", {"metric"});
  REQUIRE(builtin.ok());
  CHECK(builtin->Remove({"calls_total"}).code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("gauges and histograms of removed series are safe too, Set and exemplars included",
          "[metrics][cells]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto gauges = agent.AddGauge("queue_depth", "Depth.", {"queue"});
  vitals::Gauge g = *gauges->WithLabels({"a"});
  g.Set(4);
  REQUIRE(gauges->Remove({"a"}).ok());
  g.Set(9);
  g.Add(1);
  CHECK(g.Value() == 0);
  vitals::Gauge fresh = *gauges->WithLabels({"a"});
  CHECK(fresh.Value() == 0);  // not 4, not 9
  g.Set(9);
  CHECK(fresh.Value() == 0);

  vitals::HistogramFeatures features;
  features.exemplars = true;
  features.native = true;
  auto histograms = agent.AddHistogram("step_seconds", "Step.", {0.01, 0.1}, {"step"}, features);
  REQUIRE(histograms.ok());
  vitals::Histogram h = *histograms->WithLabels({"parse"});
  h.Observe(0.05);
  REQUIRE(histograms->Remove({"parse"}).ok());
  const auto trace = vitals::TraceContext::FromHex("0af7651916cd43dd8448eb211c80319c");
  h.Observe(0.05, trace);
  h.Observe(0.5);
  CHECK(h.Count() == 0);
  vitals::Histogram next = *histograms->WithLabels({"parse"});
  h.Observe(0.05, trace);
  CHECK(next.Count() == 0);
  CHECK(next.Sum() == 0);
  next.Observe(0.005);
  const std::string om = RenderOpenMetrics(agent);
  CHECK(absl::StrContains(om, "step_seconds_count{step=\"parse\"} 1\n"));
  CHECK(!absl::StrContains(om, "0af7651916cd43dd8448eb211c80319c"));  // no stale exemplar
}

TEST_CASE("removal frees a place under the series limit, and overflow counts stay exact",
          "[metrics]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.series_limit = 2;
  vitals::Agent agent(o);
  auto family = agent.AddCounter("jobs_total", "Jobs.", {"id"});
  family->WithLabels({"a"})->Increment();
  family->WithLabels({"b"})->Increment();
  vitals::Counter folded = *family->WithLabels({"c"});  // past the limit: the overflow series
  folded.Increment(3);
  REQUIRE(family->Remove({"a"}).ok());
  vitals::Counter d = *family->WithLabels({"d"});  // a real series again
  d.Increment(2);
  CHECK(family->Remove({"c"}).code() == absl::StatusCode::kNotFound);  // "c" never had one
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "jobs_total{id=\"d\"}") == 2);
  CHECK(SampleValue(body, "jobs_total{id=\"b\"}") == 1);
  CHECK(SampleValue(body, "jobs_total{id=\"__overflow__\"}") == 3);
  CHECK(SampleValue(body, "vitals_series_overflow_total{metric=\"jobs_total\"}") == 1);
  CHECK(CountLines(body, "jobs_total{") == 3);
  // Full again: the next new label set folds, and is counted.
  family->WithLabels({"e"})->Increment();
  CHECK(SampleValue(agent.RenderText(), "vitals_series_overflow_total{metric=\"jobs_total\"}") ==
        2);
}

TEST_CASE("series that come and go reuse their memory", "[metrics][cells]") {
  std::string why;
  if (!vitals::internal::CanReuseRemovedSeries(&why)) {
    FAIL("this machine cannot reuse removed series: " << why);
  }
  vitals::Agent agent(vitals_test::QuietOptions());
  auto counters = agent.AddCounter("peer_calls_total", "Calls.", {"peer"});
  auto histograms = agent.AddHistogram("peer_call_seconds", "Calls.", {0.001, 0.01, 0.1}, {"peer"});
  vitals::internal::CellStore& store = vitals::internal::CellStore::Get();
  // Warm up: the first series take their chunk.
  for (int i = 0; i < 10; ++i) {
    const std::string peer = "warm" + std::to_string(i);
    counters->WithLabels({peer})->Increment();
    histograms->WithLabels({peer})->Observe(0.002);
  }
  const size_t chunks = store.chunk_count();
  for (int i = 0; i < 20000; ++i) {  // 20,000 distinct peers, at most 10 alive at once
    const std::string peer = "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    counters->WithLabels({peer})->Increment();
    histograms->WithLabels({peer})->Observe(0.002);
    if (i >= 10) {
      const std::string old =
          "10.1." + std::to_string((i - 10) / 256) + "." + std::to_string((i - 10) % 256);
      REQUIRE(counters->Remove({old}).ok());
      REQUIRE(histograms->Remove({old}).ok());
    }
  }
  // 20,000 series of 1 and 8 cells would take 176 chunks of 1,024 cells without reuse.
  CHECK(store.chunk_count() == chunks);
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "peer_calls_total{") == 20);  // 10 warm + the last 10
  vitals::internal::Family* family = FamilyNamed(agent, "peer_calls_total");
  REQUIRE(family != nullptr);
  CHECK(family->retiring_series() == 0);
  CHECK(family->reusable_series() <= 1);
}

TEST_CASE("writers racing removal: totals of live series stay exact, stale records vanish",
          "[metrics][concurrency][cells]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  auto counters = agent.AddCounter("race_total", "Race.", {"k"});
  auto histograms = agent.AddHistogram("race_seconds", "Race.", {0.5, 1}, {"k"});
  vitals::Counter keep = *counters->WithLabels({"keep"});
  vitals::Counter churn_stale = *counters->WithLabels({"churn"});
  vitals::Histogram hist_stale = *histograms->WithLabels({"churn"});
  constexpr int kWriters = 2;
  std::atomic<int> started{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> kept_records{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&] {
      int64_t mine = 0;
      started.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) {
        keep.Increment();
        ++mine;
        churn_stale.Increment();  // stale after the first removal: must never count again
        hist_stale.Observe(0.7);
      }
      kept_records.fetch_add(mine);
    });
  }
  std::thread scraper([&] {
    while (!stop.load()) agent.RenderText();
  });
  while (started.load() < kWriters) {
  }
  // Remove and re-create "churn" while the writers hammer their stale handles; each new
  // incarnation gets exactly one record from here, and the writers run until the last one is
  // made and checked.
  for (int i = 0; i < 300; ++i) {
    REQUIRE(counters->Remove({"churn"}).ok());
    REQUIRE(histograms->Remove({"churn"}).ok());
    vitals::Counter c = *counters->WithLabels({"churn"});
    vitals::Histogram h = *histograms->WithLabels({"churn"});
    c.Increment();
    h.Observe(0.1);
    if (i % 30 == 0) {
      // The incarnation holds its one record and nothing from the stale handles, which are
      // still writing.
      CHECK(c.Value() == 1);
      CHECK(h.Count() == 1);
    }
  }
  const std::string during = agent.RenderText();
  stop = true;
  for (auto& w : writers) w.join();
  scraper.join();
  // Incarnations reused a removed one's memory while the stale writers ran (most of them
  // with rseq; on the fallback a writer preempted inside its count defers some reuses).
  CHECK(FamilyNamed(agent, "race_total")->series_reused() > 10);
  CHECK(FamilyNamed(agent, "race_seconds")->series_reused() > 10);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(during, "race_total{k=\"churn\"}") == 1);
  CHECK(SampleValue(body, "race_total{k=\"churn\"}") == 1);
  CHECK(SampleValue(body, "race_seconds_count{k=\"churn\"}") == 1);
  CHECK(SampleValue(body, "race_seconds_bucket{k=\"churn\",le=\"0.5\"}") == 1);
  CHECK(SampleValue(body, "race_total{k=\"keep\"}") == kept_records.load());
  CHECK(keep.Value() == kept_records.load());
}

}  // namespace
