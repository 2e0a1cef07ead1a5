// Fuzz target: gperftools' legacy profiles (the CPU profiler's binary output and tcmalloc's
// heap text), parsed and encoded as profile.proto (agent/profiling/pprof_proto.h), then read
// back with the tests' profile.proto reader (tests/support/profile_decoder.h). Invariants: the
// parsers accept or refuse with InvalidArgument; an accepted profile encodes to bytes the
// reader decodes, with the same sample types, period, and per-type value totals, and every
// sample's frames found among the locations.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/profiling/elf_symbols.h"
#include "agent/profiling/pprof_proto.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/profile_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitals_fuzz::FuzzInput in(data, size);
  const bool cpu = (in.Byte() & 1) != 0;
  const absl::string_view bytes = in.Rest();
  auto parsed = cpu ? vitals::internal::ParseLegacyCpuProfile(bytes)
                    : vitals::internal::ParseLegacyHeapProfile(bytes);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               parsed.status().ToString().c_str());
    return 0;
  }
  static const auto* symbols = new std::shared_ptr<const vitals::internal::ElfSymbols>(
      vitals::internal::ElfSymbols::Build(""));
  const std::string proto = vitals::internal::EncodeProfile(*parsed, **symbols, nullptr);
  const auto decoded = vitals_test::DecodeProfile(proto);
  FUZZ_CHECK(decoded.has_value(), "the encoded profile (%zu bytes) does not decode", proto.size());
  FUZZ_CHECK(decoded->sample_types == parsed->sample_types, "%zu sample types, %zu decoded",
             parsed->sample_types.size(), decoded->sample_types.size());
  FUZZ_CHECK(decoded->period == parsed->period, "period %lld, %lld decoded",
             static_cast<long long>(parsed->period), static_cast<long long>(decoded->period));
  const size_t types = parsed->sample_types.size();
  std::vector<int64_t> want(types, 0), got(types, 0);
  for (const auto& s : parsed->samples) {
    for (size_t k = 0; k < types && k < s.values.size(); ++k) {
      want[k] =
          static_cast<int64_t>(static_cast<uint64_t>(want[k]) + static_cast<uint64_t>(s.values[k]));
    }
  }
  for (const auto& s : decoded->samples) {
    for (size_t k = 0; k < types && k < s.values.size(); ++k) {
      got[k] =
          static_cast<int64_t>(static_cast<uint64_t>(got[k]) + static_cast<uint64_t>(s.values[k]));
    }
    for (uint64_t id : s.location_ids) {
      FUZZ_CHECK(decoded->locations.count(id) == 1, "a sample's location %llu is not defined",
                 static_cast<unsigned long long>(id));
    }
  }
  FUZZ_CHECK(want == got, "value totals differ after the round trip");
  return 0;
}
