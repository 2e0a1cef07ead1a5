// A host whose threads are stuck on purpose, for the thread-stacks and mutex-profile tests
// (tests/integration/thread_stacks_test.cc). It runs an agent with profiling on and:
//   - two threads deadlocked on two std::mutex: LockLedgerThenAudit and LockAuditThenLedger;
//   - one thread blocked in read() on a pipe: WaitForPipeMessage.
// It prints "ready port=P ledger=T1 audit=T2 reader=T3" once the kernel shows all three
// blocked (in futex and read), then obeys commands on stdin:
//   threads   prints "threads N", the entries of /proc/self/task
//   signals   prints "signals D", a digest of every signal's disposition (handler, flags, mask)
//   write     writes a 13-byte message to the pipe; the reader prints "read N errno E" when its
//             read() returns
//   hooked    prints "hooked 0" or "hooked 1": whether the agent registered abseil's
//             contention hook
//   fight N   N rounds over one absl::Mutex: FightOverLedger takes it, waits until the kernel
//             shows the other thread blocked on it, and releases it (N contentions, each
//             released in FightOverLedger), then prints "fought"
//   quit
// The deadlocked threads never end; the process exits with them (std::_Exit).

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "agent/profiling/mutex_profile.h"
#include "vitals/agent.h"

namespace {

std::mutex ledger, audit;
std::atomic<pid_t> ledger_tid{0}, audit_tid{0}, reader_tid{0};
int pipe_fds[2];

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

__attribute__((noinline)) void LockLedgerThenAudit() {
  std::lock_guard<std::mutex> first(ledger);
  ledger_tid = Tid();
  while (audit_tid == 0) std::this_thread::yield();  // both hold their first lock
  std::lock_guard<std::mutex> second(audit);         // never: the other thread holds it
}

__attribute__((noinline)) void LockAuditThenLedger() {
  std::lock_guard<std::mutex> first(audit);
  audit_tid = Tid();
  while (ledger_tid == 0) std::this_thread::yield();
  std::lock_guard<std::mutex> second(ledger);
}

__attribute__((noinline)) void WaitForPipeMessage() {
  reader_tid = Tid();
  char buf[64];
  const ssize_t n = read(pipe_fds[0], buf, sizeof buf);
  std::printf("read %zd errno %d\n", n, n < 0 ? errno : 0);
  std::fflush(stdout);
}

// The system call number a thread waits in, from /proc, or -1.
long SyscallOf(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  if (!(in >> first) || first == "running") return -1;
  return std::stol(first);
}

int ThreadCount() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

std::string SignalDigest() {
  std::ostringstream out;
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) != 0) continue;
    out << sig << ':' << reinterpret_cast<void*>(sa.sa_handler) << '/' << sa.sa_flags << '/';
    for (int m = 1; m < NSIG; ++m) out << sigismember(&sa.sa_mask, m);
    out << ';';
  }
  return std::to_string(std::hash<std::string>()(out.str()));
}

absl::Mutex fought_over;
std::atomic<int> released_rounds{0};

// Takes the mutex and lets it go only once `waiter` is blocked on it: every round is one
// contention, released here.
__attribute__((noinline)) void FightOverLedger(std::atomic<int>& round, pid_t waiter, int r) {
  fought_over.Lock();
  round = r;  // the waiter now tries to take it
  while (SyscallOf(waiter) != SYS_futex) std::this_thread::yield();
  fought_over.Unlock();
  released_rounds.fetch_add(1);  // keeps Unlock from being a tail call, so this frame shows
}

void Fight(int rounds) {
  std::atomic<int> round{0}, done{0};
  std::atomic<pid_t> waiter_tid{0};
  std::thread waiter([&] {
    waiter_tid = Tid();
    for (int r = 1; r <= rounds; ++r) {
      while (round < r) std::this_thread::yield();
      { absl::MutexLock lock(&fought_over); }
      done = r;
    }
  });
  while (waiter_tid == 0) std::this_thread::yield();
  for (int r = 1; r <= rounds; ++r) {
    FightOverLedger(round, waiter_tid, r);
    while (done < r) std::this_thread::yield();
  }
  waiter.join();
}

}  // namespace

int main() {
  if (pipe(pipe_fds) != 0) return 1;
  vitals::Options options;
  options.listen = "127.0.0.1:0";
  options.profiling = true;
  vitals::Agent agent(options);  // the test may override anything with VITALS_*
  if (absl::Status s = agent.Start(); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::thread(LockLedgerThenAudit).detach();
  std::thread(LockAuditThenLedger).detach();
  std::thread reader(WaitForPipeMessage);
  // Ready when the kernel shows each thread in its blocking call (futex for the locks, read).
  const long kFutex = SYS_futex, kRead = SYS_read;
  while (ledger_tid == 0 || audit_tid == 0 || reader_tid == 0 || SyscallOf(ledger_tid) != kFutex ||
         SyscallOf(audit_tid) != kFutex || SyscallOf(reader_tid) != kRead) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf("ready port=%d ledger=%d audit=%d reader=%d\n", agent.port(), ledger_tid.load(),
              audit_tid.load(), reader_tid.load());
  std::fflush(stdout);
  std::string cmd;
  while (std::cin >> cmd && cmd != "quit") {
    if (cmd == "threads") {
      std::printf("threads %d\n", ThreadCount());
    } else if (cmd == "signals") {
      std::printf("signals %s\n", SignalDigest().c_str());
    } else if (cmd == "write") {
      const char message[] = "hello, reader";
      if (write(pipe_fds[1], message, sizeof message - 1) != sizeof message - 1) return 3;
      reader.join();
    } else if (cmd == "hooked") {
      std::printf("hooked %d\n", vitals::internal::MutexProfile::hooked() ? 1 : 0);
    } else if (cmd == "fight") {
      int rounds = 0;
      std::cin >> rounds;
      Fight(rounds);
      std::printf("fought\n");
    } else {
      std::cerr << "unknown command " << cmd << "\n";
      return 2;
    }
    std::fflush(stdout);
  }
  agent.Stop();
  if (reader.joinable()) reader.detach();
  std::fflush(stdout);
  std::_Exit(0);  // the deadlocked threads cannot be joined
}
