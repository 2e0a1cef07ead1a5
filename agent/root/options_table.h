// agent/root/options_table.h: every option in one table, the single owner of its environment
// variable, parser, range, default and documentation.
//
// ApplyEnvironment() and ValidateOptions() (vitals/options.h) walk this table, and the README's
// options table is generated from it (OptionsTableMarkdown); tests/agent/root/readme_test.cc
// fails when the README differs. Add an option here and nowhere else.

#ifndef VITALS_AGENT_ROOT_OPTIONS_TABLE_H_
#define VITALS_AGENT_ROOT_OPTIONS_TABLE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vitals/options.h"

namespace vitals {
namespace internal {

struct OptionSpec {
  std::string field;         // the Options member, e.g. "http_threads"
  std::string env;           // its environment variable; empty when code-only
  std::string default_text;  // as the README shows it
  std::string doc;           // the README's meaning, range included
  // Parses the variable's value into `options` (InvalidArgument naming the variable and its
  // value when it does not parse or is out of range). Null when code-only.
  std::function<absl::Status(absl::string_view value, Options& options)> parse;
  // Checks the field in `options` (InvalidArgument "option FIELD: ..."). Null when anything
  // goes.
  std::function<absl::Status(const Options& options)> check;
};

// In README order.
const std::vector<OptionSpec>& OptionsTable();

// The README's options table: a header and one row per option.
std::string OptionsTableMarkdown();

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_OPTIONS_TABLE_H_
