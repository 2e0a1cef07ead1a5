// agent/core/native_histogram.h: the layout of a family's native buckets, and reading them
// back as Prometheus wants them: the non-empty buckets at a schema low enough that there are
// at most the family's limit of them.
//
// The cells keep the family's schema for the life of the series. When a scrape finds more
// non-empty buckets than `max_buckets`, it lowers the schema (each step merges pairs of
// neighbouring buckets, halving the resolution) until they fit, as client_golang does. The
// counts only grow, so once lowered a series stays lowered; PromQL handles a schema that
// changes between samples.
//
// Thread-safety: MakeNativeLayout and ReadNativeBuckets are pure; the cells are read lock-free
// by the caller (Family::ReadNative).

#ifndef VITALS_AGENT_CORE_NATIVE_HISTOGRAM_H_
#define VITALS_AGENT_CORE_NATIVE_HISTOGRAM_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vitals/detail/native_buckets.h"

namespace vitals {
namespace internal {

// The layout for `schema` (0..8) over (zero_threshold, max], rounded outwards to powers of two,
// with at most `max_buckets` (>= 1) non-empty buckets in the exposition. InvalidArgument when
// the values are out of range or the range needs more than 1,023 cells.
absl::StatusOr<NativeLayout> MakeNativeLayout(absl::string_view metric, int schema,
                                              double zero_threshold, double max,
                                              uint32_t max_buckets);

// The built-in duration families' layout (Options::native_histograms): schema 3 over
// (2^-20 s, 2^12 s], at most 160 non-empty buckets.
const NativeLayout& DurationNativeLayout();

struct NativeBuckets {
  int32_t schema = 0;
  double zero_threshold = 0;
  double zero_count = 0;
  // (index at `schema`, count) of the non-empty buckets, by index.
  std::vector<std::pair<int32_t, double>> buckets;
};

// The native histogram in `cells` (layout.cells() of them, summed over CPUs).
NativeBuckets ReadNativeBuckets(const NativeLayout& layout, const double* cells);

// The upper bound of bucket `index` at `schema`: 2^(index / 2^schema).
double NativeBucketUpperBound(int32_t schema, int32_t index);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_NATIVE_HISTOGRAM_H_
