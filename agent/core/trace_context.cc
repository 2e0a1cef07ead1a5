#include "vitals/trace_context.h"

#include <array>
#include <cstdint>

#include "agent/core/exemplar.h"

namespace vitals {
namespace {

// Each byte's value as a hex digit, 0x10 for anything else.
constexpr std::array<uint8_t, 256> MakeHexTable() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c >= '0' && c <= '9'   ? static_cast<uint8_t>(c - '0')
           : c >= 'a' && c <= 'f' ? static_cast<uint8_t>(c - 'a' + 10)
           : c >= 'A' && c <= 'F' ? static_cast<uint8_t>(c - 'A' + 10)
                                  : 0x10;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kHexValue = MakeHexTable();

// The value of `n` (<= 16) hex digits, or false on any other character. One table look-up per
// digit and a single test at the end (a traced request parses 52 of them).
bool ParseHex(absl::string_view hex, uint64_t& out) {
  uint64_t v = 0;
  uint8_t bad = 0;
  for (char c : hex) {
    const uint8_t d = kHexValue[static_cast<uint8_t>(c)];
    bad |= d;
    v = v << 4 | (d & 0xf);
  }
  out = v;
  return (bad & 0x10) == 0;
}

// The 16 lower-case hex digits of `v` into out[0..15].
void WriteHex(char* out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) out[i] = kDigits[(v >> (60 - 4 * i)) & 0xf];
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

TraceContext TraceContext::FromGrpcTraceBin(absl::string_view value) {
  // https://github.com/census-instrumentation/opencensus-specs/blob/master/encodings/BinaryEncoding.md
  auto big_endian = [](absl::string_view bytes) {
    uint64_t v = 0;
    for (char c : bytes) v = v << 8 | static_cast<uint8_t>(c);
    return v;
  };
  if (value.size() < 18 || value[0] != 0 || value[1] != 0) return {};  // version 0, field 0
  TraceContext t;
  t.trace_id_high = big_endian(value.substr(2, 8));
  t.trace_id_low = big_endian(value.substr(10, 8));
  value.remove_prefix(18);
  if (!value.empty() && value[0] == 1) {  // field 1: the span id
    if (value.size() < 9) return {};
    t.span_id = big_endian(value.substr(1, 8));
    if (t.span_id == 0) return {};
  }
  return t.valid() ? t : TraceContext{};
}

std::string TraceContext::TraceIdHex() const {
  return std::string(internal::TraceHex(*this).trace_id());
}

std::string TraceContext::SpanIdHex() const {
  return std::string(internal::TraceHex(*this).span_id());
}

namespace internal {

TraceHex::TraceHex(const TraceContext& trace) {
  WriteHex(trace_, trace.trace_id_high);
  WriteHex(trace_ + 16, trace.trace_id_low);
  WriteHex(span_, trace.span_id);
}

}  // namespace internal

}  // namespace vitals
