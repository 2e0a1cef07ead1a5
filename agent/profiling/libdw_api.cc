#include "agent/profiling/libdw_api.h"

#ifdef VITALS_HAVE_LIBDWFL

#include <dlfcn.h>
#include <unistd.h>

namespace vitals {
namespace internal {
namespace {

template <typename Fn>
bool Resolve(void* lib, const char* name, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(lib, name));
  return *fn != nullptr;
}

// Debug information comes from the object itself only: no separate files, no debuginfod.
int NoSeparateDebugInfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*,
                        GElf_Word, char**) {
  return -1;
}

}  // namespace

const LibdwApi* LoadLibdw() {
  static const LibdwApi* api = []() -> const LibdwApi* {
    void* lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return nullptr;
    auto* a = new LibdwApi;
    const bool ok =
        Resolve(lib, "dwfl_begin", &a->begin) && Resolve(lib, "dwfl_end", &a->end) &&
        Resolve(lib, "dwfl_report_begin", &a->report_begin) &&
        Resolve(lib, "dwfl_report_end", &a->report_end) &&
        Resolve(lib, "dwfl_linux_proc_report", &a->proc_report) &&
        Resolve(lib, "dwfl_linux_proc_find_elf", &a->proc_find_elf) &&
        Resolve(lib, "dwfl_addrmodule", &a->addrmodule) &&
        Resolve(lib, "dwfl_module_getsrc", &a->getsrc) &&
        Resolve(lib, "dwfl_lineinfo", &a->lineinfo) &&
        Resolve(lib, "dwfl_module_addrdie", &a->addrdie) &&

        Resolve(lib, "dwarf_tag", &a->tag) && Resolve(lib, "dwarf_attr", &a->attr) &&
        Resolve(lib, "dwarf_attr_integrate", &a->attr_integrate) &&
        Resolve(lib, "dwarf_formstring", &a->formstring) &&
        Resolve(lib, "dwarf_formudata", &a->formudata) &&
        Resolve(lib, "dwarf_getsrcfiles", &a->getsrcfiles) &&
        Resolve(lib, "dwarf_filesrc", &a->filesrc) && Resolve(lib, "dwarf_child", &a->child) &&
        Resolve(lib, "dwarf_siblingof", &a->siblingof) &&
        Resolve(lib, "dwarf_ranges", &a->ranges) && Resolve(lib, "dwarf_haspc", &a->haspc) &&
        Resolve(lib, "dwarf_dieoffset", &a->dieoffset);
    if (!ok) {
      delete a;
      dlclose(lib);
      return nullptr;
    }
    const bool unwinder =
        Resolve(lib, "dwfl_attach_state", &a->attach_state) &&
        Resolve(lib, "dwfl_thread_state_registers", &a->thread_state_registers) &&
        Resolve(lib, "dwfl_thread_state_register_pc", &a->thread_state_register_pc) &&
        Resolve(lib, "dwfl_getthread_frames", &a->getthread_frames) &&
        Resolve(lib, "dwfl_frame_pc", &a->frame_pc);
    if (!unwinder) a->getthread_frames = nullptr;
    const bool resume = Resolve(lib, "dwfl_frame_reg", &a->frame_reg) &&
                        Resolve(lib, "dwfl_module_eh_cfi", &a->eh_cfi) &&
                        Resolve(lib, "dwarf_cfi_addrframe", &a->cfi_addrframe) &&
                        Resolve(lib, "dwarf_frame_cfa", &a->frame_cfa) &&
                        Resolve(lib, "dwfl_module_addrinfo", &a->addrinfo);
    if (!resume) a->frame_cfa = nullptr;
    return a;  // kept for the life of the process, like the library
  }();
  return api;
}

Dwfl* BeginProcessSession(const LibdwApi& api) {
  static Dwfl_Callbacks* callbacks = [&api] {
    auto* c = new Dwfl_Callbacks{};
    c->find_elf = api.proc_find_elf;
    c->find_debuginfo = &NoSeparateDebugInfo;
    return c;
  }();
  Dwfl* dwfl = api.begin(callbacks);
  if (dwfl == nullptr) return nullptr;
  api.report_begin(dwfl);
  if (api.proc_report(dwfl, getpid()) != 0 || api.report_end(dwfl, nullptr, nullptr) != 0) {
    api.end(dwfl);
    return nullptr;
  }
  return dwfl;
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_HAVE_LIBDWFL
