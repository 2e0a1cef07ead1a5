// agent/core/names.h: validation of metric and label names.

#ifndef VITALS_AGENT_CORE_NAMES_H_
#define VITALS_AGENT_CORE_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// Longest metric or label name accepted (OpenTelemetry's limit for instrument names).
inline constexpr size_t kMaxNameBytes = 255;
// Most label names one metric may have.
inline constexpr size_t kMaxLabelNames = 32;
// Help text is kept and served cut at this many bytes.
inline constexpr size_t kMaxHelpBytes = 4096;
// An `error_type` label value (OpenTelemetry's error.type, "a low-cardinality error
// identifier") is cut at this many bytes; outbound calls and database calls share it.
inline constexpr size_t kMaxErrorTypeBytes = 64;
// The `error_type` of a failed call whose caller gave no type.
inline constexpr absl::string_view kOtherErrorType = "_OTHER";

// [a-zA-Z_:][a-zA-Z0-9_:]*, at most kMaxNameBytes.
bool IsValidMetricName(absl::string_view name);

// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus), at most
// kMaxNameBytes.
bool IsValidLabelName(absl::string_view name);

// OK, or InvalidArgument naming `metric` and the first bad label name: invalid syntax, a
// duplicate, or one of the reserved `le` / `quantile`; or more than kMaxLabelNames names.
absl::Status ValidateLabelNames(absl::string_view metric, const std::vector<std::string>& names);

// OK, or InvalidArgument naming the bad metric name.
absl::Status ValidateMetricName(absl::string_view name);

// The OpenTelemetry-normalized HTTP method: one of the standard methods (upper case) or
// "_OTHER". Served and outbound requests share it.
absl::string_view NormalizeMethod(absl::string_view method);

// The name of gRPC status code `code` ("OK", "INVALID_ARGUMENT", ...), or its number as text
// for a code gRPC does not define (`buf` holds it then).
absl::string_view GrpcCodeName(int code, char (&buf)[16]);
// Whether a server ending a call with gRPC code `code` failed, as the semantic conventions'
// gRPC page says (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
// DATA_LOSS); other codes are the client's doing.
bool GrpcServerError(int code);

// An `error_type` label value: `error_type` cut at kMaxErrorTypeBytes, kOtherErrorType when
// empty.
absl::string_view ErrorTypeLabel(absl::string_view error_type);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_NAMES_H_
