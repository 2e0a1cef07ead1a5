#include "agent/core/native_histogram.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

namespace vitals {
namespace internal {
namespace {

// Bucket index of cell `k` of `layout` (k >= 1).
int32_t IndexOf(const NativeLayout& layout, uint32_t k) {
  return layout.first_index + static_cast<int32_t>(k) - 1;
}

TEST_CASE("native buckets: every value lands in the bucket whose bounds hold it", "[native]") {
  for (int schema = 0; schema <= kMaxNativeSchema; ++schema) {
    auto layout = MakeNativeLayout("t", schema, 0x1p-20, 0x1p12, 160);
    if (!layout.ok()) {
      CHECK(schema > 4);  // finer schemas need more than 1,023 cells for this range
      continue;
    }
    INFO("schema " << schema);
    std::mt19937_64 rng(schema);
    std::uniform_real_distribution<double> log2v(-19.99, 11.99);
    for (int i = 0; i < 20000; ++i) {
      const double v = std::exp2(log2v(rng));
      const uint32_t k = NativeCell(*layout, v);
      REQUIRE(k >= 1);
      REQUIRE(k <= layout->buckets);
      const int32_t index = IndexOf(*layout, k);
      const double upper = NativeBucketUpperBound(schema, index);
      const double lower = NativeBucketUpperBound(schema, index - 1);
      INFO("v=" << v << " index=" << index << " (" << lower << ", " << upper << "]");
      REQUIRE(v <= upper * (1 + 1e-12));
      REQUIRE(v > lower * (1 - 1e-12));
    }
  }
}

TEST_CASE("native buckets: powers of two are upper bounds, the range's edges clamp", "[native]") {
  auto layout = MakeNativeLayout("t", 3, 0x1p-20, 0x1p12, 160);
  REQUIRE(layout.ok());
  CHECK(layout->zero_threshold == 0x1p-20);
  CHECK(layout->max == 0x1p12);
  CHECK(layout->buckets == 32 * 8);
  CHECK(layout->first_index == -20 * 8 + 1);
  // 1.0 is the upper bound of bucket 0; just above it is bucket 1.
  CHECK(IndexOf(*layout, NativeCell(*layout, 1.0)) == 0);
  CHECK(IndexOf(*layout, NativeCell(*layout, std::nextafter(1.0, 2.0))) == 1);
  CHECK(IndexOf(*layout, NativeCell(*layout, 0.5)) == -8);
  // The zero bucket: zero, the threshold itself, negatives; the top bucket above max.
  CHECK(NativeCell(*layout, 0.0) == 0);
  CHECK(NativeCell(*layout, 0x1p-20) == 0);
  CHECK(NativeCell(*layout, -5.0) == 0);
  CHECK(NativeCell(*layout, std::nextafter(0x1p-20, 1.0)) == 1);
  CHECK(NativeCell(*layout, 0x1p12) == layout->buckets);
  CHECK(NativeCell(*layout, 1e9) == layout->buckets);
  CHECK(NativeCell(*layout, INFINITY) == layout->buckets);
}

TEST_CASE("native layout: the range rounds outwards to powers of two, and bad specs fail",
          "[native]") {
  auto layout = MakeNativeLayout("t", 2, 3e-6, 100, 50);
  REQUIRE(layout.ok());
  CHECK(layout->zero_threshold == 0x1p-19);  // 1.9e-6 <= 3e-6
  CHECK(layout->max == 128);
  CHECK(layout->buckets == (7 + 19) * 4);
  CHECK_FALSE(MakeNativeLayout("t", 9, 1e-6, 1, 160).ok());
  CHECK_FALSE(MakeNativeLayout("t", -1, 1e-6, 1, 160).ok());
  CHECK_FALSE(MakeNativeLayout("t", 3, 0, 1, 160).ok());
  CHECK_FALSE(MakeNativeLayout("t", 3, 1, 1, 160).ok());
  CHECK_FALSE(MakeNativeLayout("t", 3, 1e-6, INFINITY, 160).ok());
  CHECK_FALSE(MakeNativeLayout("t", 3, 1e-6, 1, 0).ok());
  auto wide = MakeNativeLayout("t", 8, 1e-6, 1e6, 160);  // 40 powers of two x 256 > 1,023
  REQUIRE_FALSE(wide.ok());
  CHECK(wide.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(wide.status().message().find("1023") != absl::string_view::npos);
}

TEST_CASE("native buckets: past the bucket limit the schema drops and no count is lost",
          "[native]") {
  auto layout = MakeNativeLayout("t", 3, 0x1p-20, 0x1p12, 10);
  REQUIRE(layout.ok());
  std::vector<double> cells(layout->cells(), 0.0);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> log2v(-10, 2);
  double total = 0;
  for (int i = 0; i < 5000; ++i) {
    cells[NativeCell(*layout, std::exp2(log2v(rng)))] += 1;
    total += 1;
  }
  cells[0] = 7;  // zero bucket
  const NativeBuckets n = ReadNativeBuckets(*layout, cells.data());
  CHECK(n.buckets.size() <= 10);
  CHECK(n.schema < 3);
  CHECK(n.zero_count == 7);
  double sum = 0;
  for (size_t i = 0; i < n.buckets.size(); ++i) {
    sum += n.buckets[i].second;
    if (i > 0) CHECK(n.buckets[i].first > n.buckets[i - 1].first);
  }
  CHECK(sum == total);
  // Merged bucket bounds still hold their values: a value's bucket at the lower schema is the
  // one whose bounds contain it.
  const double v = 0.3;
  const int32_t fine = IndexOf(*layout, NativeCell(*layout, v));
  int32_t coarse = fine;
  for (int s = 3; s > n.schema; --s) coarse = (coarse + 1) >> 1;
  CHECK(v <= NativeBucketUpperBound(n.schema, coarse));
  CHECK(v > NativeBucketUpperBound(n.schema, coarse - 1));
}

TEST_CASE("native buckets: within the limit the schema stays and only non-empty buckets go",
          "[native]") {
  const NativeLayout& layout = DurationNativeLayout();
  std::vector<double> cells(layout.cells(), 0.0);
  cells[NativeCell(layout, 0.010)] += 3;
  cells[NativeCell(layout, 0.011)] += 1;
  cells[NativeCell(layout, 2.0)] += 2;
  const NativeBuckets n = ReadNativeBuckets(layout, cells.data());
  CHECK(n.schema == 3);
  CHECK(n.zero_threshold == 0x1p-20);
  REQUIRE(n.buckets.size() == 3);
  CHECK(n.buckets[0].second == 3);
  CHECK(n.buckets[1].second == 1);
  CHECK(n.buckets[2].first == 8);  // 2.0 = 2^(8/8)
  CHECK(n.buckets[2].second == 2);
}

TEST_CASE("native buckets at schema 3: a quantile read from them is within 5 percent", "[native]") {
  // The bucket's geometric middle as the estimate: the error bound the README states.
  const NativeLayout& layout = DurationNativeLayout();
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> latency(std::log(0.05), 1.0);
  std::vector<double> values, cells(layout.cells(), 0.0);
  for (int i = 0; i < 100000; ++i) {
    const double v = latency(rng);
    values.push_back(v);
    cells[NativeCell(layout, v)] += 1;
  }
  std::sort(values.begin(), values.end());
  const NativeBuckets n = ReadNativeBuckets(layout, cells.data());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double rank = q * static_cast<double>(values.size());
    const double exact = values[static_cast<size_t>(rank) - 1];
    double below = n.zero_count;
    double estimate = 0;
    for (const auto& [index, count] : n.buckets) {
      if (below + count >= rank) {
        estimate = std::sqrt(NativeBucketUpperBound(n.schema, index - 1) *
                             NativeBucketUpperBound(n.schema, index));
        break;
      }
      below += count;
    }
    INFO("q=" << q << " exact=" << exact << " estimate=" << estimate);
    CHECK(std::abs(estimate - exact) / exact < 0.05);
  }
}

}  // namespace
}  // namespace internal
}  // namespace vitals
