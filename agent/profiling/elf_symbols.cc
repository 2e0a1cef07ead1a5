#include "agent/profiling/elf_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/mutex.h"
#include "agent/base/procfs.h"

namespace vitals {
namespace internal {
namespace {

// A read-only view of a whole file, unmapped when it goes.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    close(fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Bounds-checked access to a structure inside an image: null when it would reach past the end.
template <typename T>
const T* At(const char* data, size_t size, uint64_t offset, uint64_t index = 0) {
  const uint64_t at = offset + index * sizeof(T);
  if (at < offset || at > size || size - at < sizeof(T)) return nullptr;
  return reinterpret_cast<const T*>(data + at);
}

struct MapLine {
  uint64_t start, end, offset;
  std::string path;
};

// The executable, file-backed (or vDSO) mappings of a maps text, and a key that changes when
// they do.
std::vector<MapLine> ExecutableMappings(absl::string_view maps, std::string* key) {
  std::vector<MapLine> out;
  for (absl::string_view line : absl::StrSplit(maps, '\n', absl::SkipEmpty())) {
    // 55d0c1a4e000-55d0c1a52000 r-xp 00002000 fd:01 1234  /usr/bin/x
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 6 || f[1].size() < 3 || f[1][2] != 'x') continue;
    std::pair<absl::string_view, absl::string_view> range = absl::StrSplit(f[0], '-');
    MapLine m;
    if (!absl::SimpleHexAtoi(range.first, &m.start) || !absl::SimpleHexAtoi(range.second, &m.end) ||
        !absl::SimpleHexAtoi(f[2], &m.offset)) {
      continue;
    }
    // The path is the rest of the line (it may hold spaces).
    const size_t path_at = static_cast<size_t>(f[5].data() - line.data());
    m.path = std::string(absl::StripAsciiWhitespace(line.substr(path_at)));
    if (m.path.empty() || (m.path[0] != '/' && m.path != "[vdso]")) continue;
    key->append(f[0].data(), f[0].size());
    key->append(m.path);
    key->push_back('\n');
    out.push_back(std::move(m));
  }
  return out;
}

// The GNU build ID in the image's PT_NOTE segments, as lower-case hex; empty when none.
std::string BuildId(const char* data, size_t size, const Elf64_Ehdr* eh) {
  for (uint32_t i = 0; i < eh->e_phnum; ++i) {
    const auto* ph = At<Elf64_Phdr>(data, size, eh->e_phoff, i);
    if (ph == nullptr) return "";
    if (ph->p_type != PT_NOTE || ph->p_offset > size || ph->p_filesz > size - ph->p_offset) {
      continue;
    }
    uint64_t at = ph->p_offset;
    const uint64_t end = ph->p_offset + ph->p_filesz;
    while (at + sizeof(Elf64_Nhdr) <= end) {
      const auto* note = At<Elf64_Nhdr>(data, size, at);
      if (note == nullptr) break;
      const uint64_t name_at = at + sizeof(Elf64_Nhdr);
      const uint64_t desc_at = name_at + ((note->n_namesz + 3) & ~3u);
      const uint64_t next = desc_at + ((note->n_descsz + 3) & ~3u);
      if (next > end || next <= at) break;
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
          std::memcmp(data + name_at, "GNU", 4) == 0) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string hex;
        for (uint32_t k = 0; k < note->n_descsz; ++k) {
          const auto b = static_cast<unsigned char>(data[desc_at + k]);
          hex += kHex[b >> 4];
          hex += kHex[b & 15];
        }
        return hex;
      }
      at = next;
    }
  }
  return "";
}

}  // namespace

std::string ElfSymbols::AddImage(const char* data, size_t size, uint64_t start, uint64_t end,
                                 uint64_t offset) {
  const auto* eh = At<Elf64_Ehdr>(data, size, 0);
  if (eh == nullptr || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
      eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) {
    return "";
  }
  const std::string build_id = BuildId(data, size, eh);
  // The load segment this mapping comes from gives the bias between link and run addresses.
  bool found = false;
  uint64_t bias = 0;
  for (uint32_t i = 0; i < eh->e_phnum; ++i) {
    const auto* ph = At<Elf64_Phdr>(data, size, eh->e_phoff, i);
    if (ph == nullptr) return build_id;
    if (ph->p_type != PT_LOAD || (ph->p_flags & PF_X) == 0) continue;
    const uint64_t page_offset = ph->p_offset & ~uint64_t{4095};
    if (offset < page_offset || offset >= ph->p_offset + ph->p_filesz) continue;
    bias = start - offset + ph->p_offset - ph->p_vaddr;
    found = true;
    break;
  }
  if (!found) return build_id;
  // .symtab when the object has one (unstripped), else .dynsym (exported names only).
  const Elf64_Shdr* symtab = nullptr;
  for (uint32_t type : {uint32_t{SHT_SYMTAB}, uint32_t{SHT_DYNSYM}}) {
    for (uint32_t i = 0; i < eh->e_shnum && symtab == nullptr; ++i) {
      const auto* sh = At<Elf64_Shdr>(data, size, eh->e_shoff, i);
      if (sh == nullptr) return build_id;
      if (sh->sh_type == type && sh->sh_entsize == sizeof(Elf64_Sym)) symtab = sh;
    }
    if (symtab != nullptr) break;
  }
  if (symtab == nullptr) return build_id;
  const auto* strtab = At<Elf64_Shdr>(data, size, eh->e_shoff, symtab->sh_link);
  if (strtab == nullptr || strtab->sh_offset > size || strtab->sh_size > size - strtab->sh_offset) {
    return build_id;
  }
  const char* strings = data + strtab->sh_offset;
  const uint64_t count = symtab->sh_size / sizeof(Elf64_Sym);
  for (uint64_t i = 0; i < count; ++i) {
    const auto* sym = At<Elf64_Sym>(data, size, symtab->sh_offset, i);
    if (sym == nullptr) break;
    const int type = ELF64_ST_TYPE(sym->st_info);
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym->st_shndx == SHN_UNDEF ||
        sym->st_value == 0 || sym->st_name >= strtab->sh_size) {
      continue;
    }
    const uint64_t addr = sym->st_value + bias;
    if (addr < start || addr >= end) continue;
    const char* name = strings + sym->st_name;
    const size_t len = strnlen(name, strtab->sh_size - sym->st_name);
    if (len == 0 || len == strtab->sh_size - sym->st_name) continue;  // empty or unterminated
    // A symbol without a size (hand-written assembly) reaches to the next symbol, at most to
    // the end of its mapping (Finish() trims it).
    const uint64_t sym_end = sym->st_size > 0 ? addr + sym->st_size : end;
    entries_.push_back(
        Entry{addr, sym_end, static_cast<uint32_t>(names_.size()), sym->st_size > 0});
    names_.append(name, len);
    names_.push_back('\0');
  }
  return build_id;
}

