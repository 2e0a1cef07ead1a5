// agent/profiling/heap_profile.h: tcmalloc's heap profiles, read through its extension API.

#ifndef VITALS_AGENT_PROFILING_HEAP_PROFILE_H_
#define VITALS_AGENT_PROFILING_HEAP_PROFILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace vitals {
namespace internal {

// tcmalloc's heap sample (the live objects its sampling has recorded, with stacks) in the
// legacy "heap profile:" text format pprof reads. Unimplemented when tcmalloc is not the
// allocator; FailedPrecondition when sampling is off (TCMALLOC_SAMPLE_PARAMETER unset or 0).
absl::StatusOr<std::string> TcmallocHeapSample();

// tcmalloc's heap growth stacks: where the heap grew, same format.
absl::StatusOr<std::string> TcmallocHeapGrowth();

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_HEAP_PROFILE_H_
