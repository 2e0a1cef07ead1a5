#include "vitals/trace_context.h"

namespace vitals {
namespace {

// The value of `n` (<= 16) hex digits, or false on any other character.
bool ParseHex(absl::string_view hex, uint64_t& out) {
  out = 0;
  for (char c : hex) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint64_t>(c - 'A' + 10);
    } else {
      return false;
    }
    out = out << 4 | d;
  }
  return true;
}

void AppendHex(std::string& out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out += kDigits[(v >> shift) & 0xf];
}

}  // namespace

TraceContext TraceContext::FromHex(absl::string_view trace_id, absl::string_view span_id) {
  TraceContext t;
  if (trace_id.size() != 32 || !(span_id.empty() || span_id.size() == 16)) return {};
  if (!ParseHex(trace_id.substr(0, 16), t.trace_id_high) ||
      !ParseHex(trace_id.substr(16), t.trace_id_low) || !ParseHex(span_id, t.span_id)) {
    return {};
  }
  if (!span_id.empty() && t.span_id == 0) return {};  // an all-zero parent id is invalid
  return t.valid() ? t : TraceContext{};
}

TraceContext TraceContext::FromTraceparent(absl::string_view header) {
  // version "-" trace-id "-" parent-id "-" trace-flags, lower-case hex per the specification
  // (upper case is accepted: some proxies rewrite it).
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) {
    header.remove_prefix(1);
  }
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
    header.remove_suffix(1);
  }
  if (header.size() < 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') return {};
  uint64_t version, flags;
  if (!ParseHex(header.substr(0, 2), version) || version == 0xff ||
      !ParseHex(header.substr(53, 2), flags)) {
    return {};
  }
  if (header.size() > 55 && (version == 0 || header[55] != '-')) return {};
  return FromHex(header.substr(3, 32), header.substr(36, 16));
}

std::string TraceContext::TraceIdHex() const {
  std::string out;
  out.reserve(32);
  AppendHex(out, trace_id_high);
  AppendHex(out, trace_id_low);
  return out;
}

std::string TraceContext::SpanIdHex() const {
  std::string out;
  out.reserve(16);
  AppendHex(out, span_id);
  return out;
}

}  // namespace vitals
