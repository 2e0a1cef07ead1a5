// agent/profiling/thread_dump.h: thread stacks (ThreadStacks) in the formats of Go's
// /debug/pprof/goroutine, so its readers need nothing new:
//
//   debug=2  every thread, one block each, as Go's goroutine dump:
//              thread 4242 "db-writer" [futex, sleeping, 0.41 s CPU]:
//              LockLedgerThenAudit()
//              	/src/ledger.cc:40
//            inlined calls are frames of their own; a frame without line tables names its
//            object instead.
//   debug=1  identical stacks once, with their count and the threads that share them, as Go's
//            legacy text profile ("N @ 0xpc ..." then "#\t0xpc\tfunction+0xoff\tfile:line").
//   debug=0  a gzipped profile.proto of identical stacks with counts, sample type
//            goroutine/count as Go's, so `go tool pprof` and continuous profilers read it; each
//            sample is labelled `state` (the system call it waits in, "running", ...).
//
// Thread-safety: pure functions over their inputs (and this process's symbols).

#ifndef VITALS_AGENT_PROFILING_THREAD_DUMP_H_
#define VITALS_AGENT_PROFILING_THREAD_DUMP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/profiling/elf_symbols.h"
#include "agent/profiling/line_info.h"
#include "agent/profiling/pprof_proto.h"
#include "agent/profiling/thread_stacks.h"

namespace vitals {
namespace internal {

// "futex, sleeping" / "running" / ...: what a thread is doing, as the dump's header shows it.
std::string ThreadActivity(const ThreadStack& t);

// The debug=1 or debug=2 text, symbolized with `symbols` and, when not null, `lines`.
std::string ThreadDumpText(const std::vector<ThreadStack>& threads, int debug,
                           const ElfSymbols& symbols, LineInfo* lines);

// The goroutine-style profile: one sample per distinct (stack, state), valued by its count.
ProfileData ThreadDumpProfile(const std::vector<ThreadStack>& threads, int64_t time_nanos);

// Takes the stacks and formats them: debug 0 (gzipped profile.proto), 1 or 2 (text).
absl::StatusOr<std::string> ThreadDump(const ThreadStackOptions& options, int debug,
                                       const std::function<bool()>& cancelled);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_THREAD_DUMP_H_