void ElfSymbols::Finish() {
  // Sorted by start; of several symbols at one address keep the one with a size (aliases such
  // as a local and a global name for one function are equally right).
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.start != b.start) return a.start < b.start;
    return a.sized > b.sized;
  });
  entries_.erase(std::unique(entries_.begin(), entries_.end(),
                             [](const Entry& a, const Entry& b) { return a.start == b.start; }),
                 entries_.end());
  for (size_t i = 0; i + 1 < entries_.size(); ++i) {
    entries_[i].end = std::min(entries_[i].end, entries_[i + 1].start);
  }
  entries_.shrink_to_fit();
  names_.shrink_to_fit();
  std::sort(mappings_.begin(), mappings_.end(),
            [](const Mapping& a, const Mapping& b) { return a.start < b.start; });
}

const ElfSymbols::Mapping* ElfSymbols::MappingOf(uint64_t pc) const {
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), pc,
                             [](uint64_t v, const Mapping& m) { return v < m.start; });
  if (it == mappings_.begin()) return nullptr;
  --it;
  return pc < it->end ? &*it : nullptr;
}

absl::string_view ElfSymbols::Lookup(uint64_t pc) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), pc,
                             [](uint64_t v, const Entry& e) { return v < e.start; });
  if (it == entries_.begin()) return {};
  --it;
  if (pc >= it->end) return {};  // past the function: padding, a PLT, another mapping
  return absl::string_view(names_.data() + it->name);
}

std::shared_ptr<const ElfSymbols> ElfSymbols::Build(absl::string_view maps) {
  std::string key;
  std::vector<MapLine> mappings = ExecutableMappings(maps, &key);
  auto table = std::shared_ptr<ElfSymbols>(new ElfSymbols);
  std::string open_path;
  std::unique_ptr<MappedFile> file;
  for (const MapLine& m : mappings) {
    Mapping mapping{m.start, m.end, m.offset, m.path, "", false};
    const size_t before = table->entries_.size();
    if (m.path == "[vdso]") {
      const auto base = static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR));
      if (base == m.start) {
        mapping.build_id = table->AddImage(reinterpret_cast<const char*>(base), m.end - m.start,
                                           m.start, m.end, 0);
      }
    } else {
      if (m.path != open_path) {
        file = std::make_unique<MappedFile>(m.path);
        open_path = m.path;
      }
      if (file->data() != nullptr) {
        mapping.build_id = table->AddImage(file->data(), file->size(), m.start, m.end, m.offset);
      }
    }
    mapping.named_any = table->entries_.size() > before;
    table->mappings_.push_back(std::move(mapping));
  }
  table->Finish();
  return table;
}

absl::StatusOr<std::shared_ptr<const ElfSymbols>> ElfSymbols::ForThisProcess() {
  // The last table built, for the mappings it was built from. Never destroyed: a profile may be
  // symbolized while the process exits.
  struct Cache {
    Mutex mu;
    std::string key ABSL_GUARDED_BY(mu);
    std::shared_ptr<const ElfSymbols> table ABSL_GUARDED_BY(mu);
  };
  static Cache* cache = new Cache;
  auto maps = Procfs::ReadPath("/proc/self/maps", size_t{64} << 20);
  if (!maps.ok()) return absl::UnavailableError(maps.status().message());
  std::string key;
  ExecutableMappings(*maps, &key);
  MutexLock lock(&cache->mu);
  if (key == cache->key && cache->table != nullptr) return cache->table;
  std::shared_ptr<const ElfSymbols> table = Build(*maps);
  cache->key = std::move(key);
  cache->table = table;  // kept until the mappings change, so back-to-back requests share one build
  return table;
}

}  // namespace internal
}  // namespace vitals
