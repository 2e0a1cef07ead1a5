// tests/fuzz/json_reader.h: a strict JSON reader (RFC 8259) for fuzz targets, written apart
// from the agent's JSON writer: UTF-8 only, the grammar's numbers only, escapes checked
// (\uXXXX surrogates paired), no trailing text, nesting bounded. It keeps every string it
// reads (keys and values, unescaped) so a target can look for what it put in.

#ifndef VITALS_TESTS_FUZZ_JSON_READER_H_
#define VITALS_TESTS_FUZZ_JSON_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tests/fuzz/exposition_validator.h"

namespace vitals_fuzz {

class JsonReader {
 public:
  // "" when `text` is one valid JSON value, else the problem and where.
  std::string Read(absl::string_view text) {
    if (!ExpositionValidator::ValidUtf8(text)) return "not UTF-8";
    s_ = text;
    at_ = 0;
    if (!Value(0)) return "bad JSON at byte " + std::to_string(at_) + ": " + why_;
    Space();
    if (at_ != s_.size()) return "text after the value at byte " + std::to_string(at_);
    return "";
  }
  const std::vector<std::string>& strings() const { return strings_; }

 private:
  bool Fail(const char* why) {
    why_ = why;
    return false;
  }
  void Space() {
    while (at_ < s_.size() &&
           (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r'))
      ++at_;
  }
  bool Take(char c) {
    Space();
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool Literal(absl::string_view word) {
    if (s_.substr(at_, word.size()) != word) return Fail("bad literal");
    at_ += word.size();
    return true;
  }
  static void PutUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | cp >> 12);
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | cp >> 18);
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  bool Hex4(uint32_t* v) {
    if (at_ + 4 > s_.size()) return Fail("short \\u");
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[at_++];
      *v <<= 4;
      if (c >= '0' && c <= '9') {
        *v |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        *v |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        *v |= c - 'A' + 10;
      } else {
        return Fail("bad \\u digit");
      }
    }
    return true;
  }
  bool String() {
    ++at_;  // the opening quote
    std::string out;
    while (at_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[at_++]);
      if (c == '"') {
        strings_.push_back(std::move(out));
        return true;
      }
      if (c < 0x20) return Fail("a control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (at_ >= s_.size()) break;
      const char e = s_[at_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xdc00 && cp <= 0xdfff) return Fail("a lone low surrogate");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (s_.substr(at_, 2) != "\\u") return Fail("a lone high surrogate");
            at_ += 2;
            if (!Hex4(&lo) || lo < 0xdc00 || lo > 0xdfff) return Fail("a bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          PutUtf8(out, cp);
          break;
        }
        default:
          return Fail("a bad escape");
      }
    }
    return Fail("an unterminated string");
  }
  bool Number() {
    const size_t start = at_;
    if (s_[at_] == '-') ++at_;
    if (at_ < s_.size() && s_[at_] == '0') {
      ++at_;
    } else if (at_ < s_.size() && s_[at_] >= '1' && s_[at_] <= '9') {
      while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
    } else {
      return Fail("a bad number");
    }
    if (at_ < s_.size() && s_[at_] == '.') {
      ++at_;
      if (at_ >= s_.size() || s_[at_] < '0' || s_[at_] > '9') return Fail("no digit after .");
      while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
    }
    if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
      ++at_;
      if (at_ < s_.size() && (s_[at_] == '+' || s_[at_] == '-')) ++at_;
      if (at_ >= s_.size() || s_[at_] < '0' || s_[at_] > '9') return Fail("no exponent digit");
      while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
    }
    return at_ > start;
  }
  bool Value(int depth) {
    if (depth > 64) return Fail("nested too deep");
    Space();
    if (at_ >= s_.size()) return Fail("a missing value");
    const char c = s_[at_];
    if (c == '{') {
      ++at_;
      if (Take('}')) return true;
      do {
        Space();
        if (at_ >= s_.size() || s_[at_] != '"' || !String()) return Fail("a bad key");
        if (!Take(':')) return Fail("no ':'");
        if (!Value(depth + 1)) return false;
      } while (Take(','));
      return Take('}') || Fail("no '}'");
    }
    if (c == '[') {
      ++at_;
      if (Take(']')) return true;
      do {
        if (!Value(depth + 1)) return false;
      } while (Take(','));
      return Take(']') || Fail("no ']'");
    }
    if (c == '"') return String();
    if (c == 't') return Literal("true");
    if (c == 'f') return Literal("false");
    if (c == 'n') return Literal("null");
    return Number();
  }

  absl::string_view s_;
  size_t at_ = 0;
  std::string why_;
  std::vector<std::string> strings_;
};

}  // namespace vitals_fuzz

#endif  // VITALS_TESTS_FUZZ_JSON_READER_H_
