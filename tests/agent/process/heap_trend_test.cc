#include "agent/process/heap_trend.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace {

using vitals::internal::HeapTrend;

constexpr int64_t kSecond = 1'000'000'000;
constexpr double kMiB = 1024 * 1024;

TEST_CASE("the slope of a linear series is its rate", "[heap_trend]") {
  HeapTrend trend(60 * kSecond, 4096);
  CHECK(!trend.SlopePerSecond().has_value());
  trend.Add(0, 100 * kMiB);
  CHECK(!trend.SlopePerSecond().has_value());  // one sample has no slope
  for (int i = 1; i <= 20; ++i) trend.Add(i * 15 * kSecond / 10, 100 * kMiB + i * 1.5 * 2 * kMiB);
  // 2 MiB per second, whatever the offset.
  CHECK(*trend.SlopePerSecond() == Approx(2 * kMiB));
}

TEST_CASE("a flat series has slope zero and a falling one a negative slope", "[heap_trend]") {
  HeapTrend flat(60 * kSecond, 4096);
  for (int i = 0; i < 10; ++i) flat.Add(i * kSecond, 50 * kMiB);
  CHECK(*flat.SlopePerSecond() == 0);
  HeapTrend falling(60 * kSecond, 4096);
  for (int i = 0; i < 10; ++i) falling.Add(i * kSecond, 50 * kMiB - i * 1000.0);
  CHECK(*falling.SlopePerSecond() == Approx(-1000));
}

TEST_CASE("a sawtooth over several periods has a slope near zero", "[heap_trend]") {
  // Fills 10 MiB in 10 steps of a second, then drops back: what a cache flush or a batch
  // looks like. Over six periods the trend is well under 2% of the fill rate.
  HeapTrend trend(60 * kSecond, 4096);
  for (int i = 0; i <= 60; ++i) trend.Add(i * kSecond, 200 * kMiB + (i % 10) * kMiB);
  const double fill_rate = kMiB;  // per second, while filling
  CHECK(std::abs(*trend.SlopePerSecond()) < 0.02 * fill_rate);
}

TEST_CASE("old samples leave the window, but two always stay", "[heap_trend]") {
  HeapTrend trend(10 * kSecond, 4096);
  // A leak long ago, flat since: only the flat part is in the window.
  for (int i = 0; i < 30; ++i) trend.Add(i * kSecond, i * kMiB);
  for (int i = 30; i < 60; ++i) trend.Add(i * kSecond, 30 * kMiB);
  CHECK(*trend.SlopePerSecond() == 0);
  CHECK(trend.size() == 11);  // t = 49..59
  HeapTrend sparse(10 * kSecond, 4096);
  sparse.Add(0, 0);
  sparse.Add(100 * kSecond, 100 * kMiB);  // interval longer than the window
  CHECK(*sparse.SlopePerSecond() == Approx(kMiB));
  HeapTrend capped(1000 * kSecond, 8);
  for (int i = 0; i < 100; ++i) capped.Add(i * kSecond, i);
  CHECK(capped.size() == 8);
}

TEST_CASE("samples at one instant give no slope rather than a division by zero", "[heap_trend]") {
  HeapTrend trend(10 * kSecond, 4096);
  trend.Add(5, 1);
  trend.Add(5, 2);
  CHECK(!trend.SlopePerSecond().has_value());
}

}  // namespace
