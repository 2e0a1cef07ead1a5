#include "agent/profiling/function_names.h"

#include <cxxabi.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace vitals {
namespace internal {
namespace {

// The index just past the template argument list that opens at `in[i]` ('<'). Angle brackets
// inside parentheses (a function type, a decltype) do not count.
size_t SkipTemplateArgs(absl::string_view in, size_t i) {
  int angles = 0, parens = 0;
  for (; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '(') {
      ++parens;
    } else if (c == ')') {
      --parens;
    } else if (parens == 0 && c == '<') {
      ++angles;
    } else if (parens == 0 && c == '>' && --angles == 0) {
      return i + 1;
    }
  }
  return in.size();
}

// The index just past the parenthesized list that opens at `in[i]` ('(').
size_t SkipParens(absl::string_view in, size_t i) {
  int depth = 0;
  for (; i < in.size(); ++i) {
    if (in[i] == '(') ++depth;
    if (in[i] == ')' && --depth == 0) return i + 1;
  }
  return in.size();
}

bool IsIdentifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsQualifier(absl::string_view token) {
  return token == "const" || token == "volatile" || token == "&" || token == "&&" ||
         token == "noexcept";
}

}  // namespace

std::string Demangle(absl::string_view name) {
  if (name.size() < 2 || name[0] != '_' || name[1] != 'Z') return std::string(name);
  int status = 0;
  const std::string mangled(name);
  char* out = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  if (out == nullptr || status != 0) {
    std::free(out);
    return mangled;
  }
  std::string result(out);
  std::free(out);
  return result;
}

std::string ShortFunctionName(absl::string_view in) {
  // Operator names whose spelling holds a character that is stripped below.
  static constexpr absl::string_view kOperators[] = {"()", "[]", "<<=", ">>=", "<=>", "->*", "<<",
                                                     ">>", "<=", ">=",  "->",  "<",   ">"};
  constexpr absl::string_view kAnonymous = "(anonymous namespace)";
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const absl::string_view rest = in.substr(i);
    if (absl::StartsWith(rest, kAnonymous)) {
      out.append(kAnonymous.data(), kAnonymous.size());
      i += kAnonymous.size();
      continue;
    }
    if (absl::StartsWith(rest, "operator") && (i == 0 || !IsIdentifierChar(in[i - 1])) &&
        (rest.size() == 8 || !IsIdentifierChar(rest[8]))) {
      out += "operator";
      i += 8;
      for (absl::string_view op : kOperators) {
        if (absl::StartsWith(in.substr(i), op)) {
          out.append(op.data(), op.size());
          i += op.size();
          break;
        }
      }
      continue;
    }
    const char c = in[i];
    if (c == '<') {
      i = SkipTemplateArgs(in, i);
    } else if (c == '(') {
      const bool lambda = absl::EndsWith(out, "lambda");
      i = SkipParens(in, i);
      if (lambda) out += "()";
    } else {
      out += c;
      ++i;
    }
  }

  // What is left: [return type] name [qualifiers] [clone suffix], split at the spaces that are
  // outside braces and parentheses.
  std::vector<std::string> tokens;
  int depth = 0;  // braces of lambdas, parentheses of "(anonymous namespace)"
  std::string token;
  for (char c : out) {
    if (c == '{' || c == '(') ++depth;
    if (c == '}' || c == ')') --depth;
    if (c == ' ' && depth == 0) {
      if (!token.empty()) tokens.push_back(std::move(token));
      token.clear();
    } else {
      token += c;
    }
  }
  if (!token.empty()) tokens.push_back(std::move(token));

  std::string suffix;  // " [clone .cold]" and the like
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (absl::StartsWith(tokens[t], "[clone")) {
      suffix = " " + absl::StrJoin(tokens.begin() + t, tokens.end(), " ");
      tokens.resize(t);
      break;
    }
  }
  while (!tokens.empty() && IsQualifier(tokens.back())) tokens.pop_back();
  if (tokens.empty()) return std::string(in);
  // A conversion or allocation operator spells its name over several tokens:
  // "Foo::operator bool", "operator new".
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (absl::EndsWith(tokens[t], "operator") && t + 1 < tokens.size()) {
      return absl::StrJoin(tokens.begin() + t, tokens.end(), " ") + suffix;
    }
  }
  return tokens.back() + suffix;
}

}  // namespace internal
}  // namespace vitals
