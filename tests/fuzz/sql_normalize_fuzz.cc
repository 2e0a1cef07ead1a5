// Fuzz target: SQL statement normalization (agent/db/sql_normalize.h), which sees the text of
// every database call. Invariants: normalizing is idempotent (same text, operation and table);
// no string literal or number survives outside a quoted identifier; the output is bounded.

#include <cstddef>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "agent/db/sql_normalize.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vitals::internal::NormalizedSql;
using vitals::internal::NormalizeSql;
using vitals_fuzz::Show;

bool IdentStart(char c) { return absl::ascii_isalpha(c) || c == '_' || c == '$' || c == '@'; }
bool IdentChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '$'; }

// The first literal left in `text` outside "quoted identifiers": a single quote, or a digit
// that does not belong to a word. npos when there is none.
size_t LeftoverLiteral(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      const size_t close = text.find('"', i + 1);
      if (close == absl::string_view::npos) return i;  // the normalizer always closes them
      i = close;
    } else if (c == '\'') {
      return i;
    } else if (IdentStart(c)) {
      while (i + 1 < text.size() && IdentChar(text[i + 1])) ++i;
    } else if (absl::ascii_isdigit(c)) {
      return i;
    }
  }
  return absl::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view statement(reinterpret_cast<const char*>(data), size);
  NormalizedSql once;
  NormalizeSql(statement, &once);
  const size_t in = std::min(size, vitals::internal::kMaxStatementBytes);
  FUZZ_CHECK(once.text.size() <= 2 * in + 8, "output of %zu bytes for %zu: %s", once.text.size(),
             in, Show(once.text).c_str());
  FUZZ_CHECK(!once.operation.empty() && once.operation.size() <= 16, "operation %s",
             Show(once.operation).c_str());
  FUZZ_CHECK(!once.table.empty() && once.table.size() <= in + 8, "table %s",
             Show(once.table).c_str());
  const size_t literal = LeftoverLiteral(once.text);
  FUZZ_CHECK(literal == absl::string_view::npos, "a literal survives at %zu: %s", literal,
             Show(once.text).c_str());
  NormalizedSql twice;
  NormalizeSql(once.text, &twice);
  FUZZ_CHECK(twice.text == once.text, "not idempotent:\n  once:  %s\n  twice: %s",
             Show(once.text).c_str(), Show(twice.text).c_str());
  FUZZ_CHECK(twice.operation == once.operation, "operation %s then %s", once.operation.c_str(),
             twice.operation.c_str());
  FUZZ_CHECK(twice.table == once.table, "table %s then %s", Show(once.table).c_str(),
             Show(twice.table).c_str());
  return 0;
}
