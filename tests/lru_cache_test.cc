#include "vitals/lru_cache.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::SampleValue;
using IntCache = vitals::LruCache<int, int>;

IntCache::Options OneShard(size_t max_entries) {
  IntCache::Options o;
  o.max_entries = max_entries;
  o.shards = 1;
  return o;
}

TEST_CASE("the least recently used entry is evicted first", "[lru]") {
  IntCache cache(OneShard(3));
  cache.Put(1, 10);
  cache.Put(2, 20);
  cache.Put(3, 30);
  CHECK(cache.Get(1) == 10);  // 1 is now the most recent; 2 the least
  cache.Put(4, 40);
  CHECK_FALSE(cache.Get(2).has_value());
  CHECK(cache.Get(1) == 10);
  CHECK(cache.Get(3) == 30);
  CHECK(cache.Get(4) == 40);
  cache.Put(3, 33);  // replacing refreshes too: 1 is now the least recent
  cache.Put(5, 50);
  CHECK_FALSE(cache.Get(1).has_value());
  CHECK(cache.Get(3) == 33);
  CHECK(cache.size() == 3);
}

TEST_CASE("Erase and Clear remove entries", "[lru]") {
  IntCache cache(OneShard(10));
  for (int i = 0; i < 5; ++i) cache.Put(i, i);
  CHECK(cache.Erase(2));
  CHECK_FALSE(cache.Erase(2));
  CHECK(cache.size() == 4);
  cache.Clear();
  CHECK(cache.size() == 0);
  CHECK_FALSE(cache.Get(0).has_value());
}

TEST_CASE("bounds are split exactly between shards", "[lru]") {
  IntCache::Options o;
  o.max_entries = 1000;
  o.shards = 16;
  IntCache cache(o);
  CHECK(cache.shard_count() == 16);
  for (int i = 0; i < 100000; ++i) {
    cache.Put(i, i);
    if (i % 997 == 0) REQUIRE(cache.size() <= 1000);
  }
  CHECK(cache.size() <= 1000);
  CHECK(cache.size() > 900);  // every shard full, up to hash imbalance
  IntCache::Options tiny;
  tiny.max_entries = 3;
  tiny.shards = 64;  // cut to at most max_entries, as a power of two
  CHECK(IntCache(tiny).shard_count() == 2);
  CHECK(IntCache(IntCache::Options()).shard_count() == 64);
}

TEST_CASE("a weigher bounds total weight: an entry too heavy is not stored", "[lru]") {
  vitals::LruCache<int, std::string>::Options o;
  o.max_entries = 100;
  o.shards = 1;
  o.max_weight = 100;
  o.weigher = [](const int&, const std::string& v) { return v.size(); };
  vitals::LruCache<int, std::string> cache(o);
  for (int i = 0; i < 10; ++i) CHECK(cache.Put(i, std::string(30, 'x')));
  CHECK(cache.weight() <= 100);
  CHECK(cache.size() == 3);
  CHECK(cache.Get(9).has_value());
  CHECK_FALSE(cache.Put(9, std::string(101, 'y')));  // too heavy: not stored, old value gone
  CHECK_FALSE(cache.Get(9).has_value());
}

