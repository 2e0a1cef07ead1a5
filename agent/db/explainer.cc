#include "agent/db/explainer.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent/db/plan_reader.h"
#include "vitals/detail/cells.h"

namespace vitals {
namespace internal {
namespace {

// Statements in log lines: the normalized text, cut.
std::string Shown(absl::string_view text) {
  return text.size() > 200 ? absl::StrCat(text.substr(0, 200), "...") : std::string(text);
}

// A PostgreSQL identifier, quoted; "schema.table" as the plan reader writes it, each part.
std::string QuoteIdentifier(absl::string_view name) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(name, absl::MaxSplits('.', 1))) {
    parts.push_back(absl::StrCat("\"", absl::StrReplaceAll(part, {{"\"", "\"\""}}), "\""));
  }
  return absl::StrJoin(parts, ".");
}

absl::Duration LogInterval(absl::Duration interval) { return std::max(interval, absl::Minutes(1)); }

std::string Rows(double rows) { return absl::StrCat(static_cast<int64_t>(rows)); }

}  // namespace

std::string PlanTargetKey(absl::string_view system, absl::string_view db_namespace,
                          absl::string_view server_address, absl::string_view server_port) {
  return absl::StrCat(system, "\x1f", db_namespace, "\x1f", server_address, "\x1f", server_port);
}

namespace {

// A target's key as its calls' labels spell it (port 0: the empty label).
std::string KeyOf(const DbTarget& t) {
  return PlanTargetKey(t.system, t.db_namespace, t.server_address,
                       t.server_port > 0 ? absl::StrCat(t.server_port) : "");
}

}  // namespace

Explainer::Explainer(const Config& config, const Clock* clock, RateLimitedLog* log,
                     Family* candidates, Family* outcomes)
    : config_(config),
      clock_(clock),
      log_(log),
      candidates_(candidates),
      outcomes_(outcomes),
      failure_log_(log, clock, LogInterval(config.interval)),
      candidate_log_(log, clock, LogInterval(config.interval)) {}

absl::Status Explainer::SetSource(const DbTarget& target, std::unique_ptr<PlanSource> source) {
  if (source == nullptr) return absl::InvalidArgumentError("SetPlanSource: null source");
  if (target.system.empty()) return absl::InvalidArgumentError("SetPlanSource: empty system");
  const std::string key = KeyOf(target);
  MutexLock lock(&mu_);
  if (sources_.count(key) != 0) {
    return absl::AlreadyExistsError("SetPlanSource: this target has a plan source");
  }
  if (sources_.size() >= kMaxSources) {
    return absl::ResourceExhaustedError(
        absl::StrCat("SetPlanSource: at most ", kMaxSources, " plan sources"));
  }
  sources_[key] = std::move(source);
  return absl::OkStatus();
}

bool Explainer::HasSource(const DbTarget& target) const {
  const std::string key = KeyOf(target);
  MutexLock lock(&mu_);
  return sources_.count(key) != 0;
}

void Explainer::Count(absl::string_view system, absl::string_view outcome) {
  const absl::string_view labels[] = {system, outcome};
  if (Series* s = outcomes_->Find(labels)) AddToSeries(*s, 1.0);
}

void Explainer::Release(StatementStats* stats) {
  // Due again at once: a dropped job was not an explanation.
  stats->next_explain_nanos.store(INT64_MIN, std::memory_order_relaxed);
  stats->explaining.store(false, std::memory_order_release);
}

