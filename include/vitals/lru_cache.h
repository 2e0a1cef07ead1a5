// vitals/lru_cache.h: a bounded, sharded, thread-safe LRU cache with single-flight loading,
// instrumented through vitals/cache.h.
//
//   using UserCache = vitals::LruCache<int64_t, std::shared_ptr<const User>>;
//   UserCache::Options options;
//   options.max_entries = 10000;
//   options.ttl = absl::Minutes(5);
//   UserCache users(agent, "users", options);
//   absl::StatusOr<std::shared_ptr<const User>> u =
//       users.GetOrLoad(id, [&]() { return db.LoadUser(id); });
//
// The class below lists the whole API with its documentation; the implementation follows it,
// further down this file.
//
// Bounds: at most `max_entries` entries, and when a weigher is given at most `max_weight` total
// weight, whatever the access pattern; the least recently used entry goes first, in O(1).
// Entries may expire (`ttl`, or per entry on `Put`); an expired entry is a miss and is removed
// when found, or when it reaches the LRU end.
//
// Sharding: keys are spread over a power-of-two number of shards by hash, each with its own
// mutex, abseil hash set and LRU list; the bounds are split exactly between shards (so the cache
// as a whole never exceeds them) and LRU order is kept per shard, as in every sharded LRU.
//
// Thread-safety: every method may be called from any thread at once.
// Cost: `Get` hit = one hash, one uncontended mutex lock/unlock of the key's shard, a probe, a
// list splice and a copy of the value (store `std::shared_ptr<const T>` for large values), plus
// one lock-free counter increment for the metrics. See BENCHMARKS.md.
// Errors: loaders report failure as a Status, which reaches every waiter and caches nothing.
// An exception thrown by a loader is caught and turned into an Internal status. Like a standard
// container, the cache lets std::bad_alloc and exceptions from copying Key/Value propagate, and
// stays consistent when they do.
// Ownership: values are copied in and out. A cache built with an agent may outlive it (a static
// cache, say): once the agent is destroyed the cache keeps working and records nothing.

#ifndef VITALS_LRU_CACHE_H_
#define VITALS_LRU_CACHE_H_

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vitals/agent.h"
#include "vitals/cache.h"
#include "vitals/clock.h"

namespace vitals {

template <typename Key, typename Value, typename Hash = absl::Hash<Key>,
          typename Eq = std::equal_to<Key>>
class LruCache {
 public:
  struct Options {
    // The most entries the cache holds (at least 1).
    size_t max_entries = 10000;
    // With a weigher: the most total weight the cache holds; 0 = bounded by entries only. An
    // entry heavier than a shard's share of it is not stored.
    uint64_t max_weight = 0;
    std::function<uint64_t(const Key&, const Value&)> weigher;
    // Default time-to-live of an entry; infinite = entries never expire.
    absl::Duration ttl = absl::InfiniteDuration();
    // Number of shards, rounded down to a power of two and to at most `max_entries`; 0 picks
    // one shard per 32 entries, up to 64.
    size_t shards = 0;
    // Clock for expiry and load timing; null = `Clock::Default()`. Must outlive the cache.
    const Clock* clock = nullptr;
    // Where hits, misses, puts, evictions, size and loads are recorded (see vitals/cache.h);
    // a default `CacheMetrics` records nothing.
    CacheMetrics metrics;
  };

  // A cache that records into `options.metrics` (nothing by default).
  explicit LruCache(Options options);
  // An instrumented cache: its metrics carry `cache="<name>"`.
  LruCache(Agent& agent, absl::string_view name, Options options);
  ~LruCache();
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The value for `key`, or nothing (absent or expired). Counts a hit or a miss.
  std::optional<Value> Get(const Key& key);

  // Stores `value` for `key` (replacing any value), with the default TTL or `ttl`, evicting LRU
  // entries as needed. Returns false, storing nothing and dropping any old value for `key`,
  // when the entry alone is heavier than allowed.
  bool Put(const Key& key, Value value);
  bool Put(const Key& key, Value value, absl::Duration ttl);

