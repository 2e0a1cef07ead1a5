#include "agent/profiling/line_info.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "agent/profiling/libdw_api.h"

namespace vitals {
namespace internal {

#ifdef VITALS_HAVE_LIBDWFL
namespace {

using Api = LibdwApi;

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

bool LineInfo::Available() { return LoadLibdw() != nullptr; }

std::unique_ptr<LineInfo> LineInfo::ForThisProcess() {
  const Api* api = LoadLibdw();
  if (api == nullptr) return nullptr;
  auto session = std::make_unique<Session>();
  session->api = api;
  session->dwfl = BeginProcessSession(*api);
  if (session->dwfl == nullptr) return nullptr;
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
