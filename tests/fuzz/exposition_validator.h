// tests/fuzz/exposition_validator.h: a small reference parser of the Prometheus text format
// 0.0.4 and OpenMetrics 1.0 text, written apart from the agent's renderer so a fuzz target can
// check what the renderer writes: every line well-formed, names valid, HELP text and label
// values validly escaped UTF-8 (it returns them unescaped, for comparison), values numbers.

#ifndef VITALS_TESTS_FUZZ_EXPOSITION_VALIDATOR_H_
#define VITALS_TESTS_FUZZ_EXPOSITION_VALIDATOR_H_

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace vitals_fuzz {

struct ParsedLine {
  enum Kind { kHelp, kType, kUnit, kSample, kEof } kind;
  std::string name;
  std::string text;  // HELP: unescaped; TYPE/UNIT: the word; sample: the value
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
};

class ExpositionValidator {
 public:
  explicit ExpositionValidator(bool open_metrics) : open_metrics_(open_metrics) {}

  // Parses `body`; returns "" and fills `lines`, or the first problem ("line N: ...").
  std::string Parse(absl::string_view body, std::vector<ParsedLine>* lines) const {
    if (!ValidUtf8(body)) return "not valid UTF-8";
    if (!body.empty() && body.back() != '\n') return "does not end with a newline";
    size_t n = 0;
    bool eof = false;
    while (!body.empty()) {
      ++n;
      const size_t nl = body.find('\n');
      const absl::string_view line = body.substr(0, nl);
      body.remove_prefix(nl + 1);
      if (eof) return absl::StrCat("line ", n, ": text after # EOF");
      ParsedLine p;
      const std::string why = ParseLine(line, &p);
      if (!why.empty()) return absl::StrCat("line ", n, ": ", why, ": ", line.substr(0, 200));
      eof = p.kind == ParsedLine::kEof;
      lines->push_back(std::move(p));
    }
    if (open_metrics_ && !eof) return "OpenMetrics without # EOF";
    return "";
  }

  static bool ValidUtf8(absl::string_view s) {
    for (size_t i = 0; i < s.size();) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (len == 0 || i + len > s.size()) return false;
      uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
      for (size_t k = 1; k < len; ++k) {
        const unsigned char cc = static_cast<unsigned char>(s[i + k]);
        if ((cc >> 6) != 2) return false;
        cp = cp << 6 | (cc & 0x3f);
      }
      const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
      i += len;
    }
    return true;
  }

 private:
  static bool NameStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  }
  static bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

  static bool TakeName(absl::string_view& s, std::string* name, bool label) {
    size_t i = 0;
    if (s.empty() || !NameStart(s[0]) || (label && s[0] == ':')) return false;
    while (i < s.size() && NameChar(s[i]) && !(label && s[i] == ':')) ++i;
    *name = std::string(s.substr(0, i));
    s.remove_prefix(i);
    return true;
  }

  // Unescapes up to the closing quote (label values); `s` starts after the opening quote.
  static bool TakeQuoted(absl::string_view& s, std::string* out) {
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"') {
        s.remove_prefix(i + 1);
        return true;
      }
      if (c == '\n') return false;
      if (c == '\\') {
        if (++i >= s.size()) return false;
        const char e = s[i];
        if (e == 'n') {
          *out += '\n';
        } else if (e == '\\' || e == '"') {
          *out += e;
        } else {
          return false;
        }
      } else {
        *out += c;
      }
    }
    return false;
  }

  static bool ValidValue(absl::string_view v) {
    if (v == "NaN" || v == "+Inf" || v == "-Inf") return true;
    if (v.empty() || v.size() > 64) return false;
    const std::string copy(v);
    char* end = nullptr;
    std::strtod(copy.c_str(), &end);
    return end == copy.c_str() + copy.size() && copy.find_first_of("xXpPnNiI") == std::string::npos;
  }

  std::string ParseLine(absl::string_view line, ParsedLine* p) const {
    if (absl::StartsWith(line, "#")) {
      if (line == "# EOF" && open_metrics_) {
        p->kind = ParsedLine::kEof;
        return "";
      }
      absl::string_view rest = line;
      if (absl::ConsumePrefix(&rest, "# HELP ")) {
        p->kind = ParsedLine::kHelp;
      } else if (absl::ConsumePrefix(&rest, "# TYPE ")) {
        p->kind = ParsedLine::kType;
      } else if (open_metrics_ && absl::ConsumePrefix(&rest, "# UNIT ")) {
        p->kind = ParsedLine::kUnit;
      } else {
        return open_metrics_ ? "an unknown comment" : "";  // 0.0.4 allows other comments
      }
      if (!TakeName(rest, &p->name, false)) return "a bad metric name";
      if (p->kind == ParsedLine::kHelp) {
        if (rest.empty()) return "";
        if (!absl::ConsumePrefix(&rest, " ")) return "no space after the name";
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] != '\\') {
            p->text += rest[i];
            continue;
          }
          if (++i >= rest.size()) return "a HELP text ending in a backslash";
          const char e = rest[i];
          if (e == 'n') {
            p->text += '\n';
          } else if (e == '\\' || (open_metrics_ && e == '"')) {
            p->text += e;
          } else {
            return "an invalid escape in HELP";
          }
        }
        return "";
      }
      if (!absl::ConsumePrefix(&rest, " ")) return "no space after the name";
      p->text = std::string(rest);
      if (p->kind == ParsedLine::kType) {
        static const char* kTypes[] = {"counter",        "gauge",    "histogram",
                                       "summary",        "untyped",  "unknown",
                                       "gaugehistogram", "stateset", "info"};
        for (const char* t : kTypes) {
          if (p->text == t) return "";
        }
        return "an unknown type";
      }
      return "";
    }
    p->kind = ParsedLine::kSample;
    absl::string_view rest = line;
    if (!TakeName(rest, &p->name, false)) return "a bad sample name";
    if (absl::ConsumePrefix(&rest, "{")) {
      while (!absl::ConsumePrefix(&rest, "}")) {
        std::string name, value;
        if (!TakeName(rest, &name, true)) return "a bad label name";
        if (!absl::ConsumePrefix(&rest, "=\"")) return "no =\" after a label name";
        if (!TakeQuoted(rest, &value)) return "a bad label value";
        p->labels.emplace_back(std::move(name), std::move(value));
        if (!absl::ConsumePrefix(&rest, ",") && !absl::StartsWith(rest, "}")) {
          return "no , or } after a label";
        }
      }
    }
    if (!absl::ConsumePrefix(&rest, " ")) return "no space before the value";
    const size_t sp = rest.find(' ');
    p->text = std::string(rest.substr(0, sp));
    if (!ValidValue(p->text)) return "a bad value";
    rest = sp == absl::string_view::npos ? absl::string_view() : rest.substr(sp + 1);
    if (!rest.empty() && !absl::StartsWith(rest, "# ")) {
      const size_t sp2 = rest.find(' ');
      if (!ValidValue(rest.substr(0, sp2))) return "a bad timestamp";
      rest = sp2 == absl::string_view::npos ? absl::string_view() : rest.substr(sp2 + 1);
    }
    if (!rest.empty()) {
      if (!open_metrics_ || !absl::ConsumePrefix(&rest, "# {")) return "trailing text";
      while (!absl::ConsumePrefix(&rest, "}")) {
        std::string name, value;
        if (!TakeName(rest, &name, true) || !absl::ConsumePrefix(&rest, "=\"") ||
            !TakeQuoted(rest, &value)) {
          return "a bad exemplar label";
        }
        absl::ConsumePrefix(&rest, ",");
      }
      if (!absl::ConsumePrefix(&rest, " ")) return "no exemplar value";
    }
    return "";
  }

  const bool open_metrics_;
};

}  // namespace vitals_fuzz

#endif  // VITALS_TESTS_FUZZ_EXPOSITION_VALIDATOR_H_
