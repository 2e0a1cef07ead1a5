// agent/profiling/elf_symbols.h: the function symbols of every object loaded in this process, for
// naming program counters.
//
// `absl::Symbolize` re-reads /proc/self/maps and the ELF file on every call (about 1.1 ms per
// address here), which made a pprof symbol request of a few thousand addresses take seconds.
// This table is built once from /proc/self/maps and each executable mapping's ELF symbol table
// (.symtab, else .dynsym; the vDSO from memory), then answers by binary search (well under a
// microsecond per address; BENCHMARKS.md). It is rebuilt when the set of executable mappings
// changes (a dlopen or dlclose). Memory: about 30 bytes plus the name per function symbol, held
// only while a caller uses the table or until the next change.
//
// Thread-safety: `ForThisProcess()` may be called from any thread; a table is immutable.

#ifndef VITALS_AGENT_PROFILING_ELF_SYMBOLS_H_
#define VITALS_AGENT_PROFILING_ELF_SYMBOLS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

class ElfSymbols {
 public:
  // An executable mapping of an object, as /proc/self/maps lists it, with the object's GNU
  // build ID (lower-case hex, empty when it has none).
  struct Mapping {
    uint64_t start = 0, end = 0, offset = 0;
    std::string path;
    std::string build_id;
    bool named_any = false;  // the table named at least one function in it
  };

  // The table for the process as it is mapped now (shared with other callers while the
  // mappings stay the same). Errors: Unavailable when /proc/self/maps cannot be read.
  static absl::StatusOr<std::shared_ptr<const ElfSymbols>> ForThisProcess();

  // Builds a table from a maps text (the format of /proc/self/maps) and the ELF files it names.
  // Objects that cannot be read are skipped. For tests.
  static std::shared_ptr<const ElfSymbols> Build(absl::string_view maps);

  // The (mangled) name of the function that contains `pc`, or empty when none does.
  absl::string_view Lookup(uint64_t pc) const;

  size_t size() const { return entries_.size(); }

  // The executable mappings, by start address.
  const std::vector<Mapping>& mappings() const { return mappings_; }
  // The mapping that holds `pc`, or null.
  const Mapping* MappingOf(uint64_t pc) const;

 private:
  struct Entry {
    uint64_t start;
    uint64_t end;   // exclusive; a symbol without a size ends at the next one
    uint32_t name;  // offset in names_, NUL-terminated
    bool sized;     // the symbol table gave a size
  };
  // Adds the function symbols of the ELF image at [data, data + size) that land in the
  // executable mapping [start, end) of its file offset `offset`.
  // Returns the build ID of the image (empty when none).
  std::string AddImage(const char* data, size_t size, uint64_t start, uint64_t end,
                       uint64_t offset);
  void Finish();

  std::vector<Entry> entries_;
  std::vector<Mapping> mappings_;
  std::string names_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_ELF_SYMBOLS_H_