void Explainer::Offer(StatementStats* stats, const std::vector<std::string>& target,
                      absl::string_view statement, const StatementParams& params) {
  if (stats == nullptr || stats->system.empty() || target.size() < 7) return;  // overflow entry
  const int64_t now = clock_->NowNanos();
  int64_t next = stats->next_explain_nanos.load(std::memory_order_relaxed);
  if (now < next || stats->explaining.load(std::memory_order_relaxed)) return;
  const int64_t interval = absl::ToInt64Nanoseconds(config_.interval);
  if (!stats->next_explain_nanos.compare_exchange_strong(next, now + interval,
                                                         std::memory_order_relaxed)) {
    return;  // another thread took this round
  }
  const std::string key = PlanTargetKey(target[0], target[4], target[5], target[6]);
  Job job;
  {
    MutexLock lock(&mu_);
    auto it = sources_.find(key);
    if (it != sources_.end()) job.source = it->second.get();
  }
  const std::string where =
      target[4].empty() ? target[0] : absl::StrCat(target[0], " database ", target[4]);
  if (job.source == nullptr) {
    Count(target[0], "skipped");
    failure_log_.Log(key, LogSeverity::kInfo,
                     absl::StrCat("slow statements on ", where,
                                  " are not explained: no plan source for it (vitals/explain.h)"));
    return;
  }
  size_t bytes = 0;
  bool too_large = statement.size() > kMaxInputBytes || params.count < 0 || params.count > 65535;
  for (int i = 0; !too_large && i < params.count; ++i) {
    PlanParam p;
    const char* v = params.values != nullptr ? params.values[i] : nullptr;
    p.type = params.types != nullptr ? params.types[i] : 0;
    if (v == nullptr) {
      p.null = true;
    } else {
      p.binary = params.formats != nullptr && params.formats[i] == 1;
      const size_t n =
          p.binary
              ? static_cast<size_t>(std::max(params.lengths != nullptr ? params.lengths[i] : 0, 0))
              : std::strlen(v);
      bytes += n;
      if (bytes > kMaxInputBytes) break;
      p.value.assign(v, n);
    }
    job.params.push_back(std::move(p));
  }
  if (too_large || bytes > kMaxInputBytes) {
    Count(target[0], "skipped");
    failure_log_.Log(absl::StrCat(key, "\x1flarge"), LogSeverity::kInfo,
                     absl::StrCat("a slow statement on ", where,
                                  " is not explained: its text or parameters are larger than "
                                  "1 MiB (or more than 65535 parameters): `",
                                  Shown(stats->text), "`"));
    return;
  }
  job.stats = stats;
  job.target_key = key;
  job.system = target[0];
  job.db_namespace = target[4];
  job.statement.assign(statement.data(), statement.size());

  MutexLock lock(&mu_);
  if (queue_.size() >= kMaxQueued || stopping_) {
    Count(target[0], "skipped");
    stats->next_explain_nanos.store(INT64_MIN, std::memory_order_relaxed);
    return;
  }
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error&) {
      Count(target[0], "skipped");
      return;
    }
  }
  stats->explaining.store(true, std::memory_order_relaxed);
  queue_.push_back(std::move(job));
  wake_.SignalAll();  // the thread, not only a WaitIdle
}

