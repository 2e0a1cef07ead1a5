#include "agent/base/series_ring.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

namespace {

using vitals::internal::SeriesRing;

TEST_CASE("the ring keeps the last points in order, absent values as NaN", "[series_ring]") {
  SeriesRing ring(3, 1 << 20);
  ring.Append(10, {{"a", 1}});
  ring.Append(20, {{"a", 2}, {"b", 20}});
  ring.Append(30, {{"b", 30}});
  ring.Append(40, {{"a", 4}, {"b", 40}});  // the point at 10 leaves
  SeriesRing::Snapshot s = ring.Read();
  REQUIRE(s.times == std::vector<double>{20, 30, 40});
  REQUIRE(s.series.size() == 2);
  const std::vector<double>& a = s.series.at("a");
  REQUIRE(a.size() == 3);
  CHECK(a[0] == 2);
  CHECK(std::isnan(a[1]));
  CHECK(a[2] == 4);
  CHECK(s.series.at("b") == std::vector<double>{20, 30, 40});
}

TEST_CASE("a key absent from every kept point is forgotten", "[series_ring]") {
  SeriesRing ring(2, 1 << 20);
  ring.Append(1, {{"gone", 1}, {"stays", 1}});
  ring.Append(2, {{"stays", 2}});
  CHECK(ring.Read().series.count("gone") == 1);
  ring.Append(3, {{"stays", 3}});  // the only point with "gone" leaves
  SeriesRing::Snapshot s = ring.Read();
  CHECK(s.series.count("gone") == 0);
  CHECK(s.series.at("stays") == std::vector<double>{2, 3});
}

TEST_CASE("new keys past the byte bound are refused and counted", "[series_ring]") {
  // 4 points of 8 bytes: 32 bytes a key; 100 bytes hold three keys.
  SeriesRing ring(4, 100);
  std::vector<std::pair<std::string, double>> point;
  for (int i = 0; i < 10; ++i) point.emplace_back("k" + std::to_string(i), i);
  for (int t = 0; t < 20; ++t) {
    ring.Append(t, point);
    REQUIRE(ring.bytes() <= 100);
  }
  SeriesRing::Snapshot s = ring.Read();
  CHECK(s.series.size() == 3);
  CHECK(s.refused_keys == 7 * 20);
  CHECK(s.times.size() == 4);
}

TEST_CASE("writers and readers at once see consistent snapshots", "[series_ring][concurrency]") {
  SeriesRing ring(16, 1 << 20);
  std::thread writer([&] {
    for (int t = 0; t < 2000; ++t) ring.Append(t, {{"x", static_cast<double>(t)}});
  });
  for (int i = 0; i < 200; ++i) {
    SeriesRing::Snapshot s = ring.Read();
    auto it = s.series.find("x");
    if (it == s.series.end()) continue;
    REQUIRE(it->second.size() == s.times.size());
    for (size_t k = 0; k < s.times.size(); ++k) REQUIRE(it->second[k] == s.times[k]);
  }
  writer.join();
  CHECK(ring.Read().times.size() == 16);
}

}  // namespace