  // The value for `key`; on a miss, calls `loader()` (returning absl::StatusOr<Value>) and
  // stores what it returns. Concurrent callers missing the same key wait for one loader call
  // and share its result; a failed load returns its status to all of them and stores nothing.
  // Every call counts one hit or miss; each loader call counts one load. A `Put` for the key
  // while the loader runs wins over the loaded value. The loader runs without any lock held,
  // but must not call `GetOrLoad` for its own key (it would wait for itself).
  template <typename Loader>
  absl::StatusOr<Value> GetOrLoad(const Key& key, Loader&& loader);

  // Removes `key`; true if it was there. Not an eviction.
  bool Erase(const Key& key);

  // Removes every entry. Not evictions.
  void Clear();

  // Entries held now (expired ones not yet removed included).
  size_t size() const;
  // Total weight held now (the entry count when there is no weigher).
  uint64_t weight() const;
  size_t max_entries() const { return options_.max_entries; }
  size_t shard_count() const { return shards_.size(); }
  // Callers of GetOrLoad waiting now for a load another caller is running (for diagnostics and
  // tests).
  size_t waiting_for_loads() const;

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  struct Links {
    Links* prev = this;
    Links* next = this;
  };
  struct Node;      // an entry: key, value, expiry, weight, LRU links
  struct NodeHash;  // the index's hash and equality, by key without building a node
  struct NodeEq;
  struct Pending;  // one load in flight, shared by its leader and waiters
  struct Shard;    // a mutex, an index, an LRU list and the bounds of one shard

  const CacheMetrics& metrics() const { return options_.metrics; }
  void Init();
  Shard& ShardFor(const Key& key);
  template <typename T>
  T SumOverShards(T Shard::*field) const;
  static void Unlink(Links* n);
  static void PushFront(Shard& s, Links* n);
  // Removes `node` from the shard; the caller destroys it outside the lock.
  std::unique_ptr<Node> UnlinkLocked(Shard& s, Node* node);
  // A copy of the live value for `key`, marking it used and most recent. An expired entry is
  // removed into `expired`.
  std::optional<Value> FindLocked(Shard& s, const Key& key, std::unique_ptr<Node>& expired);
  // An expired entry found by a lookup counts as an eviction.
  void Retire(std::unique_ptr<Node> expired);
  // Inserts or replaces, then evicts down to the shard's bounds. `keep_existing`: leave an
  // entry that is already there alone. `end_load`: also take `key` off the in-flight loads.
  bool Store(const Key& key, Value value, absl::Duration ttl, bool keep_existing, bool end_load);
  void DeleteAll(Shard& s);
  template <typename Loader>
  static absl::StatusOr<Value> CallLoader(Loader& loader);

