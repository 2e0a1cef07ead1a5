// agent/upstream/upstream_metrics.h: the built-in outbound-call metrics behind UpstreamHandle
// and ClientCallScope (vitals/client.h).
//
// Upstreams are keyed by (normalized method, server address, server port) in an EntryTable. Each
// UpstreamEntry holds its active-calls series and slots that cache its duration series per status
// code and per error type, so a recorded call costs a slot probe and one histogram observe.
//
// Idle expiry (Options::series_idle_ttl, on by default here: the addresses of the instances a
// service calls come and go). SweepIdle, on the agent's sweeper thread, removes the duration and
// active-call series nothing recorded into for the TTL (an active-calls series only while it
// reads 0), after clearing the entries' cached pointers to them under `mu_` (which every
// re-caching takes too), and frees the entries themselves once they are idle, no UpstreamHandle
// points to them (`handles`), no lookup is inside the table, and every request that was in
// flight when they were unlinked has ended (a request's call log points to an entry's label).
// A record follows a cached pointer only with the generation it was cached at, so a series
// removed meanwhile drops the record rather than counting it under other labels; a record that
// races with the expiry of its own series (the first after a TTL of silence) may be dropped.

#ifndef VITALS_AGENT_UPSTREAM_UPSTREAM_METRICS_H_
#define VITALS_AGENT_UPSTREAM_UPSTREAM_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "agent/base/mutex.h"
#include "agent/core/entry_table.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/core/request_db.h"
#include "agent/core/series_slots.h"
#include "vitals/clock.h"

namespace vitals {
namespace internal {

// What one UpstreamMetrics times: HTTP client requests (http_client_*) or RPC client calls
// (rpc_client_call_duration_seconds, vitals_rpc_client_active_calls), whose key has the RPC
// system first and whose statuses are gRPC codes, written by name.
enum class UpstreamKind { kHttp, kRpc };

// kRpc's families beyond the duration and active calls, by index: calls started, messages per
// call received and sent, and each message's size received and sent.
enum UpstreamExtra {
  kStartedCalls = 0,
  kReceivedPerCall,
  kSentPerCall,
  kReceivedBytes,
  kSentBytes,
  kUpstreamExtras
};

struct UpstreamEntry {
  std::string system;                 // kRpc: rpc.system.name; empty for kHttp
  std::string method, address, port;  // label values, repaired
  std::string label;                  // "GET address:port", for the sequential-call log
  // The active-calls series and its generation; null when cleared (before an expiry).
  CachedSeries active;
  SeriesSlots by_status;     // duration series by status code
  TextSeriesSlots by_error;  // duration series of calls without an answer, by error type
  CachedSeries extras[kUpstreamExtras];  // kRpc: the UpstreamExtra series; cleared as `active`
  bool overflow = false;
  std::atomic<uint64_t> handles{0};     // UpstreamHandles pointing here
  std::atomic<uint32_t> last_epoch{0};  // the idle epoch of its last call (MarkCalled)
  int64_t idle_seen = 0;                // the sweeper's (see Family::IdleSeries)
};

// An active-calls series and the generation a ClientCallScope raised it at: it lowers the same.
struct ActiveSeries {
  Series* series = nullptr;
  uint32_t gen = 0;
};

class UpstreamMetrics {
 public:
  // Creates the two families in `registry`; `buckets` are the duration bounds.
  // `idle_epoch`: the registry's (Registry::idle_epoch), when idle series expire; null keeps
  // every series and entry for good.
  static absl::StatusOr<std::unique_ptr<UpstreamMetrics>> Create(
      Registry& registry, std::vector<double> buckets, const Clock* clock, size_t limit,
      const std::atomic<uint32_t>* idle_epoch = nullptr, UpstreamKind kind = UpstreamKind::kHttp);

  // The entry of (method, address, port), with one more UpstreamHandle counted on it
  // (Release gives it back). kRpc: `system` is rpc.system.name, `method` the RPC method.
  UpstreamEntry* Acquire(absl::string_view method, absl::string_view address, int port,
                         absl::string_view system = {});
  UpstreamKind kind() const { return kind_; }
  static void Pin(UpstreamEntry* entry) { entry->handles.fetch_add(1, std::memory_order_seq_cst); }
  static void Release(UpstreamEntry* entry) {
    entry->handles.fetch_sub(1, std::memory_order_seq_cst);
  }

