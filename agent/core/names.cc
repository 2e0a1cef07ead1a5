#include "agent/core/names.h"

#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Quotes a user-given name for an error message, escaping anything unprintable.
std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  if (s.size() > 200) out += "...";
  return out + "\"";
}

}  // namespace

bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (IsAlpha(c) || c == ':' || (i > 0 && IsDigit(c))) continue;
    return false;
  }
  return true;
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (IsAlpha(c) || (i > 0 && IsDigit(c))) continue;
    return false;
  }
  return true;
}

absl::Status ValidateMetricName(absl::string_view name) {
  if (IsValidMetricName(name)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid metric name ", Quote(name),
                                                 ": must match [a-zA-Z_:][a-zA-Z0-9_:]* and "
                                                 "be at most ",
                                                 kMaxNameBytes, " bytes"));
}

absl::Status ValidateLabelNames(absl::string_view metric, const std::vector<std::string>& names) {
  if (names.size() > kMaxLabelNames) {
    return absl::InvalidArgumentError(absl::StrCat("metric \"", metric, "\": ", names.size(),
                                                   " label names, at most ", kMaxLabelNames));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    if (!IsValidLabelName(n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric \"", metric, "\": invalid label name ", Quote(n),
                       ": must match [a-zA-Z_][a-zA-Z0-9_]*, not start with \"__\" and be at "
                       "most ",
                       kMaxNameBytes, " bytes"));
    }
    if (n == "le" || n == "quantile") {
      return absl::InvalidArgumentError(absl::StrCat("metric \"", metric, "\": label name \"", n,
                                                     "\" is reserved by Prometheus"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (names[j] == n) {
        return absl::InvalidArgumentError(
            absl::StrCat("metric \"", metric, "\": label name \"", n, "\" given twice"));
      }
    }
  }
  return absl::OkStatus();
}

absl::string_view NormalizeMethod(absl::string_view method) {
  static constexpr absl::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                   "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (absl::string_view m : kMethods) {
    if (method == m) return m;  // the common case: already upper case
  }
  for (absl::string_view m : kMethods) {
    if (absl::EqualsIgnoreCase(method, m)) return m;
  }
  return "_OTHER";
}

absl::string_view ErrorTypeLabel(absl::string_view error_type) {
  if (error_type.empty()) return kOtherErrorType;
  return error_type.substr(0, kMaxErrorTypeBytes);
}

absl::string_view GrpcCodeName(int code, char (&buf)[16]) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(sizeof kNames / sizeof kNames[0])) return kNames[code];
  auto r = std::to_chars(buf, buf + sizeof buf, code);
  return absl::string_view(buf, r.ptr - buf);
}

bool GrpcServerError(int code) {
  // UNKNOWN 2, DEADLINE_EXCEEDED 4, UNIMPLEMENTED 12, INTERNAL 13, UNAVAILABLE 14, DATA_LOSS 15.
  return code == 2 || code == 4 || (code >= 12 && code <= 15);
}

}  // namespace internal
}  // namespace vitals
