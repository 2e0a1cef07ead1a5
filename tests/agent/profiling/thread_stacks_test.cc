#include "agent/profiling/thread_stacks.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "agent/base/procfs.h"
#include "agent/profiling/elf_symbols.h"
#include "agent/profiling/function_names.h"
#include "agent/profiling/thread_dump.h"
#include "tests/support/fixtures.h"

namespace vitals_stacks_test {

std::atomic<pid_t> reader_tid{0};

// Blocks in read() on `fd`; returns what read() returned.
__attribute__((noinline)) ssize_t BlockInPipeRead(int fd, char* buf, size_t size) {
  reader_tid = static_cast<pid_t>(syscall(SYS_gettid));
  const ssize_t n = read(fd, buf, size);
  asm volatile("" ::: "memory");  // not a tail call: this frame stays on the stack
  return n;
}

// Recursion that leaves frame records on the stack below its caller, where a later callee's
// uninitialized locals will be.
__attribute__((noinline)) int LeaveStaleRecords(int depth) {
  volatile int here = depth;
  if (depth > 0) here += LeaveStaleRecords(depth - 1);
  return here;
}

// Blocks in read() with a large uninitialized local over those stale records.
__attribute__((noinline)) ssize_t ReadOverStaleRecords(int fd) {
  char buf[4096];
  reader_tid = static_cast<pid_t>(syscall(SYS_gettid));
  const ssize_t n = read(fd, buf, sizeof buf);
  asm volatile("" ::: "memory");
  return n;
}

// Calls both from one frame, the second through a pointer (an indirect call).
__attribute__((noinline)) ssize_t CallerOfBoth(int fd, ssize_t (*volatile read_fn)(int)) {
  LeaveStaleRecords(40);
  const ssize_t n = read_fn(fd);
  asm volatile("" ::: "memory");
  return n;
}

}  // namespace vitals_stacks_test

namespace {

using namespace std::chrono_literals;
using vitals::internal::ParseSavedRegisters;
using vitals::internal::TakeThreadStacks;
using vitals::internal::ThreadStack;
using vitals::internal::ThreadStackOptions;

long SyscallOf(pid_t tid) {
  auto text =
      vitals::internal::Procfs::ReadPath("/proc/self/task/" + std::to_string(tid) + "/syscall");
  if (!text.ok()) return -2;
  auto regs = ParseSavedRegisters(*text);
  return regs.ok() && !regs->running ? regs->syscall : -2;
}

// Waits until the kernel shows the test's reader thread blocked in read().
bool ReaderBlockedInRead() {
  return vitals_test::WaitUntil(
      [] {
        return vitals_stacks_test::reader_tid != 0 &&
               SyscallOf(vitals_stacks_test::reader_tid) == SYS_read;
      },
      10s);
}

const ThreadStack* Find(const std::vector<ThreadStack>& threads, pid_t tid) {
  for (const ThreadStack& t : threads) {
    if (t.tid == tid) return &t;
  }
  return nullptr;
}

TEST_CASE("the saved registers of /proc's syscall file are read in each of its forms", "[stacks]") {
  auto running = ParseSavedRegisters("running\n");
  REQUIRE(running.ok());
  CHECK(running->running);
  auto user = ParseSavedRegisters("-1 0x7ffd1000 0x401234\n");
  REQUIRE(user.ok());
  CHECK(user->syscall == -1);
  CHECK(user->sp == 0x7ffd1000);
  CHECK(user->pc == 0x401234);
  auto blocked = ParseSavedRegisters(
      "202 0x563009d8a260 0x80 0x2 0x0 0x0 0x0 0x7fcf7481ce38 0x7fcf748a412b\n");
  REQUIRE(blocked.ok());
  CHECK(!blocked->running);
  CHECK(blocked->syscall == 202);
  CHECK(blocked->sp == 0x7fcf7481ce38);
  CHECK(blocked->pc == 0x7fcf748a412b);
  for (const char* bad :
       {"", "0 0x1", "202 0x1 0x2", "-1 0x1 0x2 0x3", "x 0x1 0x2", "-5 0x1 0x2", "-1 12 0x2"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(ParseSavedRegisters(bad).status()));
  }
}

TEST_CASE("system calls a dump shows are named, the rest numbered", "[stacks]") {
  CHECK(vitals::internal::SyscallName(SYS_read) == "read");
  CHECK(vitals::internal::SyscallName(SYS_futex) == "futex");
  CHECK(vitals::internal::SyscallName(SYS_epoll_pwait) == "epoll_pwait");
  CHECK(vitals::internal::SyscallName(99999) == "syscall 99999");
}

TEST_CASE("a thread blocked in read() is found in read, in its function, and reads all after",
          "[stacks]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  char buf[32] = {};
  ssize_t got = -2;
  vitals_stacks_test::reader_tid = 0;
  std::thread reader([&] { got = vitals_stacks_test::BlockInPipeRead(fds[0], buf, sizeof buf); });
  REQUIRE(ReaderBlockedInRead());
  auto threads = TakeThreadStacks(ThreadStackOptions{}, [] { return false; });
  REQUIRE(threads.ok());
  const ThreadStack* t = Find(*threads, vitals_stacks_test::reader_tid);
  REQUIRE(t != nullptr);
  CHECK(t->sample == ThreadStack::Sample::kTaken);
  CHECK(t->syscall == SYS_read);
  CHECK(t->state == 'S');
  auto symbols = vitals::internal::ElfSymbols::ForThisProcess();
  REQUIRE(symbols.ok());
  bool named = false;
  for (uint64_t pc : t->pcs) {
    named |= vitals::internal::Demangle((*symbols)->Lookup(pc)).find("BlockInPipeRead") !=
             std::string::npos;
  }
  CHECK(named);
  // Past the function built with frame pointers, up to the thread's start: read, the test's
  // function, the lambda and std::thread's machinery, start_thread, clone3.
  CHECK(t->pcs.size() >= 5);
  // The thread taking the dump is listed, not walked.
  const ThreadStack* self = Find(*threads, static_cast<pid_t>(syscall(SYS_gettid)));
  REQUIRE(self != nullptr);
  CHECK(self->sample == ThreadStack::Sample::kSelf);

  REQUIRE(write(fds[1], "twelve bytes", 12) == 12);
  reader.join();
  CHECK(got == 12);  // neither EINTR nor a partial read
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE(
    "a function built with frame pointers is walked past, stale records in its locals "
    "notwithstanding",
    "[stacks]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  vitals_stacks_test::reader_tid = 0;
  std::thread reader(
      [&] { vitals_stacks_test::CallerOfBoth(fds[0], &vitals_stacks_test::ReadOverStaleRecords); });
  REQUIRE(ReaderBlockedInRead());
  auto threads = TakeThreadStacks(ThreadStackOptions{}, [] { return false; });
  REQUIRE(write(fds[1], "x", 1) == 1);
  reader.join();
  close(fds[0]);
  close(fds[1]);
  REQUIRE(threads.ok());
  const ThreadStack* t = Find(*threads, vitals_stacks_test::reader_tid);
  REQUIRE(t != nullptr);
  auto symbols = vitals::internal::ElfSymbols::ForThisProcess();
  REQUIRE(symbols.ok());
  std::vector<std::string> names;
  for (uint64_t pc : t->pcs) names.push_back(vitals::internal::Demangle((*symbols)->Lookup(pc)));
  auto index = [&](const std::string& part) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].find(part) != std::string::npos) return static_cast<int>(i);
    }
    return -1;
  };
  std::string all;
  for (const std::string& n : names) all += n + "\n";
  INFO(all);
  // The reader, then its caller: never a stale LeaveStaleRecords frame between them.
  const int read_at = index("ReadOverStaleRecords"), caller_at = index("CallerOfBoth");
  REQUIRE(read_at >= 0);
  CHECK(caller_at == read_at + 1);
  CHECK(index("LeaveStaleRecords") == -1);
}