  void Record(UpstreamEntry* entry, int status, int64_t nanos);
  void RecordError(UpstreamEntry* entry, absl::string_view error_type, int64_t nanos);
  // Adds `delta` to the entry's active-calls series; returns the series it added to, for the
  // matching decrement (AddActiveTo).
  ActiveSeries AddActive(UpstreamEntry* entry, double delta);
  static void AddActiveTo(const ActiveSeries& active, double delta) {
    if (active.series != nullptr) AddToCellChecked(*active.series, active.gen, delta);
  }
  // kRpc (nothing for kHttp): adds 1 to calls started (kStartedCalls), or observes `value` in
  // the UpstreamExtra histogram `which`. The cached series' probe, as AddActive's; no lock after
  // the first since the series was made.
  void AddExtra(UpstreamEntry* entry, UpstreamExtra which, double value);
  const Clock& clock() const { return *clock_; }

  // Expires what was idle for `ttl` nanoseconds at `now` (the agent clock); see above. The
  // sweeper thread (or a test), before Registry::AdvanceIdleEpoch.
  void SweepIdle(int64_t now, int64_t ttl) ABSL_LOCKS_EXCLUDED(mu_);
  // Entries in the table, and entries out of it not freed yet (for tests).
  size_t entries() { return table_.size(); }
  size_t retired_entries() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  UpstreamMetrics(UpstreamKind kind, Family* duration, Family* active, const Clock* clock,
                  size_t limit, const std::atomic<uint32_t>* idle_epoch);
  // The entry's series of `family` keyed by the entry alone (the active calls, kRpc's extras):
  // the one `cached`, or the family's lookup, cached again when still current.
  Series* CachedOrFound(Family* family, CachedSeries& cached, const UpstreamEntry& entry,
                        uint32_t* gen) ABSL_LOCKS_EXCLUDED(mu_);
  // kRpc's extra families (Create).
  static absl::Status CreateRpcExtras(Registry& registry, bool expirable,
                                      Family* (&extras)[kUpstreamExtras]);
  // The key of an entry: (method, address, port), with the system first for kRpc.
  absl::Span<const absl::string_view> KeyOf(const UpstreamEntry& entry,
                                            absl::string_view (&key)[4]) const;
  Series* SeriesFor(UpstreamEntry* entry, int status, absl::string_view error_type, uint32_t* gen);
  // The status series of `entry`, cached in its slot when it can be.
  Series* StatusSeries(UpstreamEntry* entry, int status, uint32_t* gen);
  void MarkCalled(UpstreamEntry* entry) const {
    if (idle_epoch_ == nullptr) return;
    const uint32_t now = idle_epoch_->load(std::memory_order_relaxed);
    if (entry->last_epoch.load(std::memory_order_relaxed) != now) {
      entry->last_epoch.store(now, std::memory_order_relaxed);
    }
  }
  // Runs `fill()` (which caches `series`) under mu_ if `series` still has the labels it had at
  // `gen`: a sweep holds mu_ from clearing the caches to removing their series, so one that
  // went meanwhile shows here as unlinked. Never caches an overflow series.
  template <typename Fill>
  void CacheIfCurrent(Series* series, uint32_t gen, Fill&& fill) ABSL_LOCKS_EXCLUDED(mu_) {
    if (series->overflow) return;
    internal::MutexLock lock(&mu_);
    if (series->linked.load(std::memory_order_seq_cst) &&
        series->generation.load(std::memory_order_seq_cst) == gen) {
      fill();
    }
  }
  // The entries' part of SweepIdle, under mu_.
  void SweepEntries(int64_t now, int64_t ttl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const UpstreamKind kind_;
  Family* const duration_;
  Family* const active_;
  Family* extras_[kUpstreamExtras] = {};  // kRpc only
  const Clock* const clock_;
  const std::atomic<uint32_t>* const idle_epoch_;
  internal::Mutex mu_;  // the entries' cached series pointers' writers, and the sweep
  EntryTable<UpstreamEntry> table_;
  // Unlinked entries: waiting for lookups to leave the table and for their handles to go
  // (`held_`), then for the requests in flight then to end (`retired_`).
  struct Retired {
    std::vector<std::unique_ptr<UpstreamEntry>> entries;
    InFlightRequests requests;
  };
  std::vector<std::unique_ptr<UpstreamEntry>> unlinked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<UpstreamEntry>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<Retired> retired_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_UPSTREAM_UPSTREAM_METRICS_H_
