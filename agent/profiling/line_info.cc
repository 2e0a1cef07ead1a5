#include "agent/profiling/line_info.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/container/flat_hash_map.h"

#if __has_include(<elfutils/libdwfl.h>)
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#define VITALS_HAVE_LIBDWFL 1
#endif

namespace vitals {
namespace internal {

#ifdef VITALS_HAVE_LIBDWFL
namespace {

// The libdw entry points, resolved once from libdw.so.1.
struct Api {
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
};

template <typename Fn>
bool Resolve(void* lib, const char* name, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(lib, name));
  return *fn != nullptr;
}

const Api* LoadApi() {
  static const Api* api = []() -> const Api* {
    void* lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return nullptr;
    auto* a = new Api;
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
    return a;  // kept for the life of the process, like the library
  }();
  return api;
}

// Debug information comes from the object itself only: no separate files, no debuginfod.
int NoSeparateDebugInfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*,
                        GElf_Word, char**) {
  return -1;
}

// The linkage name of a function DIE (following its abstract origin and specification), else
// its plain name, else "".
std::string FunctionName(const Api& api, Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (unsigned name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name}) {
    if (api.attr_integrate(die, name, &attr) != nullptr) {
      if (const char* s = api.formstring(&attr); s != nullptr) return s;
    }
  }
  return "";
}

// Where an inlined subroutine was called from: its DW_AT_call_file and DW_AT_call_line.
bool CallSite(const Api& api, Dwarf_Die* cu, Dwarf_Die* inlined, std::string* file, int* line) {
  Dwarf_Attribute attr;
  Dwarf_Word file_index = 0, line_number = 0;
  if (api.formudata(api.attr(inlined, DW_AT_call_file, &attr), &file_index) != 0 ||
      api.formudata(api.attr(inlined, DW_AT_call_line, &attr), &line_number) != 0) {
    return false;
  }
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (api.getsrcfiles(cu, &files, &count) != 0 || file_index >= count) return false;
  const char* name = api.filesrc(files, file_index, nullptr, nullptr);
  if (name == nullptr) return false;
  *file = name;
  *line = static_cast<int>(line_number);
  return true;
}

// A function's code range in its compilation unit (a function may have several: hot and cold).
struct FunctionRange {
  Dwarf_Addr start, end;  // [start, end), module addresses
  Dwarf_Die die;
};

// The functions of every DIE tree below `parent` that holds definitions: the unit itself, and
// namespaces, where gcc puts the definitions of namespace members.
void IndexFunctions(const Api& api, Dwarf_Die* parent, std::vector<FunctionRange>* out) {
  Dwarf_Die child;
  if (api.child(parent, &child) != 0) return;
  do {
    const int tag = api.tag(&child);
    if (tag == DW_TAG_subprogram) {
      Dwarf_Addr base = 0, start = 0, end = 0;
      ptrdiff_t offset = 0;
      while ((offset = api.ranges(&child, offset, &base, &start, &end)) > 0) {
        out->push_back(FunctionRange{start, end, child});
      }
    } else if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
      IndexFunctions(api, &child, out);
    }
  } while (api.siblingof(&child, &child) == 0);
}

}  // namespace

struct LineInfo::Session {
  const Api* api = nullptr;
  Dwfl* dwfl = nullptr;
  // Compilation unit (by its DIE's address in the loaded DWARF) -> its functions by address.
  absl::flat_hash_map<const void*, std::vector<FunctionRange>> units;
  ~Session() {
    if (dwfl != nullptr) api->end(dwfl);
  }
  const std::vector<FunctionRange>& Functions(Dwarf_Die* cu) {
    auto [it, fresh] = units.try_emplace(cu->addr);
    if (fresh) {
      IndexFunctions(*api, cu, &it->second);
      std::sort(it->second.begin(), it->second.end(),
                [](const FunctionRange& a, const FunctionRange& b) { return a.start < b.start; });
    }
    return it->second;
  }
};

LineInfo::LineInfo(std::unique_ptr<Session> session) : session_(std::move(session)) {}

