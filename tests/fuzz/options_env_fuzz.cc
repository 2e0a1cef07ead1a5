// Fuzz target: options from the environment (VITALS_* variables, vitals/options.h). The input
// sets a few variables of the options table to arbitrary values. Invariants: ApplyEnvironment
// either accepts them all (and ValidateOptions then accepts the options or refuses with
// InvalidArgument: some options only make sense together), or refuses with InvalidArgument
// that names one of the variables set, and leaves the options untouched.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "agent/root/options_table.h"
#include "tests/fuzz/fuzz_check.h"
#include "vitals/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& table = vitals::internal::OptionsTable();
  std::vector<const vitals::internal::OptionSpec*> env_options;
  for (const auto& spec : table) {
    if (!spec.env.empty()) env_options.push_back(&spec);
  }
  vitals_fuzz::FuzzInput in(data, size);
  std::map<std::string, std::string> env;
  for (int i = 0; i < 4 && !in.empty(); ++i) {
    const auto* spec = env_options[in.Byte() % env_options.size()];
    env[spec->env] = std::string(in.Next());
  }
  vitals::Options options;
  options.read_environment = false;
  const vitals::Options before = options;
  const absl::Status s = vitals::ApplyEnvironment(options, [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  if (s.ok()) {
    const absl::Status valid = vitals::ValidateOptions(options);
    FUZZ_CHECK(valid.ok() || valid.code() == absl::StatusCode::kInvalidArgument, "%s",
               valid.ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "%s", s.ToString().c_str());
  bool named = false;
  for (const auto& [name, value] : env) named |= s.message().find(name) != absl::string_view::npos;
  FUZZ_CHECK(named, "the error names none of the variables set: %s", s.ToString().c_str());
  FUZZ_CHECK(options.listen == before.listen && options.http_threads == before.http_threads &&
                 options.sample_interval == before.sample_interval &&
                 options.series_limit == before.series_limit,
             "a refused environment changed the options");
  return 0;
}
