// agent/profiling/pprof_proto.h: gperftools' legacy profiles turned into pprof's profile.proto
// (the perftools.profiles schema that Go's pprof, google/pprof and continuous profilers such as
// Pyroscope, Parca and Grafana Alloy read), symbolized inside the process and gzipped, as Go's
// net/http/pprof serves them.
//
// Symbolized in the process: every location carries its function's demangled name (and the
// mangled one as system name), and its file and line where the object has DWARF line tables;
// every mapping carries its file name and GNU build ID. A client needs neither the binary nor a
// symbol round trip (`go tool pprof -top URL` names frames as they are).
//
// Conventions kept from Go's pprof legacy-format reader: the frames above the leaf of a CPU
// sample, and every frame of a heap sample, are return addresses and are moved back by one byte
// so they land in the call instruction (the right line); heap samples of tcmalloc's heap_v2
// sampling are scaled by 1 / (1 - exp(-avg_size / rate)), the unbiasing Go applies.
//
// Thread-safety: pure functions over their inputs, except the *ToPprof conveniences, which read
// this process's mappings (see ElfSymbols) and may be called from any thread.

#ifndef VITALS_AGENT_PROFILING_PPROF_PROTO_H_
#define VITALS_AGENT_PROFILING_PPROF_PROTO_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/profiling/elf_symbols.h"
#include "agent/profiling/line_info.h"

namespace vitals {
namespace internal {

struct ProfileSample {
  std::vector<uint64_t> pcs;  // leaf first, already adjusted to land in their instruction
  std::vector<int64_t> values;
  std::vector<std::pair<std::string, std::string>> labels;  // (key, string value)
};

struct ProfileData {
  std::vector<std::pair<std::string, std::string>> sample_types;  // (type, unit)
  std::pair<std::string, std::string> period_type;
  int64_t period = 0;
  int64_t time_nanos = 0;
  int64_t duration_nanos = 0;
  std::string default_sample_type;
  std::vector<ProfileSample> samples;
  std::vector<std::string> comments;
  // A regular expression of the frames pprof drops with everything they call (the profiler's
  // own or the allocator's), as Go's pprof sets it for these legacy profiles.
  std::string drop_frames;
};

// gperftools' CPU profile (binary, from ProfilerStart): samples and cpu nanoseconds.
// InvalidArgument when the bytes are not one.
absl::StatusOr<ProfileData> ParseLegacyCpuProfile(absl::string_view bytes);

// tcmalloc's heap sample (`@ heap_v2/RATE`: inuse_objects, inuse_space, scaled) or heap growth
// stacks (`@ growth`: objects, space) in the legacy text format. InvalidArgument otherwise.
absl::StatusOr<ProfileData> ParseLegacyHeapProfile(absl::string_view text);

// The serialized profile.proto (not gzipped), symbolized with `symbols` and, when not null,
// `lines`.
std::string EncodeProfile(const ProfileData& data, const ElfSymbols& symbols, LineInfo* lines);

// Parse, symbolize with this process's objects, encode and gzip. `time_nanos` (wall clock, Unix
// epoch) and `duration_nanos` describe the capture.
absl::StatusOr<std::string> CpuProfileToPprof(absl::string_view legacy, int64_t time_nanos,
                                              int64_t duration_nanos);
absl::StatusOr<std::string> HeapProfileToPprof(absl::string_view legacy, int64_t time_nanos);

// Symbolize with this process's objects, encode and gzip a profile built in the process.
absl::StatusOr<std::string> ProfileToPprof(const ProfileData& data);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_PPROF_PROTO_H_
