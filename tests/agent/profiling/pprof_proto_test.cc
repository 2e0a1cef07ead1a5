// gperftools' legacy profiles into profile.proto: the parsers, the encoding (read back with a
// decoder of the wire format and with protoc, the reference parser), and the in-process
// symbolization it carries.

#include "agent/profiling/pprof_proto.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "agent/base/gzip.h"
#include "tests/support/process.h"
#include "tests/support/profile_decoder.h"

namespace vitals_pprof_test {
volatile int sink = 0;
__attribute__((noinline)) void ProfiledLeaf() { sink = sink + 1; }
__attribute__((noinline)) void ProfiledCaller() {
  ProfiledLeaf();
  sink = sink + 2;
}
}  // namespace vitals_pprof_test

namespace {

using vitals::internal::ParseLegacyCpuProfile;
using vitals::internal::ParseLegacyHeapProfile;

std::string Words(const std::vector<uint64_t>& words) {
  std::string out(words.size() * sizeof(uint64_t), '\0');
  std::memcpy(out.data(), words.data(), out.size());
  return out;
}

uint64_t Addr(void (*fn)()) { return reinterpret_cast<uint64_t>(fn); }

// A legacy CPU profile as gperftools writes it: header, records, trailer, then the maps text.
std::string LegacyCpu(uint64_t leaf, uint64_t caller) {
  return Words({0, 3, 0, 10000, 0,   // header: 10 ms period
                5, 2, leaf, caller,  // 5 samples of leaf <- caller
                2, 1, leaf,          // 2 samples of leaf alone
                0, 1, 0}) +          // trailer
         "00400000-00401000 r-xp 00000000 fd:01 1 /bin/x\n";
}

TEST_CASE("a legacy CPU profile parses into samples with CPU time", "[pprof_proto]") {
  auto data = ParseLegacyCpuProfile(LegacyCpu(0x1000, 0x2000));
  REQUIRE(data.ok());
  CHECK(data->period == 10'000'000);
  CHECK(data->period_type == std::make_pair(std::string("cpu"), std::string("nanoseconds")));
  CHECK(data->default_sample_type == "cpu");
  REQUIRE(data->samples.size() == 2);
  // The leaf is where the CPU was; its caller's return address moves back into the call.
  CHECK(data->samples[0].pcs == std::vector<uint64_t>{0x1000, 0x1fff});
  CHECK(data->samples[0].values == std::vector<int64_t>{5, 50'000'000});
  CHECK(data->samples[1].values == std::vector<int64_t>{2, 20'000'000});
  CHECK(data->drop_frames.find("CpuProfiler::prof_handler") != std::string::npos);
}

TEST_CASE("bytes that are not a CPU profile, or are cut short, are refused", "[pprof_proto]") {
  CHECK(!ParseLegacyCpuProfile("").ok());
  CHECK(!ParseLegacyCpuProfile("heap profile: 1: 2 [1: 2] @ heap_v2/524288\n").ok());
  CHECK(!ParseLegacyCpuProfile(Words({0, 3, 0, 0, 0, 1, 1, 5, 0, 1, 0})).ok());  // period 0
  auto cut = ParseLegacyCpuProfile(Words({0, 3, 0, 10000, 0, 1, 500, 0x1000}));
  CHECK(absl::IsInvalidArgument(cut.status()));
}

TEST_CASE("tcmalloc's heap sample is unsampled the way Go's pprof does it", "[pprof_proto]") {
  const std::string text =
      "heap profile:    3:  1536 [     3:  1536] @ heap_v2/524288\n"
      "     1:   1024 [     1:   1024] @ 0x1000 0x2000\n"
      "     2:    512 [     2:    512] @ 0x3000\n"
      "\nMAPPED_LIBRARIES:\n00400000-00401000 r-xp 00000000 fd:01 1 /bin/x\n";
  auto data = ParseLegacyHeapProfile(text);
  REQUIRE(data.ok());
  CHECK(data->sample_types == std::vector<std::pair<std::string, std::string>>{
                                  {"inuse_objects", "count"}, {"inuse_space", "bytes"}});
  CHECK(data->default_sample_type == "inuse_space");
  CHECK(data->period == 524288);
  REQUIRE(data->samples.size() == 2);
  // Go: scale = 1 / (1 - exp(-(bytes / count) / rate)), both values truncated.
  const double scale1 = 1 / (1 - std::exp(-1024.0 / 524288));
  CHECK(data->samples[0].values == std::vector<int64_t>{static_cast<int64_t>(1 * scale1),
                                                        static_cast<int64_t>(1024 * scale1)});
  const double scale2 = 1 / (1 - std::exp(-256.0 / 524288));
  CHECK(data->samples[1].values ==
        std::vector<int64_t>{static_cast<int64_t>(2 * scale2), static_cast<int64_t>(512 * scale2)});
  // Every heap frame is a return address.
  CHECK(data->samples[0].pcs == std::vector<uint64_t>{0xfff, 0x1fff});
  CHECK(data->drop_frames.find("tcmalloc::.*") != std::string::npos);
}

TEST_CASE("heap growth stacks keep their sizes as they are", "[pprof_proto]") {
  auto data = ParseLegacyHeapProfile(
      "heap profile:    1:  1048576 [     1:  1048576] @ growth\n"
      "     1: 1048576 [     1: 1048576] @ 0x1000\n");
  REQUIRE(data.ok());
  CHECK(data->sample_types[1].first == "space");
  REQUIRE(data->samples.size() == 1);
  CHECK(data->samples[0].values == std::vector<int64_t>{1, 1048576});
  CHECK(!ParseLegacyHeapProfile("heap profile: 1: 2 [1: 2] @ mystery\n").ok());
  CHECK(!ParseLegacyHeapProfile("hello").ok());
  CHECK(absl::IsInvalidArgument(
      ParseLegacyHeapProfile("heap profile: 1: 2 [1: 2] @ growth\n  x: y @ 0x1\n").status()));
}

TEST_CASE("a profile of this process is a gzipped profile.proto, symbolized in the process",
          "[pprof_proto]") {
  const uint64_t leaf = Addr(&vitals_pprof_test::ProfiledLeaf) + 1;
  const uint64_t caller_return = Addr(&vitals_pprof_test::ProfiledCaller) + 5;
  auto gz = vitals::internal::CpuProfileToPprof(LegacyCpu(leaf, caller_return),
                                                1'700'000'000'000'000'000, 3'000'000'000);
  REQUIRE(gz.ok());
  REQUIRE(gz->size() > 2);
  CHECK(static_cast<uint8_t>((*gz)[0]) == 0x1f);  // what Go's net/http/pprof serves
  CHECK(static_cast<uint8_t>((*gz)[1]) == 0x8b);
  std::string proto;
  REQUIRE(vitals::internal::GzipDecompress(*gz, proto));
  auto p = vitals_test::DecodeProfile(proto);
  REQUIRE(p.has_value());

  CHECK(p->strings.at(0).empty());
  CHECK(p->sample_types == std::vector<std::pair<std::string, std::string>>{
                               {"samples", "count"}, {"cpu", "nanoseconds"}});
  CHECK(p->default_sample_type == "cpu");
  CHECK(p->period_type == std::make_pair(std::string("cpu"), std::string("nanoseconds")));
  CHECK(p->period == 10'000'000);
  CHECK(p->time_nanos == 1'700'000'000'000'000'000);
  CHECK(p->duration_nanos == 3'000'000'000);
  REQUIRE(p->samples.size() == 2);
  CHECK(p->samples[0].values == std::vector<int64_t>{5, 50'000'000});

  // Short names as pprof shows them; the mangled symbol as the system name.
  const std::vector<std::string> frames = p->Frames(p->samples[0]);
  REQUIRE(frames.size() >= 2);
  CHECK(frames.front() == "vitals_pprof_test::ProfiledLeaf");
  CHECK(frames.back() == "vitals_pprof_test::ProfiledCaller");
  bool mangled = false;
  for (const auto& [id, fn] : p->functions) {
    if (fn.name == "vitals_pprof_test::ProfiledLeaf") {
      mangled = fn.system_name == "_ZN17vitals_pprof_test12ProfiledLeafEv";
      CHECK(fn.filename.find("pprof_proto_test.cc") != std::string::npos);  // from DWARF
    }
  }
  CHECK(mangled);
  // The location: its address, its mapping (this binary, with its build ID), a line.
  const auto& loc = p->locations.at(p->samples[0].location_ids[0]);
  CHECK(loc.address == leaf);
  REQUIRE(loc.mapping_id >= 1);
  REQUIRE(loc.mapping_id <= p->mappings.size());
  const auto& m = p->mappings[loc.mapping_id - 1];
  CHECK(m.id == loc.mapping_id);
  CHECK(m.filename == vitals_test::BinaryDir() + "/tests/vitals_unit_tests");
  CHECK(m.build_id.size() == 40);
  CHECK(m.start <= leaf);
  CHECK(leaf < m.limit);
  CHECK(m.has_functions);
  CHECK(m.has_line_numbers);
  REQUIRE(!loc.lines.empty());
  CHECK(loc.lines.back().line > 0);
  CHECK(!p->drop_frames.empty());
}

TEST_CASE("protoc's reference parser reads the encoding", "[pprof_proto]") {
  auto gz = vitals::internal::CpuProfileToPprof(
      LegacyCpu(Addr(&vitals_pprof_test::ProfiledLeaf), Addr(&vitals_pprof_test::ProfiledCaller)),
      1, 1);
  REQUIRE(gz.ok());
  std::string proto;
  REQUIRE(vitals::internal::GzipDecompress(*gz, proto));
  vitals_test::TempDir dir;
  vitals_test::WriteFile(dir.path() + "/profile.pb", proto);
  std::string out;
  const int rc =
      vitals_test::RunCommand("protoc --decode_raw < " + dir.path() + "/profile.pb", &out);
  INFO(out.substr(0, 2000));
  REQUIRE(rc == 0);
  CHECK(out.find("ProfiledLeaf") != std::string::npos);
  CHECK(out.find("nanoseconds") != std::string::npos);
}

TEST_CASE("a heap profile without tcmalloc's format is an error, not an empty profile",
          "[pprof_proto]") {
  CHECK(absl::IsInvalidArgument(vitals::internal::HeapProfileToPprof("nonsense", 1).status()));
  CHECK(absl::IsInvalidArgument(vitals::internal::CpuProfileToPprof("nonsense", 1, 1).status()));
}

}  // namespace
