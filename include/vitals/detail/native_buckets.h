// vitals/detail/native_buckets.h: where a value lands in a native (sparse exponential)
// histogram. Not API; shipped because Histogram::Observe is inline.
//
// Prometheus' native histograms number their buckets by an integer index at a `schema` s:
// bucket i holds the values in (2^((i-1)/2^s), 2^(i/2^s)], so each power of two splits into 2^s
// buckets that grow by the factor 2^(2^-s) (schema 3: 8 per power of two, 9% wide; a quantile
// read from them is off by at most half of that, about 4.4%, with the bucket's midpoint, and
// by at most 9% in the worst case of linear interpolation). Values at or below the zero
// threshold count in the zero bucket.
//
// vitals keeps a series' native buckets as a dense range of per-CPU cells, like its classic
// buckets: cell 0 is the zero bucket, cell k (1 <= k <= buckets) is bucket index
// first_index + k - 1. The range is fixed per family: from the zero threshold to `max`, both
// powers of two; a value above `max` counts in the top bucket. The exposition sends only the
// buckets that are not empty, and lowers the schema when there are more of those than the
// family's limit (agent/core/native_histogram.h).

#ifndef VITALS_DETAIL_NATIVE_BUCKETS_H_
#define VITALS_DETAIL_NATIVE_BUCKETS_H_

#include <cstdint>
#include <cstring>

#include "absl/base/attributes.h"

namespace vitals {
namespace internal {

inline constexpr int kMaxNativeSchema = 8;

struct NativeLayout {
  int32_t schema = 3;
  int32_t first_index = 0;     // the index of cell 1's bucket
  uint32_t buckets = 0;        // cells after the zero bucket
  double zero_threshold = 0;   // a power of two
  double max = 0;              // a power of two: the top bucket's upper bound
  uint32_t max_buckets = 160;  // exposition limit of non-empty buckets (schema lowered past it)
  // The mantissa bits (52 of them) of 2^(k / 2^schema) for k = 1 .. 2^schema - 1: a value's
  // bucket inside its power of two is one past the number of these its mantissa exceeds.
  uint64_t mantissa_bounds[(1 << kMaxNativeSchema) - 1] = {};
  // For each value of a mantissa's top 8 bits, how many mantissa_bounds lie below the
  // smallest mantissa with those bits: where the scan starts (it then takes at most two steps).
  uint8_t bounds_below_top_bits[256] = {};

  uint32_t cells() const { return buckets + 1; }
};

// The cell (0 .. layout.buckets) that counts `value` (not NaN). A value in the range costs an
// exponent extraction, a table look-up by the mantissa's top bits and a compare or two.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t NativeCell(const NativeLayout& layout, double value) {
  if (!(value > layout.zero_threshold)) return 0;
  if (value >= layout.max) return layout.buckets;
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const int32_t exponent = static_cast<int32_t>(bits >> 52) - 1023;  // normal: > threshold
  const uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
  const int32_t per_octave = int32_t{1} << layout.schema;
  int32_t index = exponent * per_octave;
  if (mantissa != 0) {
    int32_t j = layout.bounds_below_top_bits[mantissa >> 44];
    while (j < per_octave - 1 && mantissa > layout.mantissa_bounds[j]) ++j;
    index += j + 1;
  }
  return static_cast<uint32_t>(index - layout.first_index + 1);
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_DETAIL_NATIVE_BUCKETS_H_
