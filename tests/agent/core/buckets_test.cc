#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "vitals/agent.h"
#include "vitals/metrics.h"

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST_CASE("ExponentialBuckets multiplies from start, as client_golang's does", "[buckets]") {
  const auto b = vitals::ExponentialBuckets(0.0001, 2, 5);
  REQUIRE(b.ok());
  CHECK(*b == std::vector<double>{0.0001, 0.0002, 0.0004, 0.0008, 0.0016});
  CHECK(vitals::ExponentialBuckets(1, 10, 1)->size() == 1);
  CHECK(vitals::ExponentialBuckets(1, 1.5, 64)->size() == 64);
}

TEST_CASE("LinearBuckets adds the width, and bounds read as written without binary residue",
          "[buckets]") {
  const auto b = vitals::LinearBuckets(-1, 0.5, 5);
  REQUIRE(b.ok());
  CHECK(*b == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  // 0.1 is not exact in binary (3 * 0.1 is 0.30000000000000004): every bound is rounded to
  // 12 significant digits, so the page shows le="0.3" and le="6.3".
  const auto tenths = vitals::LinearBuckets(0, 0.1, 64);
  REQUIRE(tenths.ok());
  CHECK((*tenths)[3] == 0.3);
  CHECK((*tenths)[63] == 6.3);
  CHECK(*vitals::ExponentialBuckets(0.001, 10, 4) == std::vector<double>{0.001, 0.01, 0.1, 1});
}

TEST_CASE("ExponentialBucketsRange spans min to max exactly, evenly on a log scale", "[buckets]") {
  const auto b = vitals::ExponentialBucketsRange(0.00005, 10, 20);
  REQUIRE(b.ok());
  REQUIRE(b->size() == 20);
  CHECK(b->front() == 0.00005);
  CHECK(b->back() == 10);
  const double factor = (*b)[1] / (*b)[0];
  for (size_t i = 1; i < b->size(); ++i) CHECK((*b)[i] / (*b)[i - 1] == Approx(factor));
  CHECK(*vitals::ExponentialBucketsRange(1, 100, 3) == std::vector<double>{1, 10, 100});
  CHECK(*vitals::ExponentialBucketsRange(0.001, 1, 4) == std::vector<double>{0.001, 0.01, 0.1, 1});
  // A factor too close to 1 for 12 digits to tell the bounds apart is refused, not merged.
  CHECK(vitals::ExponentialBucketsRange(1, 1 + 1e-13, 3).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("bucket helpers refuse what no histogram could use, naming the helper", "[buckets]") {
  struct Bad {
    absl::StatusOr<std::vector<double>> got;
    const char* helper;
  };
  const Bad bad[] = {
      {vitals::ExponentialBuckets(0, 2, 5), "ExponentialBuckets"},
      {vitals::ExponentialBuckets(-1, 2, 5), "ExponentialBuckets"},
      {vitals::ExponentialBuckets(1, 1, 5), "ExponentialBuckets"},
      {vitals::ExponentialBuckets(1, kNaN, 5), "ExponentialBuckets"},
      {vitals::ExponentialBuckets(1, 2, 0), "ExponentialBuckets"},
      {vitals::ExponentialBuckets(1, 2, 65), "ExponentialBuckets"},
      {vitals::ExponentialBuckets(1e300, 1e10, 3), "ExponentialBuckets"},  // overflows to +Inf
      {vitals::LinearBuckets(0, 0, 5), "LinearBuckets"},
      {vitals::LinearBuckets(0, -1, 5), "LinearBuckets"},
      {vitals::LinearBuckets(kInf, 1, 5), "LinearBuckets"},
      {vitals::LinearBuckets(0, 1, -3), "LinearBuckets"},
      {vitals::LinearBuckets(1e308, 1e308, 3), "LinearBuckets"},  // overflows to +Inf
      {vitals::ExponentialBucketsRange(0, 10, 5), "ExponentialBucketsRange"},
      {vitals::ExponentialBucketsRange(10, 10, 5), "ExponentialBucketsRange"},
      {vitals::ExponentialBucketsRange(10, 1, 5), "ExponentialBucketsRange"},
      {vitals::ExponentialBucketsRange(1, kInf, 5), "ExponentialBucketsRange"},
      {vitals::ExponentialBucketsRange(1, 10, 1), "ExponentialBucketsRange"},
  };
  for (const Bad& b : bad) {
    INFO(b.got.status());
    CHECK(b.got.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(b.got.status().message().find(b.helper) != absl::string_view::npos);
  }
}

TEST_CASE("a helper's buckets make a histogram whose series has those bounds", "[buckets]") {
  vitals::Options o;
  o.read_environment = false;
  o.http_enabled = false;
  o.process_metrics = false;
  vitals::Agent agent(o);
  auto family =
      agent.AddHistogram("job_seconds", "Job time.", *vitals::ExponentialBucketsRange(0.001, 1, 4));
  REQUIRE(family.ok());
  family->WithLabels({})->Observe(0.05);
  const std::string body = agent.RenderText();
  CHECK(body.find("job_seconds_bucket{le=\"0.01\"} 0") != std::string::npos);
  CHECK(body.find("job_seconds_bucket{le=\"0.1\"} 1") != std::string::npos);
  CHECK(body.find("job_seconds_bucket{le=\"1\"} 1") != std::string::npos);
}

}  // namespace
