// agent/base/utf8.h: UTF-8 validation, one sequence at a time, shared by every escaper (the
// Prometheus text format's label values, JSON, HTML).
//
// Thread-safety: pure function. Cost: a few comparisons per byte.

#ifndef VITALS_AGENT_BASE_UTF8_H_
#define VITALS_AGENT_BASE_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// Length of the valid UTF-8 sequence at `s[i]` (i < s.size()), or 0 when it is invalid
// (overlong forms, surrogates and values past U+10FFFF are invalid).
inline size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  const size_t left = s.size() - i;
  auto cont = [&](size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_UTF8_H_
