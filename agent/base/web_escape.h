// agent/base/web_escape.h: text made safe for the web formats the agent serves besides
// Prometheus text: JSON strings and HTML.
//
// Thread-safety: pure functions. Invalid UTF-8 is passed through byte for byte in HTML and
// replaced by U+FFFD in JSON (a JSON parser would reject it otherwise).

#ifndef VITALS_AGENT_BASE_WEB_ESCAPE_H_
#define VITALS_AGENT_BASE_WEB_ESCAPE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// Appends `s` as a JSON string literal, quotes included.
void AppendJsonString(std::string& out, absl::string_view s);

// Appends `s` with &, <, >, " and ' escaped, for HTML text and attribute values.
void AppendHtmlEscaped(std::string& out, absl::string_view s);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_WEB_ESCAPE_H_
