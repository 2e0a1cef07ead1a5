#include "agent/base/procfs.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/process.h"

namespace {

using vitals::internal::ParseBootTime;
using vitals::internal::ParseProcLimits;
using vitals::internal::ParseProcStat;
using vitals::internal::Procfs;

// A real line from this machine, with a command name built to confuse a naive split.
const char kStat[] =
    "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1520 0 0 0 250 50 0 0 20 0 7 0 12345 104857600 "
    "2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

const char kLimits[] =
    "Limit                     Soft Limit           Hard Limit           Units     \n"
    "Max cpu time              unlimited            unlimited            seconds   \n"
    "Max open files            1024                 524288               files     \n"
    "Max address space         unlimited            unlimited            bytes     \n";

TEST_CASE("ParseProcStat reads the fields after the last parenthesis", "[procfs]") {
  auto s = ParseProcStat(kStat);
  REQUIRE(s.ok());
  CHECK(s->utime_ticks == 250);
  CHECK(s->stime_ticks == 50);
  CHECK(s->num_threads == 7);
  CHECK(s->start_ticks == 12345);
  CHECK(s->vsize_bytes == 104857600);
  CHECK(s->rss_pages == 2560);
  CHECK(s->comm == "a) (b c");
  CHECK(s->state == 'S');
}

TEST_CASE("ParseProcStat rejects truncated or garbled text with a reason", "[procfs]") {
  CHECK(ParseProcStat("").status().message() == "stat: no ')' after the command name");
  CHECK(!ParseProcStat("1 (x) S 1 2 3").ok());
  std::string garbled = kStat;
  garbled.replace(garbled.find("250"), 3, "2x0");
  CHECK(ParseProcStat(garbled).status().message() == "stat: a field is not a number");
}

TEST_CASE("ParseProcLimits reads soft limits and maps unlimited to 2^64-1", "[procfs]") {
  auto l = ParseProcLimits(kLimits);
  REQUIRE(l.ok());
  CHECK(l->max_open_files == 1024);
  CHECK(l->max_address_space == 18446744073709551615.0);
  std::string limited = kLimits;
  limited.replace(limited.find("unlimited            unlimited            bytes"), 9, "     4096");
  CHECK(ParseProcLimits(limited)->max_address_space == 4096);
  CHECK(!ParseProcLimits("Limit Soft Hard\n").ok());
  CHECK(
      !ParseProcLimits("Max open files   lots   lots  files\nMax address space 1 1 bytes\n").ok());
}

TEST_CASE("ParseBootTime finds btime in /proc/stat", "[procfs]") {
  CHECK(*ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n") == 1700000000);
  CHECK(!ParseBootTime("cpu 1 2 3\n").ok());
  CHECK(!ParseBootTime("btime soon\n").ok());
}

TEST_CASE("Procfs reads files and counts descriptors under its root", "[procfs]") {
  vitals_test::TempDir root;
  std::filesystem::create_directories(root.path() + "/77/fd");
  vitals_test::WriteFile(root.path() + "/77/stat", kStat);
  vitals_test::WriteFile(root.path() + "/stat", "btime 5\n");
  for (int i = 0; i < 4; ++i)
    vitals_test::WriteFile(root.path() + "/77/fd/" + std::to_string(i), "");
  Procfs procfs(root.path(), "77");
  CHECK(*procfs.ReadProcessFile("stat") == kStat);
  CHECK(*procfs.ReadFile("stat") == "btime 5\n");
  CHECK(*procfs.CountOpenFds() == 4);
  auto missing = procfs.ReadProcessFile("limits");
  CHECK(absl::IsNotFound(missing.status()));
  CHECK(missing.status().message() ==
        "cannot open " + root.path() + "/77/limits: No such file or directory");
  CHECK(absl::IsNotFound(Procfs(root.path(), "78").CountOpenFds().status()));
}

TEST_CASE("ReadPath reads up to its bound: 1 MiB for /proc, more when asked", "[procfs]") {
  vitals_test::TempDir dir;
  const std::string big(3 << 20, 'p');  // a CPU profile of a busy process can be this big
  vitals_test::WriteFile(dir.path() + "/profile", big);
  CHECK(Procfs::ReadPath(dir.path() + "/profile", 8 << 20)->size() == big.size());
  CHECK(Procfs::ReadPath(dir.path() + "/profile")->size() < big.size());
}

TEST_CASE("Procfs on the real /proc agrees with this process", "[procfs]") {
  Procfs procfs("/proc", "self");
  auto stat = ParseProcStat(*procfs.ReadProcessFile("stat"));
  REQUIRE(stat.ok());
  CHECK(stat->num_threads >= 1);
  CHECK(stat->rss_pages > 0);
  CHECK(*procfs.CountOpenFds() >= 3);
  CHECK(ParseProcLimits(*procfs.ReadProcessFile("limits")).ok());
  CHECK(ParseBootTime(*procfs.ReadFile("stat")).ok());
}

}  // namespace
