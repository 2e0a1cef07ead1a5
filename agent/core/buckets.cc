// The bucket helpers of vitals/metrics.h: client_golang's ExponentialBuckets, LinearBuckets and
// ExponentialBucketsRange, rounded to 12 significant digits and checked with the one bounds
// check every histogram goes through (ValidateBuckets, agent/core/registry.h).

#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "vitals/metrics.h"

namespace vitals {
namespace {

// The list made, or the reason it is not a valid one; InvalidArgument either way. Each bound is
// first rounded to 12 significant digits: 0.001 * 10 * 10 is 0.09999999999999999 in binary, and
// a user who asked for powers of ten wants le="0.1" on the page, not that.
absl::StatusOr<std::vector<double>> Checked(absl::string_view helper, std::vector<double> bounds) {
  for (double& b : bounds) {
    double rounded;
    if (std::isfinite(b) && absl::SimpleAtod(absl::StrFormat("%.12g", b), &rounded)) b = rounded;
  }
  if (absl::Status s = internal::ValidateBuckets(helper, bounds); !s.ok()) return s;
  return bounds;
}

absl::Status BadCount(absl::string_view helper, int count, int least) {
  return absl::InvalidArgumentError(
      absl::StrCat(helper, ": count ", count, ", want ", least, " to ", internal::kMaxBuckets));
}

}  // namespace

absl::StatusOr<std::vector<double>> ExponentialBuckets(double start, double factor, int count) {
  constexpr absl::string_view kName = "ExponentialBuckets";
  if (count < 1 || count > static_cast<int>(internal::kMaxBuckets)) {
    return BadCount(kName, count, 1);
  }
  if (!(start > 0) || !(factor > 1)) {
    return absl::InvalidArgumentError(absl::StrCat(kName, ": start ", start, " and factor ", factor,
                                                   ", want start > 0 and factor > 1"));
  }
  std::vector<double> bounds(count);
  bounds[0] = start;
  for (int i = 1; i < count; ++i) bounds[i] = bounds[i - 1] * factor;
  return Checked(kName, std::move(bounds));
}

absl::StatusOr<std::vector<double>> LinearBuckets(double start, double width, int count) {
  constexpr absl::string_view kName = "LinearBuckets";
  if (count < 1 || count > static_cast<int>(internal::kMaxBuckets)) {
    return BadCount(kName, count, 1);
  }
  if (!(width > 0) || !std::isfinite(start)) {
    return absl::InvalidArgumentError(absl::StrCat(kName, ": start ", start, " and width ", width,
                                                   ", want a finite start and width > 0"));
  }
  std::vector<double> bounds(count);
  // start + i*width, not a running sum: no rounding error piles up along the list.
  for (int i = 0; i < count; ++i) bounds[i] = start + i * width;
  return Checked(kName, std::move(bounds));
}

absl::StatusOr<std::vector<double>> ExponentialBucketsRange(double min, double max, int count) {
  constexpr absl::string_view kName = "ExponentialBucketsRange";
  if (count < 2 || count > static_cast<int>(internal::kMaxBuckets)) {
    return BadCount(kName, count, 2);
  }
  if (!(min > 0) || !(max > min) || !std::isfinite(max)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kName, ": min ", min, " and max ", max, ", want 0 < min < max, both finite"));
  }
  const double factor = std::pow(max / min, 1.0 / (count - 1));
  std::vector<double> bounds(count);
  for (int i = 0; i < count; ++i) bounds[i] = min * std::pow(factor, i);
  bounds[count - 1] = max;  // exactly the max asked for, not a rounding of it
  return Checked(kName, std::move(bounds));
}

}  // namespace vitals