void Explainer::Run() {
  for (;;) {
    Job job;
    {
      MutexLock lock(&mu_);
      wake_.Wait(&mu_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_ = job.source;
      busy_ = true;
    }
    try {
      Explain(job);
    } catch (...) {  // a plan source that throws: the host never sees it
      Count(job.system, "failed");
    }
    job.stats->explaining.store(false, std::memory_order_release);
    {
      MutexLock lock(&mu_);
      running_ = nullptr;
      busy_ = false;
    }
    wake_.SignalAll();
  }
}

double Explainer::TableRows(PlanSource& source, const std::string& table) {
  absl::StatusOr<double> rows = source.TableRows(table);
  if (rows.ok()) return *rows;
  if (source.format() == PlanFormat::kPostgresJson && absl::IsNotFound(rows.status())) {
    // Never analyzed: the planner's own estimate of the whole table.
    absl::StatusOr<std::string> plan =
        source.Explain(absl::StrCat("SELECT * FROM ", QuoteIdentifier(table)), {});
    if (plan.ok()) {
      absl::StatusOr<PlanReading> r = ReadPostgresPlan(*plan);
      if (r.ok() && r->top_rows >= 0) return r->top_rows;
    }
  }
  return -1;
}

void Explainer::Explain(Job& job) {
  PlanSource& source = *job.source;
  StatementStats& stats = *job.stats;
  auto result = std::make_shared<StatementPlan>();
  absl::StatusOr<std::string> text = source.Explain(job.statement, job.params);
  result->at_nanos = clock_->NowNanos();
  absl::StatusOr<PlanReading> reading = absl::UnknownError("no plan");
  if (text.ok()) {
    if (source.format() == PlanFormat::kPostgresJson) {
      reading = ReadPostgresPlan(*text);
    } else {
      const std::vector<std::string> details = absl::StrSplit(*text, '\n', absl::SkipEmpty());
      const bool filtered = absl::StrContains(absl::AsciiStrToLower(stats.text), "where");
      reading = ReadSqlitePlan(details, filtered);
    }
    result->text = text->substr(0, StatementPlan::kMaxPlanTextBytes);
  }
  const absl::Status failed = !text.ok() ? text.status() : reading.status();
  if (!failed.ok()) {
    result->error = std::string(failed.message().substr(0, 512));
    if (std::shared_ptr<const StatementPlan> previous = stats.plan()) {
      result->top = previous->top;  // the last plan read stays, with the error beside it
      result->text = previous->text;
      result->candidates = previous->candidates;
    }
    Count(job.system, absl::IsDeadlineExceeded(failed) ? "timeout" : "failed");
    failure_log_.Log(job.target_key, LogSeverity::kWarning,
                     absl::StrCat("EXPLAIN of `", Shown(stats.text), "` on ", job.system,
                                  " failed: ", failed.ToString(),
                                  " (a statement is tried again after explain_interval, ",
                                  absl::FormatDuration(config_.interval), ")"));
    stats.set_plan(std::move(result));
    return;
  }
  result->top = reading->top;
  std::vector<std::string> seen;
  for (IndexCandidate& c : reading->candidates) {
    if (std::find(seen.begin(), seen.end(), c.table) != seen.end()) continue;
    seen.push_back(c.table);
    {
      MutexLock lock(&mu_);
      if (stopping_) break;
    }
    const double table_rows = TableRows(source, c.table);
    if (table_rows >= 0 && table_rows < config_.min_rows) continue;  // small: a scan is fine
    const absl::string_view labels[] = {job.system, job.db_namespace, c.table};
    if (Series* s = candidates_->Find(labels)) AddToSeries(*s, 1.0);
    const std::string size =
        table_rows >= 0 ? absl::StrCat(" (about ", Rows(table_rows), " rows)") : std::string();
    const std::string on = c.columns.empty()
                               ? std::string()
                               : absl::StrCat(" to filter on ", absl::StrJoin(c.columns, ", "));
    const std::string index = c.columns.empty()
                                  ? absl::StrCat("an index on the columns its WHERE compares")
                                  : absl::StrCat("an index on ", c.table, " (", c.columns[0], ")");
    candidate_log_.Log(
        absl::StrCat(stats.text, "\x1f", c.table), LogSeverity::kWarning,
        absl::StrCat("index candidate: `", Shown(stats.text), "` reads all of ", c.table, size, on,
                     "; ", index, " would let it read only the rows it needs"));
    result->candidates.push_back(
        StatementPlan::Candidate{c.table, std::move(c.columns), c.rows, table_rows});
  }
  Count(job.system, "ok");
  stats.set_plan(std::move(result));
}

void Explainer::Stop() {
  std::thread thread;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    if (running_ != nullptr) {
      try {
        running_->Cancel();
      } catch (...) {  // a plan source's own code: never let it reach the host
      }
    }
    for (Job& job : queue_) Release(job.stats);
    queue_.clear();
    thread = std::move(thread_);
  }
  wake_.SignalAll();
  if (thread.joinable()) thread.join();
  MutexLock lock(&mu_);
  stopping_ = false;
}

bool Explainer::WaitIdle(absl::Duration timeout) {
  MutexLock lock(&mu_);
  return wake_.WaitFor(&mu_, absl::ToChronoNanoseconds(timeout),
                       [this]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !busy_; });
}

}  // namespace internal
}  // namespace vitals
