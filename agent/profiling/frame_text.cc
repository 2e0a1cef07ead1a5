#include "agent/profiling/frame_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/profiling/function_names.h"

namespace vitals {
namespace internal {

std::vector<std::pair<std::string, std::string>> DescribePc(uint64_t pc, const ElfSymbols& symbols,
                                                            LineInfo* lines) {
  std::vector<std::pair<std::string, std::string>> out;
  const absl::string_view symbol = symbols.Lookup(pc);
  std::vector<LineInfo::Frame> frames;
  if (lines != nullptr && lines->Lookup(pc, &frames)) {
    // The outermost frame is the symbol's function: the symbol table names it.
    if (!symbol.empty()) frames.back().function = std::string(symbol);
    for (const LineInfo::Frame& f : frames) {
      out.emplace_back(f.function.empty() ? "??" : Demangle(f.function),
                       absl::StrCat(f.file, ":", f.line));
    }
    return out;
  }
  const ElfSymbols::Mapping* m = symbols.MappingOf(pc);
  out.emplace_back(
      symbol.empty() ? "??" : Demangle(symbol),
      m == nullptr ? "??" : absl::StrFormat("%s+0x%x", m->path, pc - m->start + m->offset));
  return out;
}

void AppendLegacyStack(std::string* out, const std::vector<uint64_t>& pcs,
                       const ElfSymbols& symbols, LineInfo* lines) {
  for (uint64_t pc : pcs) {
    for (const auto& [function, where] : DescribePc(pc, symbols, lines)) {
      absl::StrAppendFormat(out, "#\t0x%x\t%s\t%s\n", pc, ShortFunctionName(function), where);
    }
  }
}

}  // namespace internal
}  // namespace vitals
