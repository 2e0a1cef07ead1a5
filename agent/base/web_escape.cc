#include "agent/base/web_escape.h"

#include <cstdint>

#include "absl/strings/str_format.h"
#include "agent/base/utf8.h"

namespace vitals {
namespace internal {
void AppendJsonString(std::string& out, absl::string_view s) {
  out += '"';
  while (!s.empty()) {
    const char c = s[0];
    const size_t n = Utf8SequenceLength(s, 0);
    if (n == 0) {
      out += "\\ufffd";
      s.remove_prefix(1);
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) {
            absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned>(c));
          } else if (c == '<') {
            out += "\\u003c";  // so the JSON can be embedded in a <script> safely
          } else {
            out += c;
          }
      }
    } else {
      out.append(s.data(), n);
    }
    s.remove_prefix(n);
  }
  out += '"';
}

void AppendHtmlEscaped(std::string& out, absl::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

}  // namespace internal
}  // namespace vitals
