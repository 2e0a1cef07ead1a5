#include "agent/core/exemplar.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <thread>
#include <vector>

namespace vitals {
namespace internal {
namespace {

Exemplar Make(uint64_t id, double value, int64_t nanos) {
  return Exemplar{TraceContext{id, ~id, id * 3 + 1}, value, nanos};
}

TEST_CASE("exemplar slot: empty until offered, then holds what was offered", "[exemplars]") {
  ExemplarSlot slot;
  Exemplar e;
  CHECK_FALSE(slot.Read(e));
  REQUIRE(slot.Offer(Make(7, 0.25, 1'000)));
  REQUIRE(slot.Read(e));
  CHECK(e.trace == Make(7, 0, 0).trace);
  CHECK(e.value == 0.25);
  CHECK(e.clock_nanos == 1'000);
}

TEST_CASE("exemplar slot: a younger exemplar is kept, an older one replaced", "[exemplars]") {
  ExemplarSlot slot;
  REQUIRE(slot.Offer(Make(1, 1.0, 0)));
  // Within the minimum interval the first one stays.
  CHECK_FALSE(slot.Offer(Make(2, 2.0, kExemplarMinIntervalNanos - 1)));
  Exemplar e;
  REQUIRE(slot.Read(e));
  CHECK(e.trace.trace_id_high == 1);
  // From the interval on, the next offer replaces it.
  CHECK(slot.Offer(Make(3, 3.0, kExemplarMinIntervalNanos)));
  REQUIRE(slot.Read(e));
  CHECK(e.trace.trace_id_high == 3);
  CHECK(e.value == 3.0);
}

TEST_CASE("exemplar slot: concurrent writers and readers never see a torn exemplar",
          "[exemplars][concurrency]") {
  // Each writer offers exemplars whose every field derives from one id; a reader that copied
  // fields of two different offers would see them disagree.
  ExemplarSlot slot;
  std::atomic<bool> stop{false};
  std::atomic<int> writers_ready{0};
  std::atomic<uint64_t> stored{0}, reads{0}, torn{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&, w] {
      writers_ready.fetch_add(1);
      uint64_t id = static_cast<uint64_t>(w) << 40;
      int64_t nanos = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        ++id;
        nanos += kExemplarMinIntervalNanos;  // always old enough: every offer tries to write
        if (slot.Offer(Make(id, static_cast<double>(id), nanos))) stored.fetch_add(1);
      }
    });
  }
  std::thread reader([&] {
    while (writers_ready.load() < 3) std::this_thread::yield();
    for (int i = 0; i < 200000; ++i) {
      Exemplar e;
      if (!slot.Read(e)) continue;
      reads.fetch_add(1);
      const uint64_t id = e.trace.trace_id_high;
      if (e.trace.trace_id_low != ~id || e.trace.span_id != id * 3 + 1 ||
          e.value != static_cast<double>(id)) {
        torn.fetch_add(1);
      }
    }
    stop.store(true);
  });
  reader.join();
  for (auto& t : threads) t.join();
  CHECK(stored.load() > 0);
  CHECK(reads.load() > 0);
  CHECK(torn.load() == 0);
}

}  // namespace
}  // namespace internal
}  // namespace vitals
