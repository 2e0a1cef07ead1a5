// agent/base/mutex.h: the agent's mutex and condition variable, a std::mutex and a
// std::condition_variable with abseil's thread-safety annotations.
//
// Every lock of the library is one of these, and every field one guards says so with
// ABSL_GUARDED_BY, so the guarded-by relation is written in the code, not in a comment (clang's
// -Wthread-safety can check it). Why not absl::Mutex: Debian ships abseil prebuilt without
// ThreadSanitizer, so TSan cannot see the ordering absl::Mutex provides and reports false races
// in the code it guards. std::mutex goes through pthread, which TSan intercepts, so the TSan
// build checks our real locking. None of these locks is on a recording hot path.
// (include/vitals/lru_cache.h, header-only and public, uses std::mutex directly: it cannot
// include this.)

#ifndef VITALS_AGENT_BASE_MUTEX_H_
#define VITALS_AGENT_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace vitals {
namespace internal {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

// Waits on a Mutex the caller holds: the mutex is released while waiting and held again when a
// wait returns. Waits with a condition re-check it after every wake-up (spurious ones too).
class CondVar {
 public:
  // Until `done()` holds.
  template <typename Pred>
  void Wait(Mutex* mu, Pred done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock, done);
    lock.release();
  }
  // Until `done()` holds or `deadline` passes; returns done().
  template <typename Clock, typename Duration, typename Pred>
  bool WaitUntil(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline, Pred done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool result = cv_.wait_until(lock, deadline, done);
    lock.release();
    return result;
  }
  // Until `done()` holds or `timeout` passes; returns done().
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout, Pred done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout, done);
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_MUTEX_H_