TEST_CASE("entries expire after their time to live", "[lru]") {
  vitals_test::FakeClock clock;
  IntCache::Options o = OneShard(10);
  o.ttl = absl::Seconds(10);
  o.clock = &clock;
  IntCache cache(o);
  cache.Put(1, 1);
  cache.Put(2, 2, absl::Seconds(60));  // per-entry TTL
  cache.Put(3, 3, absl::InfiniteDuration());
  clock.Advance(9'999'000'000);
  CHECK(cache.Get(1) == 1);
  clock.Advance(1'000'000);  // exactly 10 s: expired
  CHECK_FALSE(cache.Get(1).has_value());
  CHECK(cache.size() == 2);  // removed when found
  CHECK(cache.Get(2) == 2);
  clock.Advance(50'000'000'000);
  CHECK_FALSE(cache.Get(2).has_value());
  clock.Advance(1'000'000'000'000);
  CHECK(cache.Get(3) == 3);
}

TEST_CASE("GetOrLoad loads once, caches, and counts exactly", "[lru]") {
  vitals_test::FakeClock clock;
  vitals::Agent agent(vitals_test::QuietOptions());
  IntCache::Options o = OneShard(2);
  o.clock = &clock;
  IntCache cache(agent, "numbers", o);
  int loads = 0;
  auto load = [&](int v) {
    return [&loads, &clock, v]() -> absl::StatusOr<int> {
      ++loads;
      clock.AdvanceMs(4);
      return v * 10;
    };
  };
  CHECK(*cache.GetOrLoad(1, load(1)) == 10);  // miss, load, put        [1]
  CHECK(*cache.GetOrLoad(1, load(1)) == 10);  // hit                    [1]
  CHECK(*cache.GetOrLoad(2, load(2)) == 20);  // miss, load, put        [2 1]
  CHECK(cache.Get(1) == 10);                  // hit                    [1 2]
  CHECK(*cache.GetOrLoad(3, load(3)) == 30);  // miss, load, put; evicts 2 (never hit)
  CHECK(cache.Get(1) == 10);                  // hit                    [1 3]
  cache.Put(4, 40);                           // put; evicts 3 (never hit)
  CHECK(cache.Get(1) == 10);                  // hit                    [1 4]
  cache.Put(5, 50);                           // put; evicts 4 (never hit)
  cache.Put(6, 60);                           // put; evicts 1 (hit 4 times)
  CHECK_FALSE(cache.Get(3).has_value());      // miss                   [6 5]
  CHECK(loads == 3);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "cache_gets_total{cache=\"numbers\",result=\"hit\"}") == 4);
  CHECK(SampleValue(body, "cache_gets_total{cache=\"numbers\",result=\"miss\"}") == 4);
  CHECK(SampleValue(body, "cache_puts_total{cache=\"numbers\"}") == 6);
  CHECK(SampleValue(body, "cache_evictions_total{cache=\"numbers\"}") == 4);
  CHECK(SampleValue(body, "cache_evictions_unused_total{cache=\"numbers\"}") == 3);
  CHECK(SampleValue(body, "cache_size{cache=\"numbers\"}") == 2);
  CHECK(SampleValue(body, "cache_max_size{cache=\"numbers\"}") == 2);
  CHECK(SampleValue(body, "cache_load_duration_seconds_count{cache=\"numbers\"}") == 3);
  CHECK(SampleValue(body, "cache_load_duration_seconds_sum{cache=\"numbers\"}") == Approx(0.012));
  CHECK(SampleValue(body, "cache_load_failures_total{cache=\"numbers\"}") == 0);
}

TEST_CASE("a failing loader returns its error, caches nothing, and is retried next time", "[lru]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  IntCache cache(agent, "flaky", OneShard(10));
  auto failed = cache.GetOrLoad(
      7, []() -> absl::StatusOr<int> { return absl::UnavailableError("database down"); });
  CHECK(failed.status() == absl::UnavailableError("database down"));
  CHECK(cache.size() == 0);
  auto threw =
      cache.GetOrLoad(7, []() -> absl::StatusOr<int> { throw std::runtime_error("boom"); });
  CHECK(threw.status() == absl::InternalError("cache loader threw: boom"));
  CHECK(*cache.GetOrLoad(7, []() -> absl::StatusOr<int> { return 70; }) == 70);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "cache_load_failures_total{cache=\"flaky\"}") == 2);
  CHECK(SampleValue(body, "cache_load_duration_seconds_count{cache=\"flaky\"}") == 3);
  CHECK(SampleValue(body, "cache_size{cache=\"flaky\"}") == 1);
}

TEST_CASE("a Put while a load runs wins over the loaded value", "[lru]") {
  IntCache cache(OneShard(10));
  auto loaded = cache.GetOrLoad(1, [&]() -> absl::StatusOr<int> {
    cache.Put(1, 99);  // another writer, while the load runs
    return 10;
  });
  CHECK(*loaded == 10);       // the caller gets what it loaded
  CHECK(cache.Get(1) == 99);  // the cache keeps the newer write
}

// Holds the loader until `waiters` other callers are waiting for its load (counted by the
// cache itself, so nothing is left to timing).
template <typename Cache>
void WaitForWaiters(const Cache& cache, size_t waiters) {
  while (cache.waiting_for_loads() < waiters) std::this_thread::yield();
}

