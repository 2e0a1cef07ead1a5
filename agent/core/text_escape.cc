#include "agent/core/text_escape.h"

#include <charconv>
#include <cmath>

#include "agent/base/utf8.h"

namespace vitals {
namespace internal {
namespace {

constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";

}  // namespace

bool IsValidUtf8(absl::string_view in) {
  for (size_t i = 0; i < in.size();) {
    size_t n = Utf8SequenceLength(in, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string RepairUtf8(absl::string_view in, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(in.size(), max_bytes));
  for (size_t i = 0; i < in.size();) {
    size_t n = Utf8SequenceLength(in, i);
    absl::string_view piece = n == 0 ? kReplacement : in.substr(i, n);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece.data(), piece.size());
    i += n == 0 ? 1 : n;
  }
  return out;
}

void AppendEscaped(std::string& out, absl::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendLabelPair(std::string& out, absl::string_view name, absl::string_view value) {
  out.append(name.data(), name.size());
  out += "=\"";
  if (IsValidUtf8(value) && value.size() <= kMaxLabelValueBytes) {
    AppendEscapedLabelValue(out, value);
  } else {
    AppendEscapedLabelValue(out, RepairUtf8(value, kMaxLabelValueBytes));
  }
  out += '"';
}

void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  std::to_chars_result r;
  if (value == std::trunc(value) && std::fabs(value) < 9.007199254740992e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value));
  } else if (std::fabs(value) >= 1e-4 && std::fabs(value) < 1e21) {
    r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);  // 0.0005
  } else {
    r = std::to_chars(buf, buf + sizeof buf, value);  // 1e-05, shortest round-trip form
  }
  out.append(buf, r.ptr - buf);
}

}  // namespace internal
}  // namespace vitals
