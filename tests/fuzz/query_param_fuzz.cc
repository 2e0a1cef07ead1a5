// Fuzz target: query-string parameters of requests to the agent's port (agent/http/
// http_route.h; /debug/pprof/profile?seconds=N, /debug/pprof/auto/profile?id=N). Invariants: a
// value found holds no '&'; "name=value" (or just "name" for an empty value) is one of the
// query's '&'-separated parts, and no earlier part is that name.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/http/http_route.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitals_fuzz::FuzzInput in(data, size);
  const absl::string_view name = in.Next();
  const absl::string_view query = in.Rest();
  std::string value;
  const bool found = vitals::http::QueryParam(query, name, &value);
  const std::vector<absl::string_view> parts = absl::StrSplit(query, '&', absl::SkipEmpty());
  size_t first = parts.size();
  for (size_t i = 0; i < parts.size() && first == parts.size(); ++i) {
    const absl::string_view key = parts[i].substr(0, parts[i].find('='));
    if (key == name) first = i;
  }
  FUZZ_CHECK(found == (first < parts.size()), "found %d, but the parts say %d", found,
             first < parts.size());
  if (!found) return 0;
  FUZZ_CHECK(value.find('&') == std::string::npos, "value %s", vitals_fuzz::Show(value).c_str());
  const absl::string_view part = parts[first];
  FUZZ_CHECK(part == absl::StrCat(name, "=", value) || (value.empty() && part == name),
             "value %s for part %s", vitals_fuzz::Show(value).c_str(),
             vitals_fuzz::Show(part).c_str());
  return 0;
}
