#include "agent/profiling/auto_profiler.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/core/family_spec.h"

namespace vitals {
namespace internal {

absl::StatusOr<std::unique_ptr<AutoProfiler>> AutoProfiler::Create(Registry& registry,
                                                                   Config config, Capture capture,
                                                                   const Clock* clock,
                                                                   RateLimitedLog* log) {
  if (config.slow_requests < 1 || config.slow_requests > 1000 || config.keep < 1) {
    return absl::InvalidArgumentError("automatic profiles: bad configuration");
  }
  Family* captured = nullptr;
  absl::Status s = CreateFamilies(
      registry, {{&captured,
                  "vitals_auto_profiles_total",
                  "CPU profiles the agent captured by itself, by trigger (slow_requests: a burst "
                  "of slow requests); listed at /debug/pprof/auto/.",
                  MetricType::kCounter,
                  {"trigger"}}});
  if (!s.ok()) return s;
  const absl::string_view trigger = "slow_requests";
  return std::unique_ptr<AutoProfiler>(new AutoProfiler(
      config, std::move(capture), clock, log, captured->Find(absl::MakeConstSpan(&trigger, 1))));
}

AutoProfiler::AutoProfiler(Config config, Capture capture, const Clock* clock, RateLimitedLog* log,
                           Series* captured)
    : config_(config),
      capture_(std::move(capture)),
      clock_(clock),
      log_(log),
      captured_(captured),
      ring_(new Slot[static_cast<size_t>(config.slow_requests)]) {}

AutoProfiler::~AutoProfiler() { Stop(); }

void AutoProfiler::Start(std::string where) {
  MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  where_ = std::move(where);
  cancel_.store(false, std::memory_order_release);
  pending_.reset();
  thread_ = std::thread([this] { Run(); });
  quiet_until_.store(INT64_MIN, std::memory_order_release);
}

void AutoProfiler::Stop() {
  std::thread thread;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    quiet_until_.store(INT64_MAX, std::memory_order_release);
    cancel_.store(true, std::memory_order_release);
    thread = std::move(thread_);
  }
  wake_.SignalAll();
  if (thread.joinable()) thread.join();
}

void AutoProfiler::SlowRequest(const RouteLabels& route, int64_t now) {
  if (now < quiet_until_.load(std::memory_order_relaxed)) return;
  const uint64_t n = static_cast<uint64_t>(config_.slow_requests);
  const uint64_t i = next_slot_.fetch_add(1, std::memory_order_relaxed);
  Slot& slot = ring_[i % n];
  slot.route.store(&route, std::memory_order_relaxed);
  slot.nanos.store(now, std::memory_order_release);
  // The slot written n - 1 slow requests ago (i - (n - 1) is i + 1 modulo n): the burst is
  // there when it is inside the window.
  const int64_t first = ring_[(i + 1) % n].nanos.load(std::memory_order_acquire);
  if (i + 1 < n || first == INT64_MIN || now - first > absl::ToInt64Nanoseconds(config_.window)) {
    return;
  }
  int64_t quiet = quiet_until_.load(std::memory_order_relaxed);
  if (now < quiet || !quiet_until_.compare_exchange_strong(quiet, INT64_MAX)) return;
  // This thread won the trigger (once per cooldown): gather the burst for the capture thread.
  triggers_.fetch_add(1, std::memory_order_acq_rel);
  Trigger trigger;
  trigger.nanos = now;
  trigger.first_nanos = first;
  trigger.routes.reserve(n);
  for (uint64_t k = 0; k < n; ++k) {
    if (ring_[k].nanos.load(std::memory_order_acquire) < first) continue;
    if (const RouteLabels* r = ring_[k].route.load(std::memory_order_relaxed)) {
      trigger.routes.push_back(r);
    }
  }
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    pending_ = std::move(trigger);
  }
  wake_.Signal();
}

void AutoProfiler::Run() {
  for (;;) {
    Trigger trigger;
    {
      MutexLock lock(&mu_);
      wake_.Wait(&mu_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || pending_.has_value();
      });
      if (stopping_) return;
      trigger = std::move(*pending_);
      pending_.reset();
    }
    try {
      CaptureOne(trigger);
    } catch (...) {  // out of memory while encoding: the host goes on; so does this thread
      log_->Log(LogSeverity::kError, "automatic profile failed: out of memory");
      MutexLock lock(&mu_);
      if (!stopping_) {
        quiet_until_.store(trigger.nanos + absl::ToInt64Nanoseconds(config_.cooldown));
      }
    }
  }
}

