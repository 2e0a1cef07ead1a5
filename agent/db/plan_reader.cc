#include "agent/db/plan_reader.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vitals {
namespace internal {
namespace {

constexpr size_t kMaxInput = 1 << 20;
constexpr int kMaxDepth = 64;
constexpr size_t kMaxCandidates = 64;
constexpr size_t kMaxColumns = 16;

// A JSON value, as much of it as a plan needs: objects keep their string, number and
// object/array members.
struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  double number = 0;
  std::string text;
  std::vector<Json> items;                            // array elements
  std::vector<std::pair<std::string, Json>> members;  // object members, in order

  const Json* Get(absl::string_view key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  std::string String(absl::string_view key) const {
    const Json* v = Get(key);
    return v != nullptr && v->kind == Kind::kString ? v->text : "";
  }
};

class Parser {
 public:
  explicit Parser(absl::string_view in) : in_(in) {}

  absl::Status Parse(Json* out) {
    if (absl::Status s = Value(out, 0); !s.ok()) return s;
    Space();
    if (at_ != in_.size()) return Error("text after the value");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("plan JSON: ", what, " at byte ", at_));
  }
  void Space() {
    while (at_ < in_.size() && absl::ascii_isspace(static_cast<unsigned char>(in_[at_]))) ++at_;
  }
  bool Take(char c) {
    Space();
    if (at_ < in_.size() && in_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  absl::Status Value(Json* out, int depth) {
    if (depth > kMaxDepth) return Error("nested deeper than 64");
    Space();
    if (at_ >= in_.size()) return Error("unexpected end");
    const char c = in_[at_];
    if (c == '{') {
      ++at_;
      out->kind = Json::Kind::kObject;
      if (Take('}')) return absl::OkStatus();
      do {
        Space();
        std::string key;
        if (absl::Status s = String(&key); !s.ok()) return s;
        if (!Take(':')) return Error("':' expected");
        out->members.emplace_back(std::move(key), Json());
        if (absl::Status s = Value(&out->members.back().second, depth + 1); !s.ok()) return s;
      } while (Take(','));
      return Take('}') ? absl::OkStatus() : Error("'}' expected");
    }
    if (c == '[') {
      ++at_;
      out->kind = Json::Kind::kArray;
      if (Take(']')) return absl::OkStatus();
      do {
        out->items.emplace_back();
        if (absl::Status s = Value(&out->items.back(), depth + 1); !s.ok()) return s;
      } while (Take(','));
      return Take(']') ? absl::OkStatus() : Error("']' expected");
    }
    if (c == '"') {
      out->kind = Json::Kind::kString;
      return String(&out->text);
    }
    for (const auto& [word, kind] :
         {std::make_pair("true", Json::Kind::kBool), std::make_pair("false", Json::Kind::kBool),
          std::make_pair("null", Json::Kind::kNull)}) {
      if (absl::StartsWith(in_.substr(at_), word)) {
        at_ += std::char_traits<char>::length(word);
        out->kind = kind;
        return absl::OkStatus();
      }
    }
    // A number: strtod over a bounded copy (the input is not NUL-terminated).
    size_t end = at_;
    while (end < in_.size() && end - at_ < 64 &&
           (absl::ascii_isdigit(static_cast<unsigned char>(in_[end])) || in_[end] == '-' ||
            in_[end] == '+' || in_[end] == '.' || in_[end] == 'e' || in_[end] == 'E')) {
      ++end;
    }
    if (end == at_) return Error("a value expected");
    const std::string digits(in_.substr(at_, end - at_));
    char* stop = nullptr;
    out->kind = Json::Kind::kNumber;
    out->number = std::strtod(digits.c_str(), &stop);
    if (stop != digits.c_str() + digits.size()) return Error("a bad number");
    at_ = end;
    return absl::OkStatus();
  }

  // A string at at_ (which must be '"'), escapes decoded (\uXXXX as UTF-8, surrogates as '?').
  absl::Status String(std::string* out) {
    if (at_ >= in_.size() || in_[at_] != '"') return Error("a string expected");
    ++at_;
    while (at_ < in_.size()) {
      const char c = in_[at_++];
      if (c == '"') return absl::OkStatus();
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (at_ >= in_.size()) break;
      const char e = in_[at_++];
      switch (e) {
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          if (at_ + 4 > in_.size()) return Error("a short \\u escape");
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = in_[at_++];
            if (!absl::ascii_isxdigit(static_cast<unsigned char>(h))) {
              return Error("a bad \\u escape");
            }
            code = code * 16 +
                   static_cast<unsigned>(absl::ascii_isdigit(static_cast<unsigned char>(h))
                                             ? h - '0'
                                             : absl::ascii_tolower(static_cast<unsigned char>(h)) -
                                                   'a' + 10);
          }
          if (code < 0x80) {
            out->push_back(static_cast<char>(code));
          } else if (code < 0x800) {
            out->push_back(static_cast<char>(0xc0 | (code >> 6)));
            out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
          } else if (code >= 0xd800 && code < 0xe000) {
            out->push_back('?');
          } else {
            out->push_back(static_cast<char>(0xe0 | (code >> 12)));
            out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
            out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
          }
          break;
        }
        default:
          out->push_back(e);  // \" \\ \/
      }
    }
    return Error("an unterminated string");
  }