  Options options_;
  const Clock* clock_ = nullptr;
  int shard_bits_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// ---------------------------------------------------------------------------------------------
// Implementation. Nothing below is API. The member functions are marked `inline` as they were
// when defined in the class: gcc then inlines the lookup into Get, which keeps the shard's
// lock held for less time (without it, a hit cost 30% more on one thread and twice as much on
// two; BENCHMARKS.md).

#define VITALS_LRU_TEMPLATE template <typename Key, typename Value, typename Hash, typename Eq>
#define VITALS_LRU LruCache<Key, Value, Hash, Eq>

VITALS_LRU_TEMPLATE
struct VITALS_LRU::Node : Links {
  Node(const Key& k, Value v) : key(k), value(std::move(v)) {}
  const Key key;
  Value value;
  int64_t expires = kNever;
  uint64_t weight = 1;
  bool used = false;  // hit since stored
};

VITALS_LRU_TEMPLATE
struct VITALS_LRU::NodeHash {
  using is_transparent = void;
  size_t operator()(const Node* n) const { return Hash()(n->key); }
  size_t operator()(const Key& k) const { return Hash()(k); }
};

VITALS_LRU_TEMPLATE
struct VITALS_LRU::NodeEq {
  using is_transparent = void;
  bool operator()(const Node* a, const Node* b) const { return Eq()(a->key, b->key); }
  bool operator()(const Node* a, const Key& b) const { return Eq()(a->key, b); }
  bool operator()(const Key& a, const Node* b) const { return Eq()(a, b->key); }
};

VITALS_LRU_TEMPLATE
struct VITALS_LRU::Pending {
  std::mutex mu;
  std::condition_variable done_cv;
  std::optional<absl::StatusOr<Value>> result;
  size_t waiters = 0;  // guarded by the shard's mutex
  void Finish(const absl::StatusOr<Value>& r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      result = r;
    }
    done_cv.notify_all();
  }
  absl::StatusOr<Value> Wait() {
    std::unique_lock<std::mutex> lock(mu);
    done_cv.wait(lock, [this] { return result.has_value(); });
    return *result;
  }
};

VITALS_LRU_TEMPLATE
struct alignas(64) VITALS_LRU::Shard {
  mutable std::mutex mu;
  absl::flat_hash_set<Node*, NodeHash, NodeEq> index;
  Links lru;  // lru.next = most recently used, lru.prev = least
  size_t count = 0;
  uint64_t weight = 0;
  size_t max_entries = 0;
  uint64_t max_weight = 0;  // 0 = unbounded
  absl::flat_hash_map<Key, std::shared_ptr<Pending>, Hash, Eq> loading;
};

VITALS_LRU_TEMPLATE
VITALS_LRU::LruCache(Options options) : options_(std::move(options)) { Init(); }

VITALS_LRU_TEMPLATE
VITALS_LRU::LruCache(Agent& agent, absl::string_view name, Options options)
    : options_(std::move(options)) {
  options_.metrics = agent.Cache(name);
  Init();
}

VITALS_LRU_TEMPLATE
VITALS_LRU::~LruCache() {
  for (auto& shard : shards_) DeleteAll(*shard);
}

VITALS_LRU_TEMPLATE
inline std::optional<Value> VITALS_LRU::Get(const Key& key) {
  Shard& s = ShardFor(key);
  std::optional<Value> out;
  std::unique_ptr<Node> expired;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    out = FindLocked(s, key, expired);
  }
  Retire(std::move(expired));
  if (out.has_value()) {
    metrics().Hit();
  } else {
    metrics().Miss();
  }
  return out;
}

VITALS_LRU_TEMPLATE
inline bool VITALS_LRU::Put(const Key& key, Value value) {
  return Put(key, std::move(value), options_.ttl);
}

VITALS_LRU_TEMPLATE
inline bool VITALS_LRU::Put(const Key& key, Value value, absl::Duration ttl) {
  return Store(key, std::move(value), ttl, /*keep_existing=*/false, /*end_load=*/false);
}

VITALS_LRU_TEMPLATE
template <typename Loader>
inline absl::StatusOr<Value> VITALS_LRU::GetOrLoad(const Key& key, Loader&& loader) {
  Shard& s = ShardFor(key);
  std::shared_ptr<Pending> pending;
  bool leader = false;
  {
    std::unique_ptr<Node> expired;
    std::optional<Value> hit;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      hit = FindLocked(s, key, expired);
      if (!hit.has_value()) {
        auto it = s.loading.find(key);
        if (it != s.loading.end()) {
          pending = it->second;
          ++pending->waiters;
        } else {
          pending = std::make_shared<Pending>();
          s.loading.emplace(key, pending);
          leader = true;
        }
      }
    }
    Retire(std::move(expired));
    if (hit.has_value()) {
      metrics().Hit();
      return *std::move(hit);
    }
  }
  metrics().Miss();
  if (!leader) return pending->Wait();

  const int64_t start = clock_->NowNanos();
  absl::StatusOr<Value> result = CallLoader(loader);
  metrics().Load(absl::Nanoseconds(clock_->NowNanos() - start), result.ok());
  try {
    // Stored and taken off the in-flight list under one lock, so no caller in between starts a
    // second load.
    if (result.ok()) {
      Store(key, *result, options_.ttl, /*keep_existing=*/true, /*end_load=*/true);
    } else {
      std::lock_guard<std::mutex> lock(s.mu);
      s.loading.erase(key);
    }
  } catch (...) {  // bad_alloc or a throwing weigher: never leave the waiters hanging
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.loading.erase(key);
    }
    pending->Finish(result);
    throw;
  }
  pending->Finish(result);
  return result;
}

