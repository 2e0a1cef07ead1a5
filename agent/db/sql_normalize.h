// agent/db/sql_normalize.h: SQL statement text -> a normalized form, its operation and main table.
//
// Statement text never becomes a label value: literals would make every call a new series and
// could leak data. The normalized form groups calls that differ only in their values:
//   - string literals ('it''s', 'a\'b') and numbers (42, -3.5, 1e9, 0xff) become ?;
//   - comments (-- to end of line, /* ... */) go, runs of whitespace become one space;
//   - IN (?, ?, ...) becomes IN (...), and VALUES (?, ?), (?, ?) becomes VALUES (...);
//   - keywords are upper case, unquoted identifiers lower case ("Quoted" ones keep theirs).
// The operation is the statement's verb (SELECT, INSERT, UPDATE, DELETE, ...; WITH ... takes the
// verb of its main statement; anything unknown is OTHER); the table is the first table it
// names (FROM, INTO, UPDATE, JOIN), without quotes, or "unknown".
//
// Cost: one tokenizing pass and one output pass, a small allocation per token (measured in
// BENCHMARKS.md; the agent caches the result per distinct statement text and thread, so
// prepared statements with placeholders are normalized once). Pure function; thread-safe.

#ifndef VITALS_AGENT_DB_SQL_NORMALIZE_H_
#define VITALS_AGENT_DB_SQL_NORMALIZE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

struct NormalizedSql {
  std::string text;       // the normalized statement
  std::string operation;  // SELECT, INSERT, ..., or OTHER
  std::string table;      // the main table, or "unknown"
};

// Statements are cut at this many bytes before normalizing.
inline constexpr size_t kMaxStatementBytes = 16384;

void NormalizeSql(absl::string_view statement, NormalizedSql* out);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_DB_SQL_NORMALIZE_H_
