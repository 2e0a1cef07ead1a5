// agent/profiling/heap_profile.h: tcmalloc's heap profiles, read through its extension API.
//
// Thread-safety: any thread. Cost: tcmalloc walks its sampled objects (about one per
// TCMALLOC_SAMPLE_PARAMETER bytes live), then the stacks are symbolized (pprof_proto.h).

#ifndef VITALS_AGENT_PROFILING_HEAP_PROFILE_H_
#define VITALS_AGENT_PROFILING_HEAP_PROFILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "vitals/profiling.h"

namespace vitals {
namespace internal {

// tcmalloc's heap sample (the live objects its sampling has recorded, with stacks): a gzipped
// profile.proto with inuse_objects and inuse_space, scaled for the sampling, or the legacy
// "heap profile:" text. Unimplemented when tcmalloc is not the allocator; FailedPrecondition
// when sampling is off (TCMALLOC_SAMPLE_PARAMETER unset or 0).
absl::StatusOr<std::string> TcmallocHeapSample(ProfileFormat format = ProfileFormat::kPprof);

// tcmalloc's heap growth stacks (where the heap grew: objects and space), same formats.
absl::StatusOr<std::string> TcmallocHeapGrowth(ProfileFormat format = ProfileFormat::kPprof);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_HEAP_PROFILE_H_
