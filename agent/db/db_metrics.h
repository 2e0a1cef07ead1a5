// agent/db/db_metrics.h: the database families, statement recording and N+1 detection behind
// vitals/db.h.

#ifndef VITALS_AGENT_DB_DB_METRICS_H_
#define VITALS_AGENT_DB_DB_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/base/log_throttle.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/core/request_db.h"
#include "agent/db/explainer.h"
#include "agent/db/n_plus_one_table.h"
#include "agent/db/statement_table.h"
#include "vitals/clock.h"
#include "vitals/db.h"
#include "vitals/options.h"

namespace vitals {
namespace internal {

// What EXPLAIN needs of a call (vitals/explain.h); views valid during Record.
struct PlanInput {
  absl::string_view statement;
  StatementParams params;
};

class DbMetrics : public RequestObserver {
 public:
  static absl::StatusOr<std::unique_ptr<DbMetrics>> Create(Registry& registry,
                                                           const Options& options,
                                                           const Clock* clock, RateLimitedLog* log);

  const Clock& clock() const { return *clock_; }

  // A statement resolved to what recording a call of it touches; valid while the agent lives.
  struct Call {
    Series* duration = nullptr;  // db_client_operation_duration_seconds of a successful call
    StatementStats* stats = nullptr;
    uint64_t hash = 0;  // of the normalized text: the N+1 key
  };
  // Normalizes `statement` (once per distinct text per thread: a per-thread cache) and finds
  // its series and statement-table entry. Lock-free for a statement seen before.
  Call Resolve(const DbTarget& target, absl::string_view statement);
  Call Resolve(absl::string_view system, absl::string_view statement) {
    return Resolve(DbTarget{system}, statement);
  }

  // Records a call that ran from `start_nanos` to `end_nanos` (the agent clock): its duration
  // (a negative time counts as zero), its statement's stats, and, for the request current on
  // this thread, its N+1 count and its place in the request's call log. A non-empty
  // `error_type` marks it failed (the series with that `error_type` label, found per call).
  // `plan`: the statement as sent and its parameters, for EXPLAIN when the call is slow
  // (vitals/explain.h); null when the caller did not give them.
  void Record(const Call& call, int64_t start_nanos, int64_t end_nanos,
              absl::string_view error_type = {}, const PlanInput* plan = nullptr) {
    RecordCall(call, end_nanos - start_nanos, start_nanos, end_nanos, error_type, plan);
  }
  // The same for a call known by its duration only (the request's breakdown counts it as
  // overlapping nothing).
  void Record(absl::string_view system, absl::string_view statement, int64_t nanos,
              absl::string_view error_type = {}) {
    RecordCall(Resolve(system, statement), nanos, 0, -1, error_type);
  }

  // `end_nanos` < `start_nanos`: only `nanos` is known.
  void RecordCall(const Call& call, int64_t nanos, int64_t start_nanos, int64_t end_nanos,
                  absl::string_view error_type, const PlanInput* plan = nullptr);

  // Explaining slow statements (vitals/explain.h): null unless Options::explain_threshold.
  Explainer* explainer() { return explainer_.get(); }

  // A request ends: logs its N+1 detection, if any, with the final count.
  void RequestFinished(const RouteLabels& route, const RequestDb& db) override;

  DbPool Pool(absl::string_view name);

  // Calls, total and longest time per normalized statement (the live page's top statements).
  static constexpr size_t kMaxStatements = 500;
  const StatementTable& statements() const { return *statements_; }
  // The N+1 patterns seen (the live page's list).
  const NPlusOneTable& n_plus_one_patterns() const { return patterns_; }

 private:
  DbMetrics() = default;
  void Detected(RequestDb& db, const Call& call);

  uint64_t id_ = 0;  // tells this agent's entries apart in the per-thread statement cache
  const Clock* clock_ = nullptr;
  RateLimitedLog* log_ = nullptr;
  std::unique_ptr<LogThrottle> n_plus_one_log_;
  std::unique_ptr<StatementTable> statements_;
  NPlusOneTable patterns_;  // one line per (route, statement) a minute
  uint32_t threshold_ = 5;
  int64_t explain_nanos_ = 0;  // Options::explain_threshold; 0 = off
  std::unique_ptr<Explainer> explainer_;
  Family* index_candidates_ = nullptr;
  Family* explains_ = nullptr;
  Family* duration_ = nullptr;
  Family* n_plus_one_ = nullptr;
  Family* pool_count_ = nullptr;
  Family* pool_max_ = nullptr;
  Family* pool_pending_ = nullptr;
  Family* pool_wait_ = nullptr;
  Family* pool_use_ = nullptr;
  Family* pool_create_ = nullptr;
  Family* pool_timeouts_ = nullptr;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_DB_DB_METRICS_H_
