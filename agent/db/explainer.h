// agent/db/explainer.h: explaining slow statements off the request path (vitals/explain.h).
//
// A successful database call at least `explain_threshold` long is Offered with its statement
// and parameters. The statement is queued only when its entry is due (not explained in the
// last `explain_interval`: one compare-and-swap on the entry decides), not queued already, and
// its target has a plan source; the statement and parameters are then copied (at most 1 MiB
// each), so the caller's buffers are free when Offer returns. One thread, started with the
// first job, takes jobs in order: the source's EXPLAIN, the plan reader
// (agent/db/plan_reader.h), the table size of each sequential scan with a filter, then the
// plan goes to the statement entry, the index-candidate counter counts each table at least
// `explain_min_rows` large, and one warning names it. A failure (refused, timed out, database
// unreachable) is kept as the entry's plan error, counted, and logged at most once per target
// per interval; the statement is not tried again before its interval passes.
//
// Bounds: 16 queued jobs (more are dropped and counted as skipped), 16 plan sources, 1 MiB of
// statement and of parameters (larger is skipped), 64 KiB of plan text kept per statement.
// Thread-safety: every method may be called from any thread. Stop() cancels the call in
// progress through PlanSource::Cancel and joins the thread; a later Offer starts it again.
// Cost: Offer is reached only past the threshold; a statement not due costs a load.

#ifndef VITALS_AGENT_DB_EXPLAINER_H_
#define VITALS_AGENT_DB_EXPLAINER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/base/log_throttle.h"
#include "agent/base/mutex.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/family.h"
#include "agent/db/statement_table.h"
#include "vitals/clock.h"
#include "vitals/db.h"
#include "vitals/explain.h"

namespace vitals {
namespace internal {

class Explainer {
 public:
  static constexpr size_t kMaxQueued = 16;
  static constexpr size_t kMaxSources = 16;
  static constexpr size_t kMaxInputBytes = 1 << 20;

  struct Config {
    absl::Duration interval = absl::Minutes(5);
    double min_rows = 10000;
  };
  // `candidates`: vitals_db_index_candidates_total{db_system_name,db_namespace,
  // db_collection_name}; `outcomes`: vitals_db_explains_total{db_system_name,outcome}. All
  // must outlive this.
  Explainer(const Config& config, const Clock* clock, RateLimitedLog* log, Family* candidates,
            Family* outcomes);
  ~Explainer() { Stop(); }
  Explainer(const Explainer&) = delete;
  Explainer& operator=(const Explainer&) = delete;

  // The plan source of calls to `target` (its system, namespace, address and port).
  // AlreadyExists when the target has one; ResourceExhausted past kMaxSources.
  absl::Status SetSource(const DbTarget& target, std::unique_ptr<PlanSource> source)
      ABSL_LOCKS_EXCLUDED(mu_);
  bool HasSource(const DbTarget& target) const ABSL_LOCKS_EXCLUDED(mu_);

  // A slow successful call of `stats`'s statement to the target whose labels are `target`
  // (db_client_operation_duration_seconds' values: system, operation, table, error type,
  // namespace, address, port).
  void Offer(StatementStats* stats, const std::vector<std::string>& target,
             absl::string_view statement, const StatementParams& params) ABSL_LOCKS_EXCLUDED(mu_);

  // Cancels the call in progress, drops the queue and joins the thread.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Until no job is queued or running, or `timeout` passed; returns whether idle. For tests.
  bool WaitIdle(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Job {
    StatementStats* stats = nullptr;
    PlanSource* source = nullptr;
    std::string target_key;
    std::string system, db_namespace;
    std::string statement;
    std::vector<PlanParam> params;
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void Explain(Job& job);
  // The table's estimated rows, -1 when not known.
  double TableRows(PlanSource& source, const std::string& table);
  void Count(absl::string_view system, absl::string_view outcome);
  // Gives the entry back to Offer (queue dropped or full).
  static void Release(StatementStats* stats);

  const Config config_;
  const Clock* const clock_;
  RateLimitedLog* const log_;
  Family* const candidates_;
  Family* const outcomes_;
  LogThrottle failure_log_;    // per target
  LogThrottle candidate_log_;  // per statement and table

  mutable Mutex mu_;
  CondVar wake_;
  std::map<std::string, std::unique_ptr<PlanSource>> sources_ ABSL_GUARDED_BY(mu_);
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  PlanSource* running_ ABSL_GUARDED_BY(mu_) = nullptr;  // the source of the job in progress
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

// The key of a target in Explainer's sources: its labels joined.
std::string PlanTargetKey(absl::string_view system, absl::string_view db_namespace,
                          absl::string_view server_address, absl::string_view server_port);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_DB_EXPLAINER_H_
