// agent/profiling/thread_stacks.h: every thread of this process with its name, state, CPU time
// and stack, taken without stopping, signalling or tracing any of them (Go's goroutine dump
// for a C++ service: /debug/pprof/goroutine).
//
// How: a thread that is not on a CPU has its user registers saved by the kernel, which shows
// the stack pointer and program counter in /proc/self/task/<tid>/syscall (with the system call
// it waits in, if any) without touching the thread. Its stack is in our own address space, so
// libdw's unwinder (the one eu-stack uses) walks it from there, reading the memory through
// process_vm_readv on ourselves, which fails cleanly where a thread's stack went away instead of
// faulting (code built with frame pointers is resumed at its frame record, see Walk in the
// .cc). Nothing is delivered to the thread, so a blocked read(), epoll_wait() or
// nanosleep() never returns EINTR or a partial result because of us, and the thread count and
// signal dispositions never change (docs/profiling.md says why not signals or ptrace).
//
// A snapshot is consistent: the thread's saved registers and its count of times scheduled
// (/proc/self/task/<tid>/schedstat) are read before and after the walk; if either changed, the
// thread ran meanwhile and the walk is redone. A thread on a CPU has no saved registers to
// read; it is retried until `running_wait` and then listed as running, not sampled (a CPU
// profile shows where such threads spend their time). The whole dump stops at `deadline`:
// threads not reached are listed as not sampled.
//
// Thread-safety: TakeThreadStacks may be called from any thread, concurrently.
// Cost: about 0.07 ms per blocked thread here, symbolized (BENCHMARKS.md, "Thread stacks and
// lock contention"); memory: a 64 KiB stack copy at a time and the frames.

#ifndef VITALS_AGENT_PROFILING_THREAD_STACKS_H_
#define VITALS_AGENT_PROFILING_THREAD_STACKS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vitals {
namespace internal {

// What /proc/<pid>/task/<tid>/syscall says of a thread.
struct SavedRegisters {
  bool running = false;  // "running": on a CPU (or about to be); nothing saved to read
  int64_t syscall = -1;  // the system call it is blocked in; -1 when in user code
  uint64_t sp = 0, pc = 0;
};
// InvalidArgument when `text` is not that file's format.
absl::StatusOr<SavedRegisters> ParseSavedRegisters(absl::string_view text);

// The name of a system call number of this architecture ("futex", "read", "epoll_wait"), or
// "syscall N" for those a dump rarely shows.
std::string SyscallName(int64_t number);

struct ThreadStack {
  enum class Sample {
    kTaken,     // pcs is the stack
    kRunning,   // on a CPU for all of running_wait
    kSelf,      // the thread taking the dump
    kDeadline,  // not reached before the deadline
    kFailed,    // /proc had no answer (the thread ended), or the unwinder none
  };
  pid_t tid = 0;
  std::string name;        // /proc's comm: pthread_setname_np's name, at most 15 bytes
  char state = '?';        // as in /proc: R, S, D, T, t, Z, ...
  double cpu_seconds = 0;  // user + system
  int64_t syscall = -1;    // the system call it waits in, or -1
  Sample sample = Sample::kFailed;
  std::string why;            // when not taken: the reason, one line
  bool truncated = false;     // deeper than max_frames
  std::vector<uint64_t> pcs;  // leaf first; return addresses moved back into their call
};

struct ThreadStackOptions {
  absl::Duration deadline = absl::Seconds(2);            // for the whole dump
  absl::Duration running_wait = absl::Milliseconds(20);  // per thread found on a CPU
  size_t max_threads = 10000;
  int max_frames = 128;
};

// The threads of this process, by thread id. Errors: Unavailable when /proc/self/task cannot
// be listed; FailedPrecondition when libdw (or its unwinder) cannot be loaded here or the
// architecture is not x86-64 or AArch64 (the reason says which). Ends early, listing the rest
// as not sampled, when `cancelled()` turns true.
absl::StatusOr<std::vector<ThreadStack>> TakeThreadStacks(const ThreadStackOptions& options,
                                                          const std::function<bool()>& cancelled);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_THREAD_STACKS_H_
