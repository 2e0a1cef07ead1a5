// Fuzz target: the body of a pprof symbol request (POST /debug/pprof/symbol, "0xA+0xB"),
// parsed and looked up by SymbolizeForPprof (agent/profiling/profiler.h). Invariants: it
// answers or refuses with ResourceExhausted (too many addresses) or InvalidArgument; an answer
// is lines of "0x<lower-case hex> <name>", one per address it could name.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "agent/profiling/profiler.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  auto answer = vitals::internal::SymbolizeForPprof(body, [] { return false; });
  if (!answer.ok()) {
    const absl::StatusCode code = answer.status().code();
    FUZZ_CHECK(
        code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kInvalidArgument,
        "%s", answer.status().ToString().c_str());
    return 0;
  }
  for (absl::string_view line : absl::StrSplit(*answer, '\n', absl::SkipEmpty())) {
    FUZZ_CHECK(absl::StartsWith(line, "0x"), "line %s", vitals_fuzz::Show(line).c_str());
    const size_t space = line.find(' ');
    FUZZ_CHECK(space != absl::string_view::npos && space + 1 < line.size(), "line %s",
               vitals_fuzz::Show(line).c_str());
    const absl::string_view hex = line.substr(2, space - 2);
    FUZZ_CHECK(!hex.empty() && hex.find_first_not_of("0123456789abcdef") == absl::string_view::npos,
               "address %s", vitals_fuzz::Show(hex).c_str());
  }
  return 0;
}
