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
  // Copies the field from `from` into `to` (to fall back to the code's value or the default).
  // Null when code-only.
  std::function<void(const Options& from, Options& to)> copy;
  // The field's value as a warning shows it (secrets hidden). Null when code-only.
  std::function<std::string(const Options& options)> show;
  // A bad value stops Start() instead of falling back: there is no safe value to fall back to
  // (the address to serve on, TLS files, credentials, where to push).
  bool fail_closed = false;
  // Sets the field to a value that passes `check`, given the other fields (default: the
  // default value). Null when code-only.
  std::function<void(Options& options)> fallback;
};

// The options an agent runs with: `code`, then (with `lookup`) every VITALS_* variable that is
// set, each checked on its own. A bad value of an option that may fall back (most) is dropped
// with one line in `warnings` naming the variable or field, the value and the value used
// instead (the code's, else the default); the agent runs on. A bad value of a fail_closed option
// is the returned error (the first one), naming it. Never fails otherwise.
absl::Status SettleOptions(Options& options, const EnvLookup& lookup,
                           std::vector<std::string>* warnings);

// One warning per set VITALS_* variable in `names` that no option reads, with the known name
// closest to it (a misspelled `VITALS_SLOW_REQUST_THRESHOLD` names VITALS_SLOW_REQUEST_THRESHOLD).
std::vector<std::string> UnknownVariableWarnings(const std::vector<std::string>& names);

// The names of the process's environment variables that start with VITALS_.
std::vector<std::string> VitalsVariableNames();

// In README order.
const std::vector<OptionSpec>& OptionsTable();

// The README's options table: a header and one row per option.
std::string OptionsTableMarkdown();

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_OPTIONS_TABLE_H_
