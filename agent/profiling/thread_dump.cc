#include "agent/profiling/thread_dump.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/profiling/frame_text.h"

namespace vitals {
namespace internal {
namespace {

const char* StateName(char state) {
  switch (state) {
    case 'R':
      return "runnable";
    case 'S':
      return "sleeping";
    case 'D':
      return "uninterruptible";
    case 'T':
      return "stopped";
    case 't':
      return "traced";
    case 'Z':
      return "zombie";
    case 'I':
      return "idle";
    default:
      return "unknown";
  }
}

// A short reason for a thread not sampled, for the state label.
const char* NotSampled(ThreadStack::Sample s) {
  switch (s) {
    case ThreadStack::Sample::kRunning:
      return "running";
    case ThreadStack::Sample::kSelf:
      return "dumping";
    case ThreadStack::Sample::kDeadline:
      return "not sampled";
    default:
      return "unreadable";
  }
}

}  // namespace

std::string ThreadActivity(const ThreadStack& t) {
  if (t.sample == ThreadStack::Sample::kRunning) return "running";
  if (t.sample == ThreadStack::Sample::kSelf) return "running, taking this dump";
  if (t.syscall >= 0) return absl::StrCat(SyscallName(t.syscall), ", ", StateName(t.state));
  return StateName(t.state);
}

std::string ThreadDumpText(const std::vector<ThreadStack>& threads, int debug,
                           const ElfSymbols& symbols, LineInfo* lines) {
  std::string out;
  size_t taken = 0;
  for (const ThreadStack& t : threads) taken += t.sample == ThreadStack::Sample::kTaken;
  if (debug >= 2) {
    for (const ThreadStack& t : threads) {
      absl::StrAppendFormat(&out, "thread %d \"%s\" [%s, %.2f s CPU]:\n", t.tid,
                            absl::CHexEscape(t.name), ThreadActivity(t), t.cpu_seconds);
      if (t.sample != ThreadStack::Sample::kTaken) {
        absl::StrAppend(&out, "\t(", t.why, ")\n\n");
        continue;
      }
      for (uint64_t pc : t.pcs) {
        for (const auto& [function, where] : DescribePc(pc, symbols, lines)) {
          absl::StrAppendFormat(&out, "%s\n\t%s pc=0x%x\n", function, where, pc);
        }
      }
      if (t.truncated) out += "...more frames\n";
      out += '\n';
    }
    absl::StrAppend(&out, "threads: ", threads.size(), ", stacks taken: ", taken, "\n");
    return out;
  }
  // debug=1: identical stacks once, most threads first.
  std::map<std::vector<uint64_t>, std::vector<const ThreadStack*>> groups;
  for (const ThreadStack& t : threads) {
    if (t.sample == ThreadStack::Sample::kTaken) groups[t.pcs].push_back(&t);
  }
  std::vector<std::pair<const std::vector<uint64_t>*, const std::vector<const ThreadStack*>*>>
      order;
  for (const auto& [pcs, members] : groups) order.emplace_back(&pcs, &members);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->size() > b.second->size();
  });
  absl::StrAppend(&out, "thread profile: total ", threads.size(), ", stacks taken: ", taken, "\n");
  for (const auto& [pcs, members] : order) {
    absl::StrAppend(&out, members->size(), " @");
    for (uint64_t pc : *pcs) absl::StrAppendFormat(&out, " 0x%x", pc);
    out += '\n';
    AppendLegacyStack(&out, *pcs, symbols, lines);
    out += "# threads:";
    for (const ThreadStack* t : *members) {
      absl::StrAppendFormat(&out, " %d \"%s\"", t->tid, absl::CHexEscape(t->name));
    }
    out += "\n\n";
  }
  for (const ThreadStack& t : threads) {
    if (t.sample == ThreadStack::Sample::kTaken) continue;
    absl::StrAppendFormat(&out, "# thread %d \"%s\": %s\n", t.tid, absl::CHexEscape(t.name), t.why);
  }
  return out;
}

ProfileData ThreadDumpProfile(const std::vector<ThreadStack>& threads, int64_t time_nanos) {
  ProfileData data;
  data.sample_types = {{"goroutine", "count"}};
  data.period_type = {"goroutine", "count"};
  data.period = 1;
  data.time_nanos = time_nanos;
  data.comments = {"vitals thread stacks: one goroutine per thread"};
  std::map<std::pair<std::vector<uint64_t>, std::string>, int64_t> counts;
  for (const ThreadStack& t : threads) {
    const std::string state =
        t.sample == ThreadStack::Sample::kTaken ? ThreadActivity(t) : NotSampled(t.sample);
    ++counts[{t.sample == ThreadStack::Sample::kTaken ? t.pcs : std::vector<uint64_t>{}, state}];
  }
  for (const auto& [key, count] : counts) {
    ProfileSample s;
    s.pcs = key.first;
    s.values = {count};
    s.labels = {{"state", key.second}};
    data.samples.push_back(std::move(s));
  }
  return data;
}

absl::StatusOr<std::string> ThreadDump(const ThreadStackOptions& options, int debug,
                                       const std::function<bool()>& cancelled) {
  const int64_t now = absl::ToUnixNanos(absl::Now());
  auto threads = TakeThreadStacks(options, cancelled);
  if (!threads.ok()) return threads.status();
  if (debug <= 0) return ProfileToPprof(ThreadDumpProfile(*threads, now));
  auto symbols = ElfSymbols::ForThisProcess();
  if (!symbols.ok()) return symbols.status();
  std::unique_ptr<LineInfo> lines = LineInfo::ForThisProcess();
  return ThreadDumpText(*threads, debug, **symbols, lines.get());
}

}  // namespace internal
}  // namespace vitals
