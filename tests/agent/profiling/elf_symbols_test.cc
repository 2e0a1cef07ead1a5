#include "agent/profiling/elf_symbols.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_format.h"
#include "agent/profiling/function_names.h"
#include "agent/profiling/profiler.h"
#include "tests/support/process.h"

namespace vitals_symbols_test {
// A function of this binary to look up, not inlined so it has its own symbol.
__attribute__((noinline)) int ElfSymbolsTestTarget(int x) { return x * 3 + 1; }
}  // namespace vitals_symbols_test

namespace {

using vitals::internal::ElfSymbols;

TEST_CASE("the table names functions of the binary and of shared libraries", "[symbols]") {
  auto table = ElfSymbols::ForThisProcess();
  REQUIRE(table.ok());
  CHECK((*table)->size() > 1000);
  const auto target = reinterpret_cast<uintptr_t>(&vitals_symbols_test::ElfSymbolsTestTarget);
  CHECK(vitals::internal::Demangle((*table)->Lookup(target)) ==
        "vitals_symbols_test::ElfSymbolsTestTarget(int)");
  CHECK(vitals::internal::Demangle((*table)->Lookup(target + 2)) ==
        "vitals_symbols_test::ElfSymbolsTestTarget(int)");
  // Debian's libz is stripped: its exported names (.dynsym) still name its functions.
  CHECK((*table)->Lookup(reinterpret_cast<uintptr_t>(&zlibVersion)) == "zlibVersion");
  CHECK((*table)->Lookup(1).empty());
  CHECK((*table)->Lookup(UINT64_MAX).empty());
  // The same mappings: the same table, not a rebuild.
  auto again = ElfSymbols::ForThisProcess();
  REQUIRE(again.ok());
  CHECK(again->get() == table->get());
}

TEST_CASE("the table lists each executable mapping with its file and GNU build ID", "[symbols]") {
  auto table = ElfSymbols::ForThisProcess();
  REQUIRE(table.ok());
  const auto target = reinterpret_cast<uintptr_t>(&vitals_symbols_test::ElfSymbolsTestTarget);
  const ElfSymbols::Mapping* self = (*table)->MappingOf(target);
  REQUIRE(self != nullptr);
  CHECK(self->start <= target);
  CHECK(target < self->end);
  CHECK(self->path == vitals_test::BinaryDir() + "/tests/vitals_unit_tests");
  CHECK(self->named_any);
  // The build ID readelf sees in the file.
  std::string readelf;
  REQUIRE(vitals_test::RunCommand("readelf -n " + self->path + " | grep 'Build ID'", &readelf) ==
          0);
  REQUIRE(self->build_id.size() == 40);
  CHECK(readelf.find(self->build_id) != std::string::npos);
  const ElfSymbols::Mapping* libz = (*table)->MappingOf(reinterpret_cast<uintptr_t>(&zlibVersion));
  REQUIRE(libz != nullptr);
  CHECK(libz->path.find("libz.so") != std::string::npos);
  CHECK(!libz->build_id.empty());
  // Sorted by address, not overlapping.
  const auto& all = (*table)->mappings();
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].end <= all[i].start);
  CHECK((*table)->MappingOf(1) == nullptr);
}

TEST_CASE("objects that are not ELF, or gone, are skipped without harm", "[symbols]") {
  vitals_test::TempDir dir;
  const std::string junk = dir.path() + "/junk.so";
  vitals_test::WriteFile(junk, std::string(4096, '\x7f') + "ELF but not really");
  const std::string truncated = dir.path() + "/truncated.so";
  vitals_test::WriteFile(truncated, std::string("\x7f"
                                                "ELF\x02\x01\x01",
                                                7));
  const std::string maps = "7f0000000000-7f0000001000 r-xp 00000000 fd:01 1 " + junk + "\n" +
                           "7f0000001000-7f0000002000 r-xp 00000000 fd:01 2 " + truncated + "\n" +
                           "7f0000002000-7f0000003000 r-xp 00000000 fd:01 3 /nonexistent/lib.so\n"
                           "garbage line\n";
  auto table = ElfSymbols::Build(maps);
  CHECK(table->size() == 0);
  CHECK(table->Lookup(0x7f0000000010).empty());
  // Still listed as mappings (pprof shows their file names), with nothing named in them.
  REQUIRE(table->mappings().size() == 3);
  CHECK(table->mappings()[0].path == junk);
  CHECK(!table->mappings()[0].named_any);
  CHECK(table->mappings()[0].build_id.empty());
}

TEST_CASE("symbol requests are capped, and stop when cancelled", "[symbols]") {
  const auto target = reinterpret_cast<uintptr_t>(&vitals_symbols_test::ElfSymbolsTestTarget);
  std::string body;
  for (size_t i = 0; i < vitals::internal::kMaxSymbolAddresses; ++i) {
    absl::StrAppendFormat(&body, "0x%x+", target);
  }
  auto full = vitals::internal::SymbolizeForPprof(body, nullptr);
  REQUIRE(full.ok());
  CHECK(full->find("ElfSymbolsTestTarget") != std::string::npos);
  auto over = vitals::internal::SymbolizeForPprof(body + "0x1", nullptr);
  CHECK(over.status().code() == absl::StatusCode::kResourceExhausted);
  int polls = 0;
  auto cancelled = vitals::internal::SymbolizeForPprof(body, [&] { return ++polls > 3; });
  CHECK(cancelled.status().code() == absl::StatusCode::kCancelled);
  CHECK(polls == 4);  // checked every 256 addresses, and stopped at the first "yes"
}

}  // namespace
