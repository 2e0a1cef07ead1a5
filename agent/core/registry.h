// agent/core/registry.h: every metric family of one agent, and the prometheus-cpp collectables it
// also serves. This is the boundary between agent state and exporters: an exporter walks the
// families (`ForEachFamily`, `Family::Visit`) and the collectables, and owns the wire format.

#ifndef VITALS_AGENT_CORE_REGISTRY_H_
#define VITALS_AGENT_CORE_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "agent/base/mutex.h"
#include "agent/core/agent_life.h"
#include "agent/core/callback_runner.h"
#include "agent/core/family.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace vitals {
namespace internal {

// Who asked for a family: the agent (its series are referenced by the agent's own code), the
// public API (its series may be removed), or a scrape-time callback (no handles at all).
enum class FamilyKind { kBuiltIn, kUser, kCallback };

class Registry {
 public:
  // `clock` times exemplars (null: Clock::Default()); it must outlive the registry.
  explicit Registry(size_t series_limit, const Clock* clock = nullptr);

  // Creates a family, or returns the existing one with the same name, type, labels and
  // buckets and extras (a callback's family and one of handles never share a name; a user's
  // request for a built-in family gets it, not removable). `series_limit` 0 means the registry
  // default. Errors: InvalidArgument (names, buckets), AlreadyExists (the name, or one of its
  // derived names, is taken by something else), ResourceExhausted (no cells left).
  absl::StatusOr<Family*> GetOrCreate(absl::string_view name, absl::string_view help,
                                      MetricType type, std::vector<std::string> label_names,
                                      std::vector<double> bounds, size_t series_limit = 0,
                                      HistogramExtras extras = {},
                                      FamilyKind kind = FamilyKind::kBuiltIn)
      ABSL_LOCKS_EXCLUDED(mu_);

  // GetOrCreate for a family asked for by label names in any order (the by-name getters): an
  // existing family of that name and type whose label names are the same set is returned
  // (still checked like GetOrCreate); else one is created with the names in the order given.
  absl::StatusOr<Family*> GetOrCreateAnyOrder(absl::string_view name, absl::string_view help,
                                              MetricType type, std::vector<std::string> label_names,
                                              std::vector<double> bounds = {},
                                              HistogramExtras extras = {},
                                              FamilyKind kind = FamilyKind::kUser)
      ABSL_LOCKS_EXCLUDED(mu_);

  const Clock& clock() const { return *clock_; }

  // Labels every family's series are served with (Options::constant_labels, already checked),
  // except a family marked with Family::set_identity. Set once, before the registry is
  // shared; from then on a family whose label names include one of them is InvalidArgument.
  void SetConstantLabels(std::vector<std::pair<std::string, std::string>> labels);
  const std::vector<std::pair<std::string, std::string>>& constant_labels() const {
    return constant_labels_;
  }
  // The same as `a="x",b="y"`, escaped (empty when there are none).
  const std::string& constant_labels_text() const { return constant_labels_text_; }

  // The token every handle of this registry's families keeps (vitals/detail/agent_life.h).
  uint64_t life() const { return life_.token(); }
  // Ends the registry's life for its handles: from now on they record nothing. The agent calls
  // it once its last push and sample are done, before it frees anything; the destructor too.
  void Retire() { life_.Retire(); }

  // Runs a round of the callbacks (bounded; agent/core/callback_runner.h), then calls
  // fn(Family&) for every family in creation order. `families` is the list it copies them into:
  // a caller that keeps it allocates nothing once it has grown.
  template <typename Fn>
  void ForEachFamily(Fn&& fn, std::vector<Family*>& families) ABSL_LOCKS_EXCLUDED(mu_) {
    callbacks_.RunRound();
    families.clear();
    {
      internal::MutexLock lock(&mu_);
      families.reserve(families_.size());
      for (const auto& f : families_) families.push_back(f.get());
    }
    for (Family* f : families) fn(*f);  // families are never removed while the registry lives
  }
  template <typename Fn>
  void ForEachFamily(Fn&& fn) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<Family*> families;
    ForEachFamily(std::forward<Fn>(fn), families);
  }

