#include "agent/core/native_histogram.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/core/cell_store.h"

namespace vitals {
namespace internal {

absl::StatusOr<NativeLayout> MakeNativeLayout(absl::string_view metric, int schema,
                                              double zero_threshold, double max,
                                              uint32_t max_buckets) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric \"", metric, "\": native histogram ", why));
  };
  if (schema < 0 || schema > kMaxNativeSchema) return invalid("schema must be 0 to 8");
  if (!std::isnormal(zero_threshold) || !(zero_threshold > 0) || !std::isfinite(max) ||
      !(max > zero_threshold)) {
    return invalid("range must be 0 < zero threshold < max, both finite and normal");
  }
  if (max_buckets == 0) return invalid("bucket limit must be at least 1");
  NativeLayout layout;
  layout.schema = schema;
  const int32_t per_octave = int32_t{1} << schema;
  // The threshold rounded down to a power of two: it lies in [2^threshold_exp, 2^(+1)).
  int threshold_exp;
  std::frexp(zero_threshold, &threshold_exp);
  --threshold_exp;
  // max rounded up: it lies in (2^(max_exp - 1), 2^max_exp].
  int max_exp;
  std::frexp(max, &max_exp);
  if (std::ldexp(1.0, max_exp - 1) == max) --max_exp;
  const int64_t buckets = static_cast<int64_t>(max_exp - threshold_exp) * per_octave;
  if (buckets + 1 > static_cast<int64_t>(kChunkCells) - 1) {
    return invalid(absl::StrCat("range needs ", buckets + 1, " cells at schema ", schema,
                                "; at most 1023 (narrow the range or lower the schema)"));
  }
  layout.zero_threshold = std::ldexp(1.0, threshold_exp);
  layout.max = std::ldexp(1.0, max_exp);
  layout.first_index = threshold_exp * per_octave + 1;
  layout.buckets = static_cast<uint32_t>(buckets);
  layout.max_buckets = max_buckets;
  for (int32_t k = 1; k < per_octave; ++k) {
    const double bound = std::exp2(static_cast<double>(k) / per_octave);  // in (1, 2)
    uint64_t bits;
    std::memcpy(&bits, &bound, sizeof bits);
    layout.mantissa_bounds[k - 1] = bits & ((uint64_t{1} << 52) - 1);
  }
  for (uint64_t top = 0; top < 256; ++top) {
    const uint64_t smallest = top << 44;
    int32_t below = 0;
    while (below < per_octave - 1 && layout.mantissa_bounds[below] < smallest) ++below;
    layout.bounds_below_top_bits[top] = static_cast<uint8_t>(below);
  }
  return layout;
}

const NativeLayout& DurationNativeLayout() {
  static const NativeLayout* layout =
      new NativeLayout(*MakeNativeLayout("durations", 3, 0x1p-20, 0x1p12, 160));
  return *layout;
}

NativeBuckets ReadNativeBuckets(const NativeLayout& layout, const double* cells) {
  NativeBuckets out;
  out.schema = layout.schema;
  out.zero_threshold = layout.zero_threshold;
  out.zero_count = cells[0];
  for (uint32_t k = 1; k <= layout.buckets; ++k) {
    if (cells[k] > 0) {
      out.buckets.emplace_back(layout.first_index + static_cast<int32_t>(k) - 1, cells[k]);
    }
  }
  // Halve the resolution until the non-empty buckets fit: bucket i at schema s lies inside
  // bucket ceil(i / 2) at schema s - 1. Prometheus accepts schemas down to -4.
  while (out.buckets.size() > layout.max_buckets && out.schema > -4) {
    std::vector<std::pair<int32_t, double>> merged;
    for (const auto& [index, count] : out.buckets) {
      const int32_t up = (index + 1) >> 1;  // ceil(index / 2), negatives included
      if (!merged.empty() && merged.back().first == up) {
        merged.back().second += count;
      } else {
        merged.emplace_back(up, count);
      }
    }
    out.buckets = std::move(merged);
    --out.schema;
  }
  return out;
}

double NativeBucketUpperBound(int32_t schema, int32_t index) {
  return schema >= 0 ? std::exp2(static_cast<double>(index) / (1 << schema))
                     : std::exp2(static_cast<double>(index) * (1 << -schema));
}

}  // namespace internal
}  // namespace vitals