TEST_CASE("concurrent misses for one key run the loader once", "[lru][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  vitals::LruCache<std::string, std::string> cache(agent, "single_flight", {});
  constexpr int kThreads = 8;
  std::atomic<int> calls{0};
  std::vector<std::string> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto v = cache.GetOrLoad("key", [&]() -> absl::StatusOr<std::string> {
        calls.fetch_add(1);
        WaitForWaiters(cache, kThreads - 1);
        return std::string("value");
      });
      got[t] = v.ok() ? *v : v.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  CHECK(calls.load() == 1);
  CHECK(cache.waiting_for_loads() == 0);
  for (const auto& g : got) CHECK(g == "value");
  const std::string body = agent.RenderText();
  const double hits = SampleValue(body, "cache_gets_total{cache=\"single_flight\",result=\"hit\"}");
  const double misses =
      SampleValue(body, "cache_gets_total{cache=\"single_flight\",result=\"miss\"}");
  CHECK(hits + misses == kThreads);
  CHECK(SampleValue(body, "cache_load_duration_seconds_count{cache=\"single_flight\"}") == 1);
  CHECK(SampleValue(body, "cache_puts_total{cache=\"single_flight\"}") == 1);
}

TEST_CASE("a failed load reaches every waiter", "[lru][concurrency]") {
  IntCache cache(OneShard(10));
  constexpr int kThreads = 6;
  std::atomic<int> calls{0};
  std::vector<absl::Status> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      got[t] = cache
                   .GetOrLoad(5,
                              [&]() -> absl::StatusOr<int> {
                                calls.fetch_add(1);
                                WaitForWaiters(cache, kThreads - 1);
                                return absl::DeadlineExceededError("slow backend");
                              })
                   .status();
    });
  }
  for (auto& t : threads) t.join();
  // Every other caller was counted waiting on the first load before it failed.
  CHECK(calls.load() == 1);
  for (const auto& s : got) CHECK(s == absl::DeadlineExceededError("slow backend"));
  CHECK(cache.size() == 0);
}

TEST_CASE("capacity holds while threads hammer the cache", "[lru][concurrency]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  IntCache::Options o;
  o.max_entries = 64;
  o.shards = 4;
  IntCache cache(agent, "hammered", o);
  std::atomic<bool> stop{false};
  std::atomic<size_t> worst{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 60000; ++i) {
        const int key = static_cast<int>(rng() % 500);
        switch (rng() % 4) {
          case 0:
            cache.Put(key, i);
            break;
          case 1:
            cache.Get(key);
            break;
          case 2:
            (void)cache.GetOrLoad(key, [&] { return absl::StatusOr<int>(key); });
            break;
          default:
            if (i % 50 == 0) cache.Erase(key);
        }
      }
    });
  }
  std::thread watcher([&] {
    while (!stop.load()) {
      const size_t n = cache.size();
      size_t w = worst.load();
      while (n > w && !worst.compare_exchange_weak(w, n)) {
      }
    }
  });
  for (auto& t : threads) t.join();
  stop.store(true);
  watcher.join();
  CHECK(worst.load() <= 64);
  CHECK(cache.size() <= 64);
  // The size gauge, kept with per-thread deltas, agrees with the cache once all is quiet.
  CHECK(SampleValue(agent.RenderText(), "cache_size{cache=\"hammered\"}") == cache.size());
}

// Counts live instances, to show memory stays bounded.
struct Tracked {
  static std::atomic<int> live;
  Tracked() { live.fetch_add(1); }
  Tracked(const Tracked&) { live.fetch_add(1); }
  Tracked& operator=(const Tracked&) = default;
  ~Tracked() { live.fetch_sub(1); }
  std::string payload = std::string(100, 'p');
};
std::atomic<int> Tracked::live{0};

TEST_CASE("a scan of many distinct keys keeps memory bounded", "[lru]") {
  {
    vitals::LruCache<uint64_t, Tracked>::Options o;
    o.max_entries = 1000;
    vitals::LruCache<uint64_t, Tracked> cache(o);
    for (uint64_t k = 0; k < 200000; ++k) {
      auto v = cache.GetOrLoad(k, [] { return absl::StatusOr<Tracked>(Tracked()); });
      REQUIRE(v.ok());
    }
    CHECK(cache.size() <= 1000);
    CHECK(Tracked::live.load() <= 1000);
  }
  CHECK(Tracked::live.load() == 0);  // the cache frees everything it held
}

TEST_CASE("the cache works without an agent and with a throwaway agent handle", "[lru]") {
  vitals::LruCache<std::string, int> cache({});
  cache.Put("a", 1);
  CHECK(cache.Get("a") == 1);
  CHECK(cache.max_entries() == 10000);
}

}  // namespace