  absl::string_view in_;
  size_t at_ = 0;
};

bool IsKeyword(absl::string_view word) {
  static constexpr absl::string_view kWords[] = {
      "and",   "or",      "not",     "is",        "null",      "true",    "false",     "like",
      "ilike", "in",      "any",     "all",       "some",      "between", "case",      "when",
      "then",  "else",    "end",     "distinct",  "from",      "similar", "to",        "escape",
      "array", "row",     "unknown", "collate",   "at",        "time",    "zone",      "interval",
      "with",  "without", "varying", "precision", "character", "double",  "timestamp", "date"};
  const std::string lower = absl::AsciiStrToLower(word);
  return std::find(std::begin(kWords), std::end(kWords), lower) != std::end(kWords);
}

void Visit(const Json& node, PlanReading* out, int depth) {
  if (depth > kMaxDepth || node.kind != Json::Kind::kObject) return;
  const std::string type = node.String("Node Type");
  if (type == "Seq Scan" && out->candidates.size() < kMaxCandidates) {
    const std::string filter = node.String("Filter");
    if (!filter.empty()) {
      IndexCandidate c;
      const std::string schema = node.String("Schema");
      c.table = node.String("Relation Name");
      if (!schema.empty() && schema != "public") c.table = absl::StrCat(schema, ".", c.table);
      c.columns = FilterColumns(filter);
      if (const Json* rows = node.Get("Plan Rows");
          rows != nullptr && rows->kind == Json::Kind::kNumber) {
        c.rows = rows->number;
      }
      c.filter = filter;
      if (!c.table.empty()) out->candidates.push_back(std::move(c));
    }
  }
  if (const Json* plans = node.Get("Plans"); plans != nullptr) {
    for (const Json& child : plans->items) Visit(child, out, depth + 1);
  }
}

}  // namespace