TEST_CASE("a thread on a CPU throughout the wait is listed as running, not sampled", "[stacks]") {
  std::atomic<bool> stop{false};
  std::atomic<pid_t> spinner_tid{0};
  std::thread spinner([&] {
    spinner_tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!stop) {
    }
  });
  REQUIRE(vitals_test::WaitUntil([&] { return spinner_tid != 0; }, 10s));
  auto threads = TakeThreadStacks(ThreadStackOptions{}, [] { return false; });
  stop = true;
  spinner.join();
  REQUIRE(threads.ok());
  const ThreadStack* t = Find(*threads, spinner_tid);
  REQUIRE(t != nullptr);
  // A thread that spins in user code is "running" in /proc whether on a CPU or preempted.
  CHECK(t->sample == ThreadStack::Sample::kRunning);
  CHECK(t->pcs.empty());
  CHECK(t->why.find("/debug/pprof/profile") != std::string::npos);
  CHECK(t->why.find("throughout 20ms") != std::string::npos);  // the default wait (README)
}

TEST_CASE("the dump's bounds are the ones the README states, and a deep stack is cut", "[stacks]") {
  const ThreadStackOptions defaults;
  CHECK(defaults.deadline == absl::Seconds(2));
  CHECK(defaults.running_wait == absl::Milliseconds(20));
  CHECK(defaults.max_threads == 10000);
  CHECK(defaults.max_frames == 128);

  int fds[2];
  REQUIRE(pipe(fds) == 0);
  char buf[4];
  vitals_stacks_test::reader_tid = 0;
  std::thread reader([&] { vitals_stacks_test::BlockInPipeRead(fds[0], buf, sizeof buf); });
  REQUIRE(ReaderBlockedInRead());
  ThreadStackOptions options;
  options.max_frames = 2;
  options.max_threads = 1;  // the lowest thread id: the test's main thread
  auto threads = TakeThreadStacks(options, [] { return false; });
  ThreadStackOptions all;
  all.max_frames = 2;
  auto cut = TakeThreadStacks(all, [] { return false; });
  REQUIRE(write(fds[1], "x", 1) == 1);
  reader.join();
  close(fds[0]);
  close(fds[1]);
  REQUIRE(threads.ok());
  CHECK(threads->size() == 1);
  REQUIRE(cut.ok());
  const ThreadStack* t = Find(*cut, vitals_stacks_test::reader_tid);
  REQUIRE(t != nullptr);
  CHECK(t->sample == ThreadStack::Sample::kTaken);
  CHECK(t->pcs.size() == 2);
  CHECK(t->truncated);
}