void AutoProfiler::CaptureOne(const Trigger& trigger) {
  captures_started_.fetch_add(1, std::memory_order_acq_rel);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> profile =
      capture_(config_.duration, [this] { return cancel_.load(std::memory_order_acquire); });
  const int64_t end = clock_->NowNanos();
  if (cancel_.load(std::memory_order_acquire)) return;  // stopping: nothing to keep or re-arm

  auto rearm = [this](int64_t at) {
    MutexLock lock(&mu_);
    if (!stopping_) quiet_until_.store(at, std::memory_order_release);
  };
  const int64_t cooldown_end = trigger.nanos + absl::ToInt64Nanoseconds(config_.cooldown);
  if (!profile.ok()) {
    if (absl::IsAlreadyExists(profile.status())) {
      log_->Log(LogSeverity::kInfo,
                absl::StrCat("automatic profile skipped: ", profile.status().message(),
                             "; armed again for the next burst of slow requests"));
      rearm(end);
    } else {
      log_->Log(LogSeverity::kWarning,
                absl::StrCat("automatic profile failed: ", profile.status().message(),
                             "; next attempt after the cooldown (",
                             absl::FormatDuration(config_.cooldown), ")"));
      rearm(cooldown_end);
    }
    return;
  }

  // The burst's routes, most slow requests first.
  absl::flat_hash_map<const RouteLabels*, int> counts;
  for (const RouteLabels* r : trigger.routes) ++counts[r];
  AutoProfileInfo info;
  info.start = start;
  info.duration = config_.duration;  // a capture cut short is cancelled, never kept
  info.trigger = "slow_requests";
  info.bytes = profile->size();
  for (const auto& [route, count] : counts) {
    info.routes.push_back(AutoProfileRoute{route->method, route->route, count});
  }
  std::sort(info.routes.begin(), info.routes.end(),
            [](const AutoProfileRoute& a, const AutoProfileRoute& b) {
              if (a.slow_requests != b.slow_requests) return a.slow_requests > b.slow_requests;
              return std::tie(a.route, a.method) < std::tie(b.route, b.method);
            });
  std::vector<std::string> summary;
  for (const AutoProfileRoute& r : info.routes) {
    summary.push_back(absl::StrCat(r.method, " ", r.route, " x", r.slow_requests));
  }

  size_t dropped = 0;
  {
    MutexLock lock(&kept_mu_);
    info.id = next_id_++;
    if (info.bytes > config_.max_bytes) {
      dropped = info.bytes;
    } else {
      kept_bytes_ += info.bytes;
      kept_.push_back(Kept{info, *std::move(profile)});
      while (kept_.size() > static_cast<size_t>(config_.keep) || kept_bytes_ > config_.max_bytes) {
        kept_bytes_ -= kept_.front().data.size();
        kept_.pop_front();
      }
    }
  }
  AddToSeries(*captured_, 1.0);
  std::string where;
  {
    MutexLock lock(&mu_);
    where = where_.empty() ? absl::StrCat("Agent::AutoProfile(", info.id, ")")
                           : absl::StrCat("go tool pprof ", where_, info.id);
  }
  const absl::Duration burst =
      absl::Trunc(absl::Nanoseconds(trigger.nanos - trigger.first_nanos), absl::Milliseconds(1));
  if (dropped > 0) {
    log_->Log(LogSeverity::kWarning,
              absl::StrCat("automatic profile ", info.id, " (", dropped,
                           " bytes) is larger than the space kept for them (", config_.max_bytes,
                           " bytes) and was dropped"));
  } else {
    log_->Log(
        LogSeverity::kInfo,
        absl::StrCat("automatic profile ", info.id, ": ", absl::FormatDuration(config_.duration),
                     " CPU profile after ", trigger.routes.size(), " slow requests within ",
                     absl::FormatDuration(burst), " (", absl::StrJoin(summary, ", "),
                     "); fetch: ", where));
  }
  rearm(std::max(cooldown_end, end));
}

std::vector<AutoProfileInfo> AutoProfiler::List() const {
  MutexLock lock(&kept_mu_);
  std::vector<AutoProfileInfo> out;
  out.reserve(kept_.size());
  for (auto it = kept_.rbegin(); it != kept_.rend(); ++it) out.push_back(it->info);
  return out;
}

absl::StatusOr<std::string> AutoProfiler::Get(int64_t id) const {
  MutexLock lock(&kept_mu_);
  for (const Kept& k : kept_) {
    if (k.info.id == id) return k.data;
  }
  return absl::NotFoundError(
      absl::StrCat("no automatic profile ", id, " (only the last ", config_.keep, " are kept)"));
}

}  // namespace internal
}  // namespace vitals