std::vector<std::string> FilterColumns(absl::string_view filter) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < filter.size() && out.size() < kMaxColumns) {
    const char c = filter[i];
    if (c == '\'') {  // a literal: skip to its closing quote ('' is an escaped quote)
      for (++i; i < filter.size(); ++i) {
        if (filter[i] == '\'') {
          if (i + 1 < filter.size() && filter[i + 1] == '\'') {
            ++i;
          } else {
            break;
          }
        }
      }
      ++i;
      continue;
    }
    if (c == ':' && i + 1 < filter.size() && filter[i + 1] == ':') {  // a cast: skip its type
      i += 2;  // (the words of "character varying", "with time zone" are keywords below)
      while (i < filter.size() && (absl::ascii_isalnum(static_cast<unsigned char>(filter[i])) ||
                                   filter[i] == '_' || filter[i] == '"' || filter[i] == '.')) {
        ++i;
      }
      continue;
    }
    const bool quoted = c == '"';
    if (quoted || absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = i + 1;
      std::string word;
      if (quoted) {
        while (end < filter.size() && filter[end] != '"') ++end;
        word = std::string(filter.substr(i + 1, end - i - 1));
        ++end;
      } else {
        while (end < filter.size() &&
               (absl::ascii_isalnum(static_cast<unsigned char>(filter[end])) ||
                filter[end] == '_' || filter[end] == '$')) {
          ++end;
        }
        word = std::string(filter.substr(i, end - i));
      }
      // A qualified name (t.col): the column is the last part.
      while (end < filter.size() && filter[end] == '.') {
        size_t next = end + 1;
        while (next < filter.size() &&
               (absl::ascii_isalnum(static_cast<unsigned char>(filter[next])) ||
                filter[next] == '_')) {
          ++next;
        }
        word = std::string(filter.substr(end + 1, next - end - 1));
        end = next;
      }
      size_t after = end;
      while (after < filter.size() && filter[after] == ' ') ++after;
      const bool function = after < filter.size() && filter[after] == '(';
      if (!word.empty() && !function && (quoted || !IsKeyword(word)) &&
          std::find(out.begin(), out.end(), word) == out.end()) {
        out.push_back(std::move(word));
      }
      i = end;
      continue;
    }
    if (c == '$') {  // a parameter: $1
      ++i;
      while (i < filter.size() && absl::ascii_isdigit(static_cast<unsigned char>(filter[i]))) ++i;
      continue;
    }
    ++i;
  }
  return out;
}

absl::StatusOr<PlanReading> ReadPostgresPlan(absl::string_view json) {
  if (json.size() > kMaxInput) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan JSON: ", json.size(), " bytes, more than the 1 MiB read"));
  }
  Json root;
  if (absl::Status s = Parser(json).Parse(&root); !s.ok()) return s;
  // [ { "Plan": { ... } } ]
  const Json* top = nullptr;
  if (root.kind == Json::Kind::kArray && !root.items.empty()) top = root.items[0].Get("Plan");
  if (top == nullptr || top->kind != Json::Kind::kObject) {
    return absl::InvalidArgumentError("plan JSON: not EXPLAIN's [{\"Plan\": {...}}]");
  }
  PlanReading reading;
  reading.top = top->String("Node Type");
  if (const std::string relation = top->String("Relation Name"); !relation.empty()) {
    absl::StrAppend(&reading.top, " on ", relation);
  }
  if (const Json* rows = top->Get("Plan Rows");
      rows != nullptr && rows->kind == Json::Kind::kNumber) {
    reading.top_rows = rows->number;
  }
  Visit(*top, &reading, 0);
  return reading;
}

PlanReading ReadSqlitePlan(const std::vector<std::string>& details, bool filtered) {
  PlanReading reading;
  for (const std::string& detail : details) {
    absl::string_view d = detail;
    if (reading.top.empty()) reading.top = detail;
    // "SCAN users" or "SCAN TABLE users" (SQLite before 3.36); a covering index scan reads
    // "SCAN users USING COVERING INDEX ..." and is no full table read.
    if (!absl::ConsumePrefix(&d, "SCAN ")) continue;
    absl::ConsumePrefix(&d, "TABLE ");
    if (absl::StrContains(d, " USING ") || !filtered) continue;
    const size_t space = d.find(' ');
    IndexCandidate c;
    c.table = std::string(d.substr(0, space));
    if (!c.table.empty() && reading.candidates.size() < kMaxCandidates) {
      reading.candidates.push_back(std::move(c));
    }
  }
  return reading;
}

}  // namespace internal
}  // namespace vitals