TEST_CASE("past the deadline every thread is listed as not sampled", "[stacks]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::thread reader([&] {
    char c;
    (void)!read(fds[0], &c, 1);
  });
  ThreadStackOptions options;
  options.deadline = absl::ZeroDuration();
  auto threads = TakeThreadStacks(options, [] { return false; });
  REQUIRE(write(fds[1], "x", 1) == 1);
  reader.join();
  close(fds[0]);
  close(fds[1]);
  REQUIRE(threads.ok());
  REQUIRE(threads->size() >= 2);
  for (const ThreadStack& t : *threads) {
    if (t.sample == ThreadStack::Sample::kSelf) continue;
    CHECK(t.sample == ThreadStack::Sample::kDeadline);
    CHECK(t.why.find("deadline") != std::string::npos);
  }
  // And cancelled, the same.
  auto cancelled = TakeThreadStacks(ThreadStackOptions{}, [] { return true; });
  REQUIRE(cancelled.ok());
  for (const ThreadStack& t : *cancelled) {
    CHECK(t.sample != ThreadStack::Sample::kTaken);
  }
}

TEST_CASE("the thread profile counts identical stacks once, labelled with their state",
          "[stacks]") {
  ThreadStack a, b, c, spinning;
  a.tid = 1;
  b.tid = 2;
  c.tid = 3;
  a.sample = b.sample = c.sample = ThreadStack::Sample::kTaken;
  a.syscall = b.syscall = c.syscall = SYS_futex;
  a.state = b.state = c.state = 'S';
  a.pcs = b.pcs = {0x1000, 0x2000};
  c.pcs = {0x1000, 0x3000};
  spinning.tid = 4;
  spinning.sample = ThreadStack::Sample::kRunning;
  const auto data = vitals::internal::ThreadDumpProfile({a, b, c, spinning}, 7);
  CHECK(data.sample_types ==
        std::vector<std::pair<std::string, std::string>>{{"goroutine", "count"}});
  CHECK(data.period == 1);
  REQUIRE(data.samples.size() == 3);
  int64_t total = 0;
  for (const auto& s : data.samples) {
    total += s.values[0];
    REQUIRE(s.labels.size() == 1);
    if (s.pcs == std::vector<uint64_t>{0x1000, 0x2000}) {
      CHECK(s.values[0] == 2);
      CHECK(s.labels[0] == std::make_pair(std::string("state"), std::string("futex, sleeping")));
    } else if (s.pcs.empty()) {
      CHECK(s.labels[0].second == "running");
    }
  }
  CHECK(total == 4);
}

TEST_CASE("the text dump has a header per thread with its name, activity and CPU time",
          "[stacks]") {
  ThreadStack t;
  t.tid = 42;
  t.name = "db\nwriter";  // a hostile name is escaped, it cannot forge a line
  t.state = 'S';
  t.syscall = SYS_read;
  t.cpu_seconds = 1.5;
  t.sample = ThreadStack::Sample::kTaken;
  t.pcs = {reinterpret_cast<uint64_t>(&vitals_stacks_test::BlockInPipeRead) + 1};
  ThreadStack gone;
  gone.tid = 43;
  gone.name = "spin";
  gone.state = 'R';
  gone.sample = ThreadStack::Sample::kRunning;
  gone.why = "running: on a CPU";
  auto symbols = vitals::internal::ElfSymbols::ForThisProcess();
  REQUIRE(symbols.ok());
  const std::string text = vitals::internal::ThreadDumpText({t, gone}, 2, **symbols, nullptr);
  INFO(text);
  CHECK(text.find("thread 42 \"db\\nwriter\" [read, sleeping, 1.50 s CPU]:\n"
                  "vitals_stacks_test::BlockInPipeRead(int, char*, unsigned long)\n\t") == 0);
  CHECK(text.find("thread 43 \"spin\" [running, 0.00 s CPU]:\n\t(running: on a CPU)\n") !=
        std::string::npos);
  CHECK(text.find("threads: 2, stacks taken: 1\n") != std::string::npos);
  const std::string grouped = vitals::internal::ThreadDumpText({t, t, gone}, 1, **symbols, nullptr);
  INFO(grouped);
  CHECK(grouped.find("thread profile: total 3, stacks taken: 2\n2 @ 0x") == 0);
  CHECK(grouped.find("\tvitals_stacks_test::BlockInPipeRead\t") != std::string::npos);
  CHECK(grouped.find("# thread 43 \"spin\": running: on a CPU\n") != std::string::npos);
}

}  // namespace
