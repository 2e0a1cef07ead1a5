#include "agent/db/sql_normalize.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace vitals {
namespace internal {
namespace {

constexpr absl::string_view kKeywords[] = {
    "select",   "insert", "update",  "delete", "replace", "merge",   "upsert",    "with",
    "from",     "into",   "values",  "set",    "where",   "and",     "or",        "not",
    "in",       "is",     "null",    "like",   "between", "join",    "inner",     "left",
    "right",    "outer",  "full",    "cross",  "on",      "as",      "order",     "by",
    "group",    "having", "limit",   "offset", "union",   "all",     "distinct",  "exists",
    "case",     "when",   "then",    "else",   "end",     "asc",     "desc",      "returning",
    "create",   "drop",   "alter",   "table",  "index",   "begin",   "commit",    "rollback",
    "true",     "false",  "count",   "sum",    "min",     "max",     "avg",       "ignore",
    "conflict", "do",     "nothing", "for",    "using",   "natural", "savepoint", "release"};

constexpr absl::string_view kOperations[] = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE",  "MERGE",     "UPSERT", "CREATE",
    "DROP",   "ALTER",  "BEGIN",  "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"};

bool IsKeyword(absl::string_view lower) {
  for (absl::string_view k : kKeywords) {
    if (k == lower) return true;
  }
  return false;
}

// Keywords that are also functions: "COUNT(*)" keeps its parenthesis attached.
bool IsFunction(absl::string_view upper) {
  return upper == "COUNT" || upper == "SUM" || upper == "MIN" || upper == "MAX" || upper == "AVG" ||
         upper == "EXISTS";
}

bool IsIdentStart(char c) { return absl::ascii_isalpha(c) || c == '_' || c == '$' || c == '@'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '$'; }

enum class Kind { kWord, kKeyword, kQuoted, kLiteral, kPunct };

struct Token {
  Kind kind;
  std::string text;  // as emitted (keywords upper, words lower, literals "?")
};

// Splits into tokens, dropping comments and whitespace, turning literals into "?".
std::vector<Token> Tokenize(absl::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  const size_t n = s.size();
  auto prev_allows_sign = [&]() {
    if (out.empty()) return true;
    const Token& t = out.back();
    if (t.kind == Kind::kKeyword) return true;
    return t.kind == Kind::kPunct && t.text != ")";
  };
  while (i < n) {
    const char c = s[i];
    if (absl::ascii_isspace(c)) {
      ++i;
    } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
      while (i < n && s[i] != '\n') ++i;
    } else if (c == '#') {  // MySQL comment
      while (i < n && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      i += 2;
      while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/')) ++i;
      i = std::min(n, i + 2);
    } else if (c == '\'') {
      // 'string': '' and \' escape a quote.
      ++i;
      while (i < n) {
        if (s[i] == '\\' && i + 1 < n) {
          i += 2;
        } else if (s[i] == '\'' && i + 1 < n && s[i + 1] == '\'') {
          i += 2;
        } else if (s[i] == '\'') {
          ++i;
          break;
        } else {
          ++i;
        }
      }
      out.push_back({Kind::kLiteral, "?"});
    } else if (c == '"' || c == '`' || c == '[') {
      // Quoted identifier: kept as written, without the quotes. It is written back in double
      // quotes, so a double quote inside (`a"b`, [a"b]) is dropped: normalizing again must
      // read the same identifier (tests/fuzz/regressions/sql_normalize).
      const char close = c == '[' ? ']' : c;
      size_t j = i + 1;
      while (j < n && s[j] != close) ++j;
      std::string name(s.substr(i + 1, j - i - 1));
      name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
      out.push_back({Kind::kQuoted, std::move(name)});
      i = std::min(n, j + 1);
    } else if (absl::ascii_isdigit(c) || (c == '.' && i + 1 < n && absl::ascii_isdigit(s[i + 1])) ||
               ((c == '-' || c == '+') && i + 1 < n &&
                (absl::ascii_isdigit(s[i + 1]) ||
                 (s[i + 1] == '.' && i + 2 < n && absl::ascii_isdigit(s[i + 2]))) &&
                prev_allows_sign())) {
      if (c == '-' || c == '+') ++i;
      if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        while (i < n && absl::ascii_isxdigit(s[i])) ++i;
      } else {
        while (i < n && (absl::ascii_isdigit(s[i]) || s[i] == '.')) ++i;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
          ++i;
          if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
          while (i < n && absl::ascii_isdigit(s[i])) ++i;
        }
      }
      out.push_back({Kind::kLiteral, "?"});
    } else if (IsIdentStart(c)) {
      size_t j = i + 1;
      while (j < n && IsIdentChar(s[j])) ++j;
      std::string word = absl::AsciiStrToLower(s.substr(i, j - i));
      if (IsKeyword(word)) {
        out.push_back({Kind::kKeyword, absl::AsciiStrToUpper(word)});
      } else {
        out.push_back({Kind::kWord, std::move(word)});
      }
      i = j;
    } else if (c == '?' || (c == ':' && i + 1 < n && IsIdentStart(s[i + 1]))) {
      // Placeholders (?, ?1, :name, $1 is an identifier start) stay placeholders.
      size_t j = i + 1;
      while (j < n && IsIdentChar(s[j])) ++j;
      out.push_back({Kind::kLiteral, "?"});
      i = j;
    } else {
      // Operators: keep multi-character ones together (<=, <>, !=, ||, ::).
      size_t j = i + 1;
      while (j < n && j - i < 2 &&
             std::string_view("<>=!|:").find(s[j]) != std::string_view::npos &&
             std::string_view("<>=!|:").find(c) != std::string_view::npos) {
        ++j;
      }
      out.push_back({Kind::kPunct, std::string(s.substr(i, j - i))});
      i = j;
    }
  }
  return out;
}