  // True when a family of this registry emits `name` (including histogram-derived names).
  bool Emits(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  // The functions run before every walk of the families (every scrape, push and live sample):
  // the public callback metrics and the agent's own computed gauges (a circuit breaker's window
  // rates). Configure it once, before the first Add: the timeout, the log and the failure
  // counter (created here).
  CallbackRunner& callbacks() { return callbacks_; }
  void ConfigureCallbacks(absl::Duration timeout, RateLimitedLog* log);
  // A function of the agent's own, run in every round; it only sets values. Returns its id.
  uint64_t AddRefresher(absl::string_view metric, std::function<void()> fn);
  // Removes a refresher; waits while it runs, so its state may go right after.
  void RemoveRefresher(uint64_t id) { callbacks_.Remove(id); }

  // The series budget of every family that holds a series or overflowed, most series first:
  // vitals_series and vitals_series_limit{metric} (set in each callback round, once
  // ConfigureCallbacks ran), and the live page's cardinality table.
  struct Budget {
    Family* family = nullptr;
    size_t series = 0;      // live label sets, not counting __overflow__
    size_t limit = 0;       // the family's series limit (1 for a family without labels)
    double overflowed = 0;  // label-set lookups folded into __overflow__
    bool expires = false;   // the family expires idle series
    uint64_t expired = 0;   // series it expired so far
  };
  std::vector<Budget> SeriesBudget() ABSL_LOCKS_EXCLUDED(mu_);

  // Idle expiry (Options::series_idle_ttl). The epoch every expiring family's series mark
  // when they record: the agent's sweeper moves it once per sweep period, after the sweeps.
  const std::atomic<uint32_t>* idle_epoch() const { return &idle_epoch_.value; }
  // Families of the public API created from now on may expire idle series (the agent's TTL is
  // not 0). Before any is created.
  void EnableIdleExpiry() { idle_expiry_ = true; }
  void AdvanceIdleEpoch();
  // Expires the idle series (no record for `ttl` nanoseconds at `now`, the agent clock) of
  // every family that expires them, except those their owner sweeps (the outbound-call
  // families: UpstreamMetrics::SweepIdle). The sweeper thread, or a test.
  void SweepIdle(int64_t now, int64_t ttl) ABSL_LOCKS_EXCLUDED(mu_);

  void AddCollectable(std::weak_ptr<prometheus::Collectable> collectable) ABSL_LOCKS_EXCLUDED(mu_);
  // The collectables still alive; expired ones are dropped.
  std::vector<std::shared_ptr<prometheus::Collectable>> Collectables() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const size_t series_limit_;
  const Clock* const clock_;
  std::vector<std::pair<std::string, std::string>> constant_labels_;  // set before sharing
  std::string constant_labels_text_;
  AgentLife life_;
  internal::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  // Every emitted name (a histogram's _bucket/_sum/_count too) -> its family.
  absl::flat_hash_map<std::string, Family*> names_ ABSL_GUARDED_BY(mu_);
  Family* overflow_family_ ABSL_GUARDED_BY(mu_) = nullptr;
  Family* expired_family_ ABSL_GUARDED_BY(mu_) = nullptr;  // vitals_series_expired_total
  struct alignas(64) IdleEpoch {
    std::atomic<uint32_t> value{1};  // a line of its own: read by records, written by sweeps
  };
  IdleEpoch idle_epoch_;
  bool idle_expiry_ = false;
  Family* series_family_ ABSL_GUARDED_BY(mu_) = nullptr;        // vitals_series
  Family* series_limit_family_ ABSL_GUARDED_BY(mu_) = nullptr;  // vitals_series_limit
  void RefreshSeriesBudget() ABSL_LOCKS_EXCLUDED(mu_);
  // Makes `f`'s vitals_series and vitals_series_limit series, hidden (at its creation).
  void PrepareBudgetSeries(Family* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RefreshSeriesBudget's list, filled under mu_ and read by the callback thread alone.
  std::vector<Family*> refresh_families_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
  CallbackRunner callbacks_;  // last member: its thread stops before the families go
};

// Validates histogram bucket bounds: 1..kMaxBuckets finite, strictly increasing values.
absl::Status ValidateBuckets(absl::string_view metric, const std::vector<double>& bounds);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_REGISTRY_H_
