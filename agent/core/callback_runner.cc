#include "agent/core/callback_runner.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/core/family.h"

namespace vitals {
namespace internal {

CallbackRunner::~CallbackRunner() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void CallbackRunner::Configure(absl::Duration timeout, RateLimitedLog* log, Family* failures) {
  timeout_ = timeout;
  log_ = log;
  failures_ = failures;
}

uint64_t CallbackRunner::Add(std::string metric, Fn fn) {
  MutexLock lock(&mu_);
  auto entry = std::make_shared<Entry>();
  entry->id = next_id_++;
  entry->metric = std::move(metric);
  entry->fn = std::move(fn);
  entries_.push_back(entry);
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { Loop(); });
    thread_id_ = thread_.get_id();
  }
  return entry->id;
}

void CallbackRunner::Remove(uint64_t id) {
  MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if ((*it)->id == id) {
      entries_.erase(it);
      break;
    }
  }
  if (std::this_thread::get_id() == thread_id_) return;  // from a function: it is not waited for
  ++removers_;
  removed_cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ != id; });
  --removers_;
}

bool CallbackRunner::RunRound() {
  std::shared_ptr<Entry> overran;
  {
    MutexLock lock(&mu_);
    if (entries_.empty() || stop_) return true;
    if (std::this_thread::get_id() == thread_id_) return true;  // a walk from a function
    const absl::Time now = absl::Now();
    bool done = true;
    if (in_round_ && now - round_start_ > timeout_) {
      done = false;  // a round is late already: serve the last values at once
    } else {
      // A round that started before this request may have read its state already: wait for
      // the next one.
      const uint64_t want = completed_ + (in_round_ ? 2 : 1);
      if (requested_ < want) requested_ = want;
      cv_.SignalAll();
      const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout_);
      done = cv_.WaitUntil(&mu_, deadline, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return completed_ >= want || stop_;
      });
    }
    if (done) return true;
    for (const auto& e : entries_) {
      if (e->id == running_ && e->reported_round != completed_ + 1) {
        e->reported_round = completed_ + 1;  // one report per overrun
        overran = e;
      }
    }
  }
  if (overran != nullptr) {
    Report(*overran, "timeout",
           absl::StrCat("still running after ", absl::FormatDuration(timeout_),
                        "; scrapes serve its last values until it returns"));
  }
  return false;
}

const char* CallbackRunner::Call(const Entry& entry, std::string& error) {
  try {
    absl::Status s = entry.fn();
    if (s.ok()) return nullptr;
    error = s.ToString();
    return "error";
  } catch (const std::exception& e) {
    error = absl::StrCat("threw: ", e.what());
  } catch (...) {
    error = "threw a non-standard exception";
  }
  return "exception";
}

void CallbackRunner::Report(const Entry& entry, const char* reason, absl::string_view detail) {
  if (failures_ != nullptr) {
    const absl::string_view labels[] = {entry.metric, reason};
    AddToSeries(*failures_->Find(labels), 1.0);
  }
  if (log_ != nullptr) {
    log_->Log(LogSeverity::kWarning,
              absl::StrCat("callback of metric ", entry.metric, ": ", detail));
  }
}

void CallbackRunner::Loop() {
  mu_.Lock();
  for (;;) {
    cv_.Wait(&mu_,
             [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || requested_ > completed_; });
    if (stop_) break;
    const uint64_t target = requested_;
    in_round_ = true;
    round_start_ = absl::Now();
    uint64_t last = 0;
    while (!stop_) {
      // Entries stay in id order (ids grow, Add appends): the next one is a binary search away.
      auto it =
          std::upper_bound(entries_.begin(), entries_.end(), last,
                           [](uint64_t id, const std::shared_ptr<Entry>& e) { return id < e->id; });
      if (it == entries_.end()) break;
      std::shared_ptr<Entry> next = *it;
      last = next->id;
      running_ = next->id;
      mu_.Unlock();
      std::string error;
      if (const char* reason = Call(*next, error)) Report(*next, reason, error);
      mu_.Lock();
      running_ = 0;
      if (removers_ > 0) removed_cv_.SignalAll();  // a Remove waits for it
    }
    in_round_ = false;
    completed_ = target;
    cv_.SignalAll();
  }
  mu_.Unlock();
}

}  // namespace internal
}  // namespace vitals
