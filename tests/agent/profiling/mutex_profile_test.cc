#include "agent/profiling/mutex_profile.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/base/internal/cycleclock.h"
#include "agent/profiling/elf_symbols.h"
#include "agent/profiling/function_names.h"
#include "vitals/profiling.h"

namespace vitals_mutex_test {

// Records one event as if a mutex were released here.
__attribute__((noinline)) void ReleaseContendedLedger(int64_t cycles) {
  vitals::internal::MutexProfile::Record(cycles);
  asm volatile("" ::: "memory");  // not a tail call: this frame stays on the stack
}

}  // namespace vitals_mutex_test

namespace {

using vitals::internal::MutexProfile;

// The entries of `s` whose stack passes through ReleaseContendedLedger.
MutexProfile::Entry Ours(const MutexProfile::Snapshot& s) {
  auto symbols = vitals::internal::ElfSymbols::ForThisProcess();
  REQUIRE(symbols.ok());
  MutexProfile::Entry sum;
  for (const MutexProfile::Entry& e : s.entries) {
    for (uint64_t pc : e.pcs) {
      if (vitals::internal::Demangle((*symbols)->Lookup(pc)).find("ReleaseContendedLedger") !=
          std::string::npos) {
        sum.contentions += e.contentions;
        sum.delay_nanos += e.delay_nanos;
        break;
      }
    }
  }
  return sum;
}

// Restores the fraction a test changed.
struct FractionGuard {
  int previous = MutexProfile::fraction();
  ~FractionGuard() { MutexProfile::SetFraction(previous); }
};

TEST_CASE("off the mutex profile keeps nothing, on it keeps the releasing stack and delay",
          "[mutex_profile]") {
  FractionGuard guard;
  const int64_t one_ms = static_cast<int64_t>(absl::base_internal::CycleClock::Frequency() / 1000);
  vitals::SetMutexProfileFraction(0);
  const auto before = MutexProfile::Take();
  vitals_mutex_test::ReleaseContendedLedger(one_ms);
  CHECK(Ours(MutexProfile::Delta(before, MutexProfile::Take())).contentions == 0);

  CHECK(vitals::SetMutexProfileFraction(1) == 0);
  CHECK(vitals::SetMutexProfileFraction(-1) == 1);  // reads only
  const auto start = MutexProfile::Take();
  for (int i = 0; i < 3; ++i) vitals_mutex_test::ReleaseContendedLedger(one_ms);
  const auto delta = MutexProfile::Delta(start, MutexProfile::Take());
  const MutexProfile::Entry ours = Ours(delta);
  CHECK(ours.contentions == 3);
  CHECK(ours.delay_nanos > 2'900'000);
  CHECK(ours.delay_nanos < 3'100'000);
}

TEST_CASE("with fraction N about one event in N is kept and the profile scales by N",
          "[mutex_profile]") {
  FractionGuard guard;
  MutexProfile::SetFraction(10);
  const auto start = MutexProfile::Take();
  for (int i = 0; i < 20000; ++i) vitals_mutex_test::ReleaseContendedLedger(1000);
  const auto delta = MutexProfile::Delta(start, MutexProfile::Take());
  const int64_t kept = Ours(delta).contentions;
  CHECK(kept > 1500);
  CHECK(kept < 2500);
  const auto data = MutexProfile::ToProfile(delta, 1, 2);
  CHECK(data.period == 10);
  CHECK(data.sample_types == std::vector<std::pair<std::string, std::string>>{
                                 {"contentions", "count"}, {"delay", "nanoseconds"}});
  CHECK(data.default_sample_type == "delay");
  int64_t scaled = 0;
  for (const auto& s : data.samples) scaled += s.values[0];
  int64_t raw = 0;
  for (const auto& e : delta.entries) raw += e.contentions;
  CHECK(scaled == raw * 10);
}

__attribute__((noinline)) void OtherReleaseSite() {
  MutexProfile::Record(1000);
  asm volatile("" ::: "memory");
}

TEST_CASE("past its bound on distinct stacks the profile counts what it dropped",
          "[mutex_profile]") {
  CHECK(MutexProfile::kMaxStacks == 4096);  // the default (README, docs/profiling.md)
  FractionGuard guard;
  MutexProfile::SetFraction(1);
  const auto start = MutexProfile::Take();
  // Room for exactly one new stack.
  const size_t previous = MutexProfile::SetMaxStacks(start.entries.size() + 1);
  for (volatile int i = 0; i < 2; ++i) vitals_mutex_test::ReleaseContendedLedger(1000);  // 1 stack
  OtherReleaseSite();  // a new one: dropped
  const auto delta = MutexProfile::Delta(start, MutexProfile::Take());
  MutexProfile::SetMaxStacks(previous);
  CHECK(Ours(delta).contentions == 2);
  CHECK(delta.dropped == 1);
  const auto data = MutexProfile::ToProfile(delta, 1, 0);
  REQUIRE(data.comments.size() == 2);
  CHECK(data.comments[1] == "1 events dropped: the table of distinct stacks was full");
}

TEST_CASE("a delta keeps only what was added, stack by stack", "[mutex_profile]") {
  MutexProfile::Snapshot before, now;
  before.entries = {{{1, 2}, 5, 500}, {{3}, 1, 100}};
  now.fraction = 2;
  now.entries = {{{1, 2}, 8, 800}, {{3}, 1, 100}, {{4}, 2, 50}};
  now.dropped = 3;
  before.dropped = 1;
  const auto d = MutexProfile::Delta(before, now);
  REQUIRE(d.entries.size() == 2);
  CHECK(d.entries[0].pcs == std::vector<uint64_t>{1, 2});
  CHECK(d.entries[0].contentions == 3);
  CHECK(d.entries[0].delay_nanos == 300);
  CHECK(d.entries[1].pcs == std::vector<uint64_t>{4});
  CHECK(d.dropped == 2);
  CHECK(d.fraction == 2);
}

}  // namespace
