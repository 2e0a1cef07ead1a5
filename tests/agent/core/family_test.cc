#include "agent/core/family.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/label_table.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::CountLines;
using vitals_test::SampleValue;

vitals::Options Quiet(int limit = 2000) {
  vitals::Options o = vitals_test::QuietOptions();
  o.series_limit = limit;
  return o;
}

TEST_CASE("histogram bucket boundaries are inclusive upper bounds", "[family]") {
  vitals::Agent agent(Quiet());
  auto h = agent.AddHistogram("lat_seconds", "Latency.", {0.1, 0.5, 1})->WithLabels({});
  REQUIRE(h.ok());
  for (double v : {-1.0, 0.0, 0.1, 0.1000001, 0.5, 1.0, 1.0000001, 1e9}) h->Observe(v);
  h->Observe(std::nan(""));  // ignored
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "lat_seconds_bucket{le=\"0.1\"}") == 3);  // -1, 0, 0.1
  CHECK(SampleValue(body, "lat_seconds_bucket{le=\"0.5\"}") == 5);  // + 0.1000001, 0.5
  CHECK(SampleValue(body, "lat_seconds_bucket{le=\"1\"}") == 6);    // + 1.0
  CHECK(SampleValue(body, "lat_seconds_bucket{le=\"+Inf\"}") == 8);
  CHECK(SampleValue(body, "lat_seconds_count") == 8);
  CHECK(h->Count() == 8);
  CHECK(h->Sum() == Approx(-1 + 0 + 0.1 + 0.1000001 + 0.5 + 1 + 1.0000001 + 1e9));
}

TEST_CASE("every bucket search agrees with the linear one, for any bounds", "[family]") {
  // With and without the exponent index; bounds sparse, dense inside one power of two (the
  // binary search within a range), negative, tiny and huge; values on, between, below and
  // above the bounds, zeros, subnormals and infinities.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> bound_sets;
  for (uint32_t n = 1; n <= 40; ++n) {
    std::vector<double> bounds;
    for (uint32_t i = 1; i <= n; ++i) bounds.push_back(i * 0.25);
    bound_sets.push_back(bounds);
  }
  bound_sets.push_back({0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10});
  bound_sets.push_back({-10, -1, -0.5, 0, 1e-310, 1e-300, 0.5, 1e300});
  std::vector<double> dense;  // 600 bounds in [512, 1024)
  for (int i = 0; i < 600; ++i) dense.push_back(512 + i * 0.8);
  bound_sets.push_back(dense);
  for (const auto& bounds : bound_sets) {
    const std::vector<uint16_t> index = vitals::internal::BucketExponentIndex(bounds);
    REQUIRE(index.size() == vitals::internal::kExponentIndexSize);
    std::vector<double> values = {-inf, inf, -0.0, 0.0, 1e-320, 1e-310, 1e-300, -1e300, 1e300};
    for (double v = -12; v < 12; v += 0.125) values.push_back(v);
    for (double b : bounds) {
      values.push_back(b);
      values.push_back(std::nextafter(b, inf));
      values.push_back(std::nextafter(b, -inf));
    }
    const auto n = static_cast<uint32_t>(bounds.size());
    for (double v : values) {
      uint32_t expect = 0;
      while (expect < n && v > bounds[expect]) ++expect;
      INFO(n << " bounds from " << bounds[0] << ", value " << v);
      REQUIRE(vitals::internal::BucketIndex(bounds.data(), n, v, index.data()) == expect);
      REQUIRE(vitals::internal::BucketIndex(bounds.data(), n, v) == expect);
    }
  }
}

TEST_CASE("past the series limit label sets fold into one overflow series, totals exact",
          "[family]") {
  vitals::Agent agent(Quiet(3));
  auto family = agent.AddCounter("hits_total", "Hits.", {"path"});
  REQUIRE(family.ok());
  double total = 0;
  for (int i = 0; i < 10; ++i) {
    auto c = family->WithLabels({"/p" + std::to_string(i)});
    REQUIRE(c.ok());
    c->Increment(i + 1);
    total += i + 1;
  }
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "hits_total{") == 4);  // 3 real series + overflow
  double sum = 0;
  for (int i = 0; i < 3; ++i) {
    sum += SampleValue(body, "hits_total{path=\"/p" + std::to_string(i) + "\"}");
  }
  const double overflow = SampleValue(body, "hits_total{path=\"__overflow__\"}");
  CHECK(overflow == 4 + 5 + 6 + 7 + 8 + 9 + 10);
  CHECK(sum + overflow == total);
  CHECK(SampleValue(body, "vitals_series_overflow_total{metric=\"hits_total\"}") == 7);
  // An existing label set still resolves to its own series when the family is full.
  family->WithLabels({"/p1"})->Increment();
  CHECK(SampleValue(agent.RenderText(), "hits_total{path=\"/p1\"}") == 3);
}

TEST_CASE("the request metrics honour the series limit too", "[family]") {
  vitals::Agent agent(Quiet(5));
  for (int i = 0; i < 50; ++i) {
    agent.Record("GET", "/scan/" + std::to_string(i), 404, absl::Milliseconds(1));
  }
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "http_server_request_duration_seconds_count{") <= 6);
  double count = 0;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("http_server_request_duration_seconds_count{", 0) == 0) {
      count += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  CHECK(count == 50);
  CHECK(SampleValue(body,
                    "http_server_request_duration_seconds_count{http_request_method=\"__overflow__"
                    "\",http_route=\"__"
                    "overflow__\",http_response_status_code=\"__overflow__\"}") == 45);
  CHECK(SampleValue(body,
                    "vitals_series_overflow_total{metric=\"http_server_request_duration_"
                    "seconds\"}") == 45);
}

