// agent/core/text_escape.h: making arbitrary bytes safe for the Prometheus text format.
//
// prometheus-cpp 1.0.1 escapes neither HELP text nor invalid UTF-8, and one bad byte makes
// Prometheus reject the whole scrape. Everything the agent emits passes through here.

#ifndef VITALS_AGENT_CORE_TEXT_ESCAPE_H_
#define VITALS_AGENT_CORE_TEXT_ESCAPE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// Longest label value kept, in bytes; longer values are cut at a character boundary.
inline constexpr size_t kMaxLabelValueBytes = 1024;

// `in` with every invalid UTF-8 sequence replaced by U+FFFD, cut to at most `max_bytes` bytes
// without splitting a character.
std::string RepairUtf8(absl::string_view in, size_t max_bytes = std::string::npos);

// True when `in` is valid UTF-8.
bool IsValidUtf8(absl::string_view in);

// Appends `text` escaped for the text format: backslash and newline, and with `quotes` the
// double quote too.
void AppendEscaped(std::string& out, absl::string_view text, bool quotes);

// For a label value: backslash, double quote and newline.
inline void AppendEscapedLabelValue(std::string& out, absl::string_view value) {
  AppendEscaped(out, value, /*quotes=*/true);
}

// For a HELP line: backslash and newline.
inline void AppendEscapedHelp(std::string& out, absl::string_view help) {
  AppendEscaped(out, help, /*quotes=*/false);
}

// Appends `name="value"` pairs, comma-separated, values repaired and escaped.
void AppendLabelPair(std::string& out, absl::string_view name, absl::string_view value);

// Appends a sample value: integers without a fraction, +Inf/-Inf/NaN spelled as Prometheus
// expects, everything else in the shortest form that reads back to the same double.
void AppendValue(std::string& out, double value);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_TEXT_ESCAPE_H_
