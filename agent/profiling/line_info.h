// agent/profiling/line_info.h: the source positions of program counters, inlined calls
// included, from the DWARF information of the process's objects, through elfutils' libdw.
//
// Why libdw: it is the DWARF reader of the Linux toolchain (elfutils: eu-addr2line, perf,
// systemd-coredump use it), Debian ships it (libdw1), and it reads every DWARF version gcc and
// clang emit, inlined-subroutine trees included. Abseil's symbolizer gives names only, and
// Debian 12 has no libbacktrace package. libdw is loaded with dlopen at run time, so the agent
// links nothing new and a host without it still gets profiles with function names (from
// ElfSymbols), only without file, line and inlined frames. Only debug information inside the
// objects themselves is read: no separate debug files, never the network (debuginfod).
//
// Thread-safety: one LineInfo per thread at a time (a libdw session is not shared).
// Cost: the first lookup in a compilation unit indexes its functions' address ranges (one walk
// of its top-level entries); then an address costs a binary search and a walk down the
// function's nested scopes (BENCHMARKS.md, "Serving a profile").

#ifndef VITALS_AGENT_PROFILING_LINE_INFO_H_
#define VITALS_AGENT_PROFILING_LINE_INFO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vitals {
namespace internal {

class LineInfo {
 public:
  // One function at an address: the innermost inlined call first, the function that holds the
  // address (the symbol's function) last.
  struct Frame {
    std::string function;  // the linkage (mangled) name where DWARF has one, else the plain name
    std::string file;      // the source file of `line`
    int line = 0;
  };

  // A session over this process's current mappings, or null when libdw is not available here.
  static std::unique_ptr<LineInfo> ForThisProcess();
  ~LineInfo();
  LineInfo(const LineInfo&) = delete;
  LineInfo& operator=(const LineInfo&) = delete;

  // The frames at `pc` (cleared first); false, with none, when its object has no line tables.
  bool Lookup(uint64_t pc, std::vector<Frame>* frames);

  // Whether libdw can be loaded in this process (for tests and the docs).
  static bool Available();

 private:
  struct Session;  // the libdw session and the function index of each compilation unit
  explicit LineInfo(std::unique_ptr<Session> session);
  std::unique_ptr<Session> session_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_LINE_INFO_H_