// True when tokens[i] opens "( ? , ? , ... )"; sets *end to the index of the ")".
bool IsPlaceholderList(const std::vector<Token>& t, size_t i, size_t* end) {
  if (i >= t.size() || t[i].text != "(") return false;
  size_t j = i + 1;
  bool want_value = true;
  for (; j < t.size(); ++j) {
    if (want_value) {
      if (t[j].kind != Kind::kLiteral) return false;
      want_value = false;
    } else if (t[j].text == ",") {
      want_value = true;
    } else if (t[j].text == ")") {
      *end = j;
      return true;
    } else {
      return false;
    }
  }
  return false;
}

std::string Unquoted(const Token& t) { return t.text; }

}  // namespace

void NormalizeSql(absl::string_view statement, NormalizedSql* out) {
  if (statement.size() > kMaxStatementBytes) statement = statement.substr(0, kMaxStatementBytes);
  std::vector<Token> tokens = Tokenize(statement);

  // Operation: the first keyword; for WITH, the first operation keyword at depth 0 after it.
  out->operation = "OTHER";
  int depth = 0;
  bool with = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.text == "(") ++depth;
    if (t.text == ")") --depth;
    if (i == 0 && t.kind == Kind::kKeyword && t.text == "WITH") {
      with = true;
      continue;
    }
    if (i > 0 && !with) break;
    if (depth != 0 || (t.kind != Kind::kKeyword && t.kind != Kind::kWord)) continue;
    const std::string upper = absl::AsciiStrToUpper(t.text);
    bool known = false;
    for (absl::string_view op : kOperations) known = known || op == upper;
    if (known) {
      out->operation = upper;
      break;
    }
    if (!with) break;
  }

  // Table: the first name after FROM, INTO, UPDATE or JOIN.
  out->table = "unknown";
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& k = tokens[i].text;
    if (tokens[i].kind != Kind::kKeyword ||
        !(k == "FROM" || k == "INTO" || k == "UPDATE" || k == "JOIN")) {
      continue;
    }
    size_t j = i + 1;
    while (j < tokens.size() && tokens[j].kind == Kind::kKeyword &&
           (tokens[j].text == "IGNORE" || tokens[j].text == "ONLY")) {
      ++j;
    }
    if (j < tokens.size() && (tokens[j].kind == Kind::kWord || tokens[j].kind == Kind::kQuoted)) {
      std::string name = Unquoted(tokens[j]);
      // schema.table: keep both parts.
      while (j + 2 < tokens.size() && tokens[j + 1].text == "." &&
             (tokens[j + 2].kind == Kind::kWord || tokens[j + 2].kind == Kind::kQuoted)) {
        name += "." + Unquoted(tokens[j + 2]);
        j += 2;
      }
      if (!name.empty()) out->table = std::move(name);  // FROM "" names nothing
      break;
    }
  }

  // Text: tokens joined by single spaces (none inside "a.b", "f(", "(x", "x)", "x,"), with
  // placeholder lists collapsed.
  std::string& text = out->text;
  text.clear();
  text.reserve(statement.size());
  auto append = [&](absl::string_view piece, bool space) {
    if (space && !text.empty()) text += ' ';
    text.append(piece.data(), piece.size());
  };
  bool glue_next = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    size_t end;
    if (t.kind == Kind::kKeyword && (t.text == "IN" || t.text == "VALUES") &&
        IsPlaceholderList(tokens, i + 1, &end)) {
      append(t.text, !glue_next);
      append("(...)", true);
      i = end;
      // VALUES (...), (...), ...: swallow the following tuples too.
      while (t.text == "VALUES" && i + 1 < tokens.size() && tokens[i + 1].text == "," &&
             IsPlaceholderList(tokens, i + 2, &end)) {
        i = end;
      }
      glue_next = false;
      continue;
    }
    const bool glue = glue_next || t.text == ")" || t.text == "," || t.text == "." ||
                      t.text == ";" ||
                      (t.text == "(" && i > 0 && tokens[i - 1].kind != Kind::kPunct &&
                       (tokens[i - 1].kind != Kind::kKeyword || IsFunction(tokens[i - 1].text)));
    if (t.kind == Kind::kQuoted) {
      append("\"" + t.text + "\"", !glue);
    } else {
      append(t.text, !glue);
    }
    glue_next = t.text == "(" || t.text == ".";
  }
  while (!text.empty() && (text.back() == ';' || text.back() == ' ')) text.pop_back();
}

}  // namespace internal
}  // namespace vitals