TEST_CASE("label values that repair to the same text share one series", "[family]") {
  vitals::Agent agent(Quiet());
  auto family = agent.AddCounter("odd_total", "Odd values.", {"v"});
  family->WithLabels({"a\xff"})->Increment();
  family->WithLabels({"a\xfe"})->Increment();
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "odd_total{") == 1);
  CHECK(SampleValue(body, "odd_total{v=\"a\xEF\xBF\xBD\"}") == 2);
}

TEST_CASE("wrong number of label values is an error, not a crash", "[family]") {
  vitals::Agent agent(Quiet());
  auto family = agent.AddCounter("two_total", "Two labels.", {"a", "b"});
  auto bad = family->WithLabels({"x"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(bad.status().message()).find("two_total") != std::string::npos);
  vitals::CounterFamily empty;
  CHECK_FALSE(empty.WithLabels({}).ok());
  vitals::Counter none;
  none.Increment();  // records nothing, does not crash
  CHECK(none.Value() == 0);
}

TEST_CASE("concurrent first lookups of the same label set create one series",
          "[family][concurrency]") {
  vitals::Agent agent(Quiet());
  auto family = agent.AddCounter("race_total", "Races.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) family->WithLabels({std::to_string(i % 50)})->Increment();
    });
  }
  for (auto& t : threads) t.join();
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "race_total{") == 50);
  double sum = 0;
  for (int i = 0; i < 50; ++i)
    sum += SampleValue(body, "race_total{k=\"" + std::to_string(i) + "\"}");
  CHECK(sum == 4000);
}

TEST_CASE("label values are kept cut at 1024 bytes, so long values cost no more", "[family]") {
  vitals::Agent agent(Quiet());
  auto family = agent.AddCounter("long_total", "Long values.", {"v"});
  REQUIRE(family.ok());
  const std::string a = std::string(100 * 1024, 'x') + "a";
  const std::string b = std::string(100 * 1024, 'x') + "b";  // equal in the first 1024 bytes
  family->WithLabels({a})->Increment();
  family->WithLabels({b})->Increment();
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "long_total{v=\"" + std::string(1024, 'x') + "\"}") == 2);
  CHECK(CountLines(body, "long_total{") == 1);
}

TEST_CASE("a user label set of all __overflow__ is the overflow series, never a twin of it",
          "[family]") {
  vitals::Agent agent(Quiet(2));
  auto family = agent.AddCounter("jobs_total", "Jobs.", {"queue", "kind"});
  REQUIRE(family.ok());
  family->WithLabels({"__overflow__", "__overflow__"})->Increment(5);  // a user's own value
  family->WithLabels({"a", "x"})->Increment();
  family->WithLabels({"b", "x"})->Increment();
  family->WithLabels({"c", "x"})->Increment();                // past the limit of 2
  family->WithLabels({"__overflow__", "real"})->Increment();  // one value only: an ordinary set
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "jobs_total{queue=\"__overflow__\",kind=\"__overflow__\"}") == 1);
  CHECK(SampleValue(body, "jobs_total{queue=\"__overflow__\",kind=\"__overflow__\"}") == 7);
  // A family without labels has one label set and no overflow twin of it.
  auto plain = agent.AddCounter("plain_total", "Plain.");
  plain->WithLabels({})->Increment();
  CHECK(CountLines(agent.RenderText(), "plain_total ") == 1);
}

TEST_CASE("a label table starts small and grows, and finds every entry after growing", "[family]") {
  vitals::internal::LabelTable<int> table(1000000);
  CHECK(table.capacity() <= 16);  // not 2M slots for a limit of 1M
  std::vector<std::string> keys;
  std::vector<int> values(5000);
  for (int i = 0; i < 5000; ++i) keys.push_back("key-" + std::to_string(i));
  for (int i = 0; i < 5000; ++i) {
    const absl::string_view k = keys[i];
    const uint64_t h = vitals::internal::HashLabelValues(absl::MakeConstSpan(&k, 1));
    REQUIRE(table.Insert(h, absl::MakeConstSpan(&k, 1), &values[i]));
  }
  CHECK(table.capacity() >= 10000);
  CHECK(table.capacity() <= 16384);
  for (int i = 0; i < 5000; ++i) {
    const absl::string_view k = keys[i];
    const uint64_t h = vitals::internal::HashLabelValues(absl::MakeConstSpan(&k, 1));
    REQUIRE(table.Find(h, absl::MakeConstSpan(&k, 1)) == &values[i]);
  }
}

TEST_CASE("readers find entries while the table grows under them", "[family][concurrency]") {
  vitals::Agent agent(Quiet(100000));
  auto family = agent.AddCounter("grow_total", "Growing.", {"k"});
  REQUIRE(family.ok());
  auto first = family->WithLabels({"first"});
  REQUIRE(first.ok());
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      auto again = family->WithLabels({"first"});  // lock-free lookup during every growth
      if (!again.ok()) break;
      again->Increment();
    }
  });
  for (int i = 0; i < 20000; ++i) family->WithLabels({std::to_string(i)})->Increment();
  stop.store(true);
  reader.join();
  CHECK(CountLines(agent.RenderText(), "grow_total{k=\"first\"}") == 1);
}

}  // namespace
