// agent/profiling/libdw_api.h: elfutils' libdw, loaded at run time, as the profiling code uses
// it: DWARF line tables and scopes (LineInfo) and the unwinder (ThreadStacks).
//
// libdw is loaded with dlopen, so the agent links nothing new and a host without libdw.so.1
// still works: LoadLibdw() answers null and callers fall back (names from ElfSymbols only, no
// file and line; no thread stacks). Why libdw: see agent/profiling/line_info.h.
//
// Thread-safety: LoadLibdw() may be called from any thread; the table is immutable. A Dwfl
// session is used by one thread at a time.

#ifndef VITALS_AGENT_PROFILING_LIBDW_API_H_
#define VITALS_AGENT_PROFILING_LIBDW_API_H_

#if __has_include(<elfutils/libdwfl.h>)
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#define VITALS_HAVE_LIBDWFL 1

namespace vitals {
namespace internal {

// The libdw entry points, resolved once from libdw.so.1.
struct LibdwApi {
  decltype(&dwfl_begin) begin = nullptr;
  decltype(&dwfl_end) end = nullptr;
  decltype(&dwfl_report_begin) report_begin = nullptr;
  decltype(&dwfl_report_end) report_end = nullptr;
  decltype(&dwfl_linux_proc_report) proc_report = nullptr;
  decltype(&dwfl_linux_proc_find_elf) proc_find_elf = nullptr;
  decltype(&dwfl_addrmodule) addrmodule = nullptr;
  decltype(&dwfl_module_getsrc) getsrc = nullptr;
  decltype(&dwfl_lineinfo) lineinfo = nullptr;
  decltype(&dwfl_module_addrdie) addrdie = nullptr;
  decltype(&dwarf_tag) tag = nullptr;
  decltype(&dwarf_attr) attr = nullptr;
  decltype(&dwarf_attr_integrate) attr_integrate = nullptr;
  decltype(&dwarf_formstring) formstring = nullptr;
  decltype(&dwarf_formudata) formudata = nullptr;
  decltype(&dwarf_getsrcfiles) getsrcfiles = nullptr;
  decltype(&dwarf_filesrc) filesrc = nullptr;
  decltype(&dwarf_child) child = nullptr;
  decltype(&dwarf_siblingof) siblingof = nullptr;
  decltype(&dwarf_ranges) ranges = nullptr;
  decltype(&dwarf_haspc) haspc = nullptr;
  decltype(&dwarf_dieoffset) dieoffset = nullptr;

  // The unwinder (elfutils 0.158 and later); null when this libdw has none.
  decltype(&dwfl_attach_state) attach_state = nullptr;
  decltype(&dwfl_thread_state_registers) thread_state_registers = nullptr;
  decltype(&dwfl_thread_state_register_pc) thread_state_register_pc = nullptr;
  decltype(&dwfl_getthread_frames) getthread_frames = nullptr;
  decltype(&dwfl_frame_pc) frame_pc = nullptr;
  // A frame's register (elfutils 0.188 and later); null before.
  decltype(&dwfl_frame_reg) frame_reg = nullptr;
  // Call frame information, to find where the unwinder needs a frame pointer.
  decltype(&dwfl_module_eh_cfi) eh_cfi = nullptr;
  decltype(&dwarf_cfi_addrframe) cfi_addrframe = nullptr;
  decltype(&dwarf_frame_cfa) frame_cfa = nullptr;
  decltype(&dwfl_module_addrinfo) addrinfo = nullptr;  // a function's start, by its symbol
  // All five above resolved (LoadLibdw clears frame_cfa when one is missing).
  bool can_resume() const { return frame_reg != nullptr && frame_cfa != nullptr; }
  bool can_unwind() const { return getthread_frames != nullptr; }
};

// The table, or null when libdw.so.1 cannot be loaded or lacks a line-table entry point.
const LibdwApi* LoadLibdw();

// A session over this process's current mappings that reads debug information from the
// objects themselves only (no separate debug files, never debuginfod), or null.
Dwfl* BeginProcessSession(const LibdwApi& api);

}  // namespace internal
}  // namespace vitals

#endif  // __has_include(<elfutils/libdwfl.h>)
#endif  // VITALS_AGENT_PROFILING_LIBDW_API_H_
