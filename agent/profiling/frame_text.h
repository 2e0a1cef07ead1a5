// agent/profiling/frame_text.h: program counters as text, for the debug=1 and debug=2 answers
// of /debug/pprof/goroutine and /debug/pprof/mutex (Go's text formats).
//
// Thread-safety: pure functions over their inputs; `lines` is used by one thread at a time.

#ifndef VITALS_AGENT_PROFILING_FRAME_TEXT_H_
#define VITALS_AGENT_PROFILING_FRAME_TEXT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/profiling/elf_symbols.h"
#include "agent/profiling/line_info.h"

namespace vitals {
namespace internal {

// The functions at `pc` as (demangled name, "file:line") pairs, the innermost inlined call
// first; without line tables, one pair naming the object and offset ("libc.so.6+0x85f16").
// Unknown names are "??".
std::vector<std::pair<std::string, std::string>> DescribePc(uint64_t pc, const ElfSymbols& symbols,
                                                            LineInfo* lines);

// Go's legacy text lines of a stack, one per function: "#\t0x<pc>\t<short name>\t<where>\n".
void AppendLegacyStack(std::string* out, const std::vector<uint64_t>& pcs,
                       const ElfSymbols& symbols, LineInfo* lines);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_FRAME_TEXT_H_
