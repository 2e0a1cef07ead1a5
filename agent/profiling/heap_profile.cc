#include "agent/profiling/heap_profile.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "agent/base/gperftools.h"
#include "agent/profiling/pprof_proto.h"

#if __has_include(<gperftools/malloc_extension.h>)
#include <gperftools/malloc_extension.h>
#define VITALS_HAVE_MALLOC_EXTENSION_H 1
#endif

namespace vitals {
namespace internal {

#ifdef VITALS_HAVE_MALLOC_EXTENSION_H
namespace {

// Its virtual functions are called through the object, so nothing here links tcmalloc.
absl::StatusOr<MallocExtension*> Extension() {
  auto ext = TcmallocMallocExtension();
  if (!ext.ok()) return ext.status();
  return static_cast<MallocExtension*>(*ext);
}

}  // namespace
#endif

namespace {

absl::StatusOr<std::string> HeapSampleText() {
#ifdef VITALS_HAVE_MALLOC_EXTENSION_H
  auto ext = Extension();
  if (!ext.ok()) return ext.status();
  int64_t period = 0;
  const char* env = std::getenv("TCMALLOC_SAMPLE_PARAMETER");
  if (env == nullptr || !absl::SimpleAtoi(env, &period) || period <= 0) {
    return absl::FailedPreconditionError(
        "tcmalloc heap sampling is off: start the service with TCMALLOC_SAMPLE_PARAMETER=524288 "
        "(sample about every 512 KiB allocated)");
  }
  std::string out;
  (*ext)->GetHeapSample(&out);
  if (absl::StrContains(out, "heap sampling turned off")) {
    return absl::FailedPreconditionError(
        "tcmalloc heap sampling is off: set TCMALLOC_SAMPLE_PARAMETER=524288 before start");
  }
  return out;
#else
  return absl::UnimplementedError("vitals was built without gperftools headers");
#endif
}

absl::StatusOr<std::string> HeapGrowthText() {
#ifdef VITALS_HAVE_MALLOC_EXTENSION_H
  auto ext = Extension();
  if (!ext.ok()) return ext.status();
  std::string out;
  (*ext)->GetHeapGrowthStacks(&out);
  return out;
#else
  return absl::UnimplementedError("vitals was built without gperftools headers");
#endif
}

absl::StatusOr<std::string> InFormat(absl::StatusOr<std::string> legacy, ProfileFormat format) {
  if (!legacy.ok() || format == ProfileFormat::kGperftools) return legacy;
  return HeapProfileToPprof(*legacy, absl::ToUnixNanos(absl::Now()));
}

}  // namespace

absl::StatusOr<std::string> TcmallocHeapSample(ProfileFormat format) {
  return InFormat(HeapSampleText(), format);
}

absl::StatusOr<std::string> TcmallocHeapGrowth(ProfileFormat format) {
  return InFormat(HeapGrowthText(), format);
}

}  // namespace internal
}  // namespace vitals