bool LineInfo::Available() { return LoadApi() != nullptr; }

std::unique_ptr<LineInfo> LineInfo::ForThisProcess() {
  const Api* api = LoadApi();
  if (api == nullptr) return nullptr;
  static Dwfl_Callbacks* callbacks = [api] {
    auto* c = new Dwfl_Callbacks{};
    c->find_elf = api->proc_find_elf;
    c->find_debuginfo = &NoSeparateDebugInfo;
    return c;
  }();
  auto session = std::make_unique<Session>();
  session->api = api;
  session->dwfl = api->begin(callbacks);
  if (session->dwfl == nullptr) return nullptr;
  api->report_begin(session->dwfl);
  if (api->proc_report(session->dwfl, getpid()) != 0 ||
      api->report_end(session->dwfl, nullptr, nullptr) != 0) {
    return nullptr;
  }
  return std::unique_ptr<LineInfo>(new LineInfo(std::move(session)));
}

LineInfo::~LineInfo() = default;

bool LineInfo::Lookup(uint64_t pc, std::vector<Frame>* frames) {
  frames->clear();
  const Api& api = *session_->api;
  Dwfl_Module* mod = api.addrmodule(session_->dwfl, pc);
  if (mod == nullptr) return false;
  Dwfl_Line* src = api.getsrc(mod, pc);
  if (src == nullptr) return false;
  int line = 0;
  const char* file = api.lineinfo(src, nullptr, &line, nullptr, nullptr, nullptr);
  if (file == nullptr || line <= 0) return false;

  // The function that holds pc, from the unit's index; then down its nested scopes to the
  // innermost inlined call at pc. Each inlined call's call site is its caller's position.
  Frame frame{"", file, line};
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = api.addrdie(mod, pc, &bias);
  const FunctionRange* function = nullptr;
  const Dwarf_Addr addr = pc - bias;
  if (cu != nullptr) {
    const std::vector<FunctionRange>& fns = session_->Functions(cu);
    auto it = std::upper_bound(fns.begin(), fns.end(), addr,
                               [](Dwarf_Addr a, const FunctionRange& f) { return a < f.start; });
    // Ranges of one unit do not overlap, but a function may come in pieces: look back a few.
    for (int back = 0; it != fns.begin() && back < 4; ++back) {
      --it;
      if (addr < it->end) {
        function = &*it;
        break;
      }
    }
  }
  if (function == nullptr) {
    frames->push_back(std::move(frame));  // the position alone; the symbol table names it
    return true;
  }
  std::vector<Dwarf_Die> inlined;  // outermost first
  Dwarf_Die scope = function->die;
  for (bool deeper = true; deeper;) {
    deeper = false;
    Dwarf_Die child;
    if (api.child(&scope, &child) != 0) break;
    do {
      const int tag = api.tag(&child);
      if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
          api.haspc(&child, addr) > 0) {
        if (tag == DW_TAG_inlined_subroutine) inlined.push_back(child);
        scope = child;
        deeper = true;
        break;
      }
    } while (api.siblingof(&child, &child) == 0);
  }
  for (auto it = inlined.rbegin(); it != inlined.rend(); ++it) {
    frame.function = FunctionName(api, &*it);
    frames->push_back(frame);
    frame = Frame{};
    if (!CallSite(api, cu, &*it, &frame.file, &frame.line)) break;
  }
  Dwarf_Die outer = function->die;
  frame.function = FunctionName(api, &outer);
  frames->push_back(std::move(frame));
  return true;
}

#else  // no libdw headers at build time: names only

struct LineInfo::Session {};
LineInfo::LineInfo(std::unique_ptr<Session> session) : session_(std::move(session)) {}
bool LineInfo::Available() { return false; }
std::unique_ptr<LineInfo> LineInfo::ForThisProcess() { return nullptr; }
LineInfo::~LineInfo() = default;
bool LineInfo::Lookup(uint64_t, std::vector<Frame>* frames) {
  frames->clear();
  return false;
}

#endif

}  // namespace internal
}  // namespace vitals