VITALS_LRU_TEMPLATE
inline bool VITALS_LRU::Erase(const Key& key) {
  Shard& s = ShardFor(key);
  std::unique_ptr<Node> node;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return false;
    node = UnlinkLocked(s, *it);
  }
  metrics().AddSize(-1);
  return true;
}

VITALS_LRU_TEMPLATE
inline void VITALS_LRU::Clear() {
  for (auto& shard : shards_) DeleteAll(*shard);
}

VITALS_LRU_TEMPLATE
inline size_t VITALS_LRU::size() const { return SumOverShards(&Shard::count); }

VITALS_LRU_TEMPLATE
inline uint64_t VITALS_LRU::weight() const { return SumOverShards(&Shard::weight); }

VITALS_LRU_TEMPLATE
inline size_t VITALS_LRU::waiting_for_loads() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (const auto& [key, pending] : shard->loading) total += pending->waiters;
  }
  return total;
}

VITALS_LRU_TEMPLATE
template <typename T>
inline T VITALS_LRU::SumOverShards(T Shard::*field) const {
  T total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += (*shard).*field;
  }
  return total;
}

VITALS_LRU_TEMPLATE
inline void VITALS_LRU::Init() {
  if (options_.max_entries == 0) options_.max_entries = 1;
  clock_ = options_.clock != nullptr ? options_.clock : &Clock::Default();
  size_t n = options_.shards != 0
                 ? options_.shards
                 : std::min<size_t>(64, std::max<size_t>(1, options_.max_entries / 32));
  n = std::min(n, options_.max_entries);
  size_t pow2 = 1;
  while (pow2 * 2 <= n) pow2 *= 2;
  shard_bits_ = 0;
  while ((size_t{1} << shard_bits_) < pow2) ++shard_bits_;
  const uint64_t weight_bound = options_.weigher ? options_.max_weight : 0;
  for (size_t i = 0; i < pow2; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->max_entries = options_.max_entries / pow2 + (i < options_.max_entries % pow2);
    if (weight_bound > 0) {
      shard->max_weight = weight_bound / pow2 + (i < weight_bound % pow2);
      if (shard->max_weight == 0) shard->max_weight = 1;
    }
    shards_.push_back(std::move(shard));
  }
  metrics().SetMaxSize(static_cast<double>(options_.max_entries));
}

VITALS_LRU_TEMPLATE
inline typename VITALS_LRU::Shard& VITALS_LRU::ShardFor(const Key& key) {
  if (shard_bits_ == 0) return *shards_[0];
  // Fibonacci hashing of the key's hash: the top bits pick the shard, so shards stay
  // independent of the low bits the hash set itself uses.
  const uint64_t h = static_cast<uint64_t>(Hash()(key)) * 0x9E3779B97F4A7C15ull;
  return *shards_[h >> (64 - shard_bits_)];
}

VITALS_LRU_TEMPLATE
inline void VITALS_LRU::Unlink(Links* n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
}

VITALS_LRU_TEMPLATE
inline void VITALS_LRU::PushFront(Shard& s, Links* n) {
  n->next = s.lru.next;
  n->prev = &s.lru;
  s.lru.next->prev = n;
  s.lru.next = n;
}

VITALS_LRU_TEMPLATE
inline std::unique_ptr<typename VITALS_LRU::Node> VITALS_LRU::UnlinkLocked(Shard& s, Node* node) {
  s.index.erase(node);
  Unlink(node);
  --s.count;
  s.weight -= node->weight;
  return std::unique_ptr<Node>(node);
}

