// Fuzz target: the query-plan reader (agent/db/plan_reader.h), which reads what a database
// answers to EXPLAIN. Invariants: a PostgreSQL plan is read or refused with InvalidArgument;
// what is read stays within its bounds (64 candidates, 16 columns each, every candidate naming
// a table); filter columns are never empty strings nor repeated; SQLite details never fail.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "agent/db/plan_reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

void CheckColumns(const std::vector<std::string>& columns) {
  FUZZ_CHECK(columns.size() <= 16, "%zu columns", columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    FUZZ_CHECK(!columns[i].empty(), "an empty column name at %zu", i);
    FUZZ_CHECK(std::count(columns.begin(), columns.end(), columns[i]) == 1, "column %s twice",
               columns[i].c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitals_fuzz::FuzzInput in(data, size);
  const uint8_t mode = in.Byte();
  const absl::string_view text = in.Rest();
  if (mode % 3 == 0) {
    auto reading = vitals::internal::ReadPostgresPlan(text);
    if (!reading.ok()) {
      FUZZ_CHECK(reading.status().code() == absl::StatusCode::kInvalidArgument, "%s",
                 reading.status().ToString().c_str());
      return 0;
    }
    FUZZ_CHECK(reading->candidates.size() <= 64, "%zu candidates", reading->candidates.size());
    for (const auto& c : reading->candidates) {
      FUZZ_CHECK(!c.table.empty(), "a candidate without a table");
      CheckColumns(c.columns);
    }
  } else if (mode % 3 == 1) {
    CheckColumns(vitals::internal::FilterColumns(text));
  } else {
    std::vector<std::string> details = absl::StrSplit(text, '\n');
    const auto reading = vitals::internal::ReadSqlitePlan(details, (mode & 4) != 0);
    FUZZ_CHECK(reading.candidates.size() <= 64, "%zu candidates", reading.candidates.size());
    for (const auto& c : reading.candidates) FUZZ_CHECK(!c.table.empty(), "an empty table");
  }
  return 0;
}
