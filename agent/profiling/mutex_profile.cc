#include "agent/profiling/mutex_profile.h"

#include <execinfo.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/internal/cycleclock.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/profiling/frame_text.h"
#include "vitals/profiling.h"

namespace vitals {
namespace internal {
namespace {

std::atomic<int> g_fraction{0};
std::atomic<bool> g_hooked{false};

struct Table {
  std::mutex mu;  // not absl::Mutex: contention on it would call the hook again
  absl::flat_hash_map<std::vector<uint64_t>, MutexProfile::Entry> entries;
  int64_t dropped = 0;
  size_t max_stacks = MutexProfile::kMaxStacks;
};

Table& TheTable() {
  static Table* table = new Table;  // lives as long as the process; hooks may run at exit
  return *table;
}

// One in `fraction` on average: a per-thread xorshift, no shared state.
bool Sampled(int fraction) {
  if (fraction == 1) return true;
  thread_local uint64_t state = reinterpret_cast<uintptr_t>(&state) | 1;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state % static_cast<uint64_t>(fraction) == 0;
}

// Records one event with the stack of its caller: inlined into the hook and into Record, so
// frame 0 of the backtrace is one of them and frame 1 the code that released the mutex.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void RecordHere(int64_t wait_cycles) {
  const int fraction = g_fraction.load(std::memory_order_relaxed);
  if (fraction <= 0 || !Sampled(fraction)) return;
  void* frames[MutexProfile::kMaxFrames + 1];
  const int n = backtrace(frames, MutexProfile::kMaxFrames + 1);
  std::vector<uint64_t> pcs;
  pcs.reserve(static_cast<size_t>(std::max(n - 1, 0)));
  for (int i = 1; i < n; ++i) {
    pcs.push_back(reinterpret_cast<uint64_t>(frames[i]) - 1);  // return address -> its call
  }
  const double frequency = absl::base_internal::CycleClock::Frequency();
  const auto nanos = static_cast<int64_t>(static_cast<double>(std::max<int64_t>(wait_cycles, 0)) *
                                          1e9 / (frequency > 0 ? frequency : 1e9));
  Table& t = TheTable();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.entries.find(pcs);
  if (it == t.entries.end()) {
    if (t.entries.size() >= t.max_stacks) {
      ++t.dropped;
      return;
    }
    it = t.entries.emplace(pcs, MutexProfile::Entry{pcs, 0, 0}).first;
  }
  ++it->second.contentions;
  it->second.delay_nanos += nanos;
}

__attribute__((noinline)) void Hook(const char*, const void*, int64_t wait_cycles) {
  RecordHere(wait_cycles);
}

}  // namespace

int MutexProfile::SetFraction(int fraction) {
  if (fraction < 0) return g_fraction.load(std::memory_order_relaxed);
  if (fraction > 0) {
    static const bool registered = [] {
      // The first backtrace() loads libgcc_s's unwinder; do it here, not inside a release.
      void* warm[2];
      backtrace(warm, 2);
      absl::RegisterMutexTracer(&Hook);
      g_hooked.store(true, std::memory_order_release);
      return true;
    }();
    (void)registered;
  }
  return g_fraction.exchange(fraction, std::memory_order_relaxed);
}

int MutexProfile::fraction() { return g_fraction.load(std::memory_order_relaxed); }

bool MutexProfile::hooked() { return g_hooked.load(std::memory_order_acquire); }

__attribute__((noinline)) void MutexProfile::Record(int64_t wait_cycles) {
  RecordHere(wait_cycles);
}

size_t MutexProfile::SetMaxStacks(size_t max_stacks) {
  Table& t = TheTable();
  std::lock_guard<std::mutex> lock(t.mu);
  return std::exchange(t.max_stacks, max_stacks);
}

MutexProfile::Snapshot MutexProfile::Take() {
  Snapshot s;
  s.fraction = fraction();
  Table& t = TheTable();
  std::lock_guard<std::mutex> lock(t.mu);
  s.entries.reserve(t.entries.size());
  for (const auto& [pcs, e] : t.entries) s.entries.push_back(e);
  s.dropped = t.dropped;
  return s;
}

MutexProfile::Snapshot MutexProfile::Delta(const Snapshot& before, const Snapshot& now) {
  absl::flat_hash_map<std::vector<uint64_t>, const Entry*> old;
  for (const Entry& e : before.entries) old[e.pcs] = &e;
  Snapshot d;
  d.fraction = now.fraction;
  d.dropped = now.dropped - before.dropped;
  for (const Entry& e : now.entries) {
    Entry diff = e;
    if (auto it = old.find(e.pcs); it != old.end()) {
      diff.contentions -= it->second->contentions;
      diff.delay_nanos -= it->second->delay_nanos;
    }
    if (diff.contentions > 0) d.entries.push_back(std::move(diff));
  }
  return d;
}

ProfileData MutexProfile::ToProfile(const Snapshot& snapshot, int64_t time_nanos,
                                    int64_t duration_nanos) {
  ProfileData data;
  data.sample_types = {{"contentions", "count"}, {"delay", "nanoseconds"}};
  data.period_type = {"contentions", "count"};
  const int64_t scale = std::max(snapshot.fraction, 1);
  data.period = scale;
  data.time_nanos = time_nanos;
  data.duration_nanos = duration_nanos;
  data.default_sample_type = "delay";
  data.comments = {absl::StrCat("vitals absl::Mutex contention, fraction ", snapshot.fraction)};
  if (snapshot.dropped > 0) {
    data.comments.push_back(
        absl::StrCat(snapshot.dropped, " events dropped: the table of distinct stacks was full"));
  }
  for (const Entry& e : snapshot.entries) {
    ProfileSample s;
    s.pcs = e.pcs;
    s.values = {e.contentions * scale, e.delay_nanos * scale};
    data.samples.push_back(std::move(s));
  }
  std::sort(
      data.samples.begin(), data.samples.end(),
      [](const ProfileSample& a, const ProfileSample& b) { return a.values[1] > b.values[1]; });
  return data;
}

absl::StatusOr<std::string> MutexProfile::Serve(int64_t seconds, int debug,
                                                const std::function<bool()>& cancelled) {
  const absl::Time start = absl::Now();
  Snapshot snapshot = Take();
  if (snapshot.fraction == 0 && snapshot.entries.empty()) {
    return absl::FailedPreconditionError(
        "the mutex profile is off: start the service with VITALS_MUTEX_PROFILE_FRACTION=N (one "
        "absl::Mutex contention in N recorded; 1 records all) or call "
        "vitals::SetMutexProfileFraction(N)");
  }
  if (seconds > 0) {
    const absl::Time until = start + absl::Seconds(seconds);
    while (absl::Now() < until) {
      if (cancelled()) return absl::CancelledError("the client went away or the agent stopped");
      absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
    }
    snapshot = Delta(snapshot, Take());
  }
  const int64_t duration = seconds > 0 ? absl::ToInt64Nanoseconds(absl::Now() - start) : 0;
  ProfileData data = ToProfile(snapshot, absl::ToUnixNanos(start), duration);
  if (debug <= 0) return ProfileToPprof(data);
  auto symbols = ElfSymbols::ForThisProcess();
  if (!symbols.ok()) return symbols.status();
  std::unique_ptr<LineInfo> lines = LineInfo::ForThisProcess();
  // Go's legacy text: delays in "cycles" of a 1 GHz clock, i.e. nanoseconds.
  std::string out =
      absl::StrCat("--- mutex:\ncycles/second=1000000000\nsampling period=", data.period, "\n");
  for (const ProfileSample& s : data.samples) {
    absl::StrAppend(&out, s.values[1], " ", s.values[0], " @");
    for (uint64_t pc : s.pcs) absl::StrAppend(&out, " 0x", absl::Hex(pc));
    out += '\n';
    AppendLegacyStack(&out, s.pcs, **symbols, lines.get());
    out += '\n';
  }
  for (const std::string& c : data.comments) absl::StrAppend(&out, "# ", c, "\n");
  return out;
}

}  // namespace internal

int SetMutexProfileFraction(int fraction) { return internal::MutexProfile::SetFraction(fraction); }

}  // namespace vitals