VITALS_LRU_TEMPLATE
inline std::optional<Value> VITALS_LRU::FindLocked(Shard& s, const Key& key,
                                                   std::unique_ptr<Node>& expired) {
  auto it = s.index.find(key);
  if (it == s.index.end()) return std::nullopt;
  Node* n = *it;
  if (n->expires != kNever && n->expires <= clock_->NowNanos()) {
    expired = UnlinkLocked(s, n);
    return std::nullopt;
  }
  n->used = true;
  if (s.lru.next != n) {
    Unlink(n);
    PushFront(s, n);
  }
  return n->value;
}

VITALS_LRU_TEMPLATE
inline void VITALS_LRU::Retire(std::unique_ptr<Node> expired) {
  if (expired == nullptr) return;
  metrics().Eviction(expired->used);
  metrics().AddSize(-1);
}

VITALS_LRU_TEMPLATE
inline bool VITALS_LRU::Store(const Key& key, Value value, absl::Duration ttl, bool keep_existing,
                              bool end_load) {
  Shard& s = ShardFor(key);
  const uint64_t weight = options_.weigher ? options_.weigher(key, value) : 1;
  int64_t expires = kNever;
  if (ttl != absl::InfiniteDuration()) {
    expires = clock_->NowNanos() + std::max<int64_t>(0, absl::ToInt64Nanoseconds(ttl));
  }
  std::vector<std::unique_ptr<Node>> evicted;
  std::unique_ptr<Node> dropped;
  bool stored = false, added = false;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (end_load) s.loading.erase(key);
    auto it = s.index.find(key);
    Node* existing = it == s.index.end() ? nullptr : *it;
    if (existing != nullptr && keep_existing) return false;  // a Put during the load won
    if (s.max_weight != 0 && weight > s.max_weight) {
      if (existing != nullptr) dropped = UnlinkLocked(s, existing);
    } else if (existing != nullptr) {
      existing->value = std::move(value);
      s.weight = s.weight - existing->weight + weight;
      existing->weight = weight;
      existing->expires = expires;
      existing->used = false;
      Unlink(existing);
      PushFront(s, existing);
      stored = true;
    } else {
      auto node = std::make_unique<Node>(key, std::move(value));
      node->weight = weight;
      node->expires = expires;
      s.index.insert(node.get());  // may throw (rehash): the node is still owned here
      PushFront(s, node.get());
      ++s.count;
      s.weight += weight;
      node.release();
      stored = added = true;
    }
    while (s.count > s.max_entries || (s.max_weight != 0 && s.weight > s.max_weight)) {
      evicted.push_back(UnlinkLocked(s, static_cast<Node*>(s.lru.prev)));
    }
  }
  if (dropped != nullptr) metrics().AddSize(-1);
  if (stored) metrics().Put();
  if (added) metrics().AddSize(1);
  for (const auto& e : evicted) {
    metrics().Eviction(e->used);
    metrics().AddSize(-1);
  }
  return stored;
}

VITALS_LRU_TEMPLATE
inline void VITALS_LRU::DeleteAll(Shard& s) {
  std::vector<std::unique_ptr<Node>> all;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    all.reserve(s.count);
    while (s.lru.next != &s.lru) all.push_back(UnlinkLocked(s, static_cast<Node*>(s.lru.next)));
  }
  if (!all.empty()) metrics().AddSize(-static_cast<double>(all.size()));
}

VITALS_LRU_TEMPLATE
template <typename Loader>
inline absl::StatusOr<Value> VITALS_LRU::CallLoader(Loader& loader) {
  try {
    return loader();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("cache loader threw: ") + e.what());
  } catch (...) {
    return absl::InternalError("cache loader threw a non-standard exception");
  }
}

#undef VITALS_LRU
#undef VITALS_LRU_TEMPLATE

}  // namespace vitals

#endif  // VITALS_LRU_CACHE_H_
