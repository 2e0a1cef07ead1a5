// agent/db/n_plus_one_table.h: the N+1 patterns seen, per (route, normalized statement): how
// many requests showed it, the calls in the last and the worst of them, and when it was last
// seen. Bounded: past kMaxPatterns the least recently seen pattern makes room. The live page
// lists them.
//
// Thread-safety: Add and Read may be called from any thread; a mutex guards the table. Add
// runs only when a request with an N+1 detection ends (already a throttled-log path).

#ifndef VITALS_AGENT_DB_N_PLUS_ONE_TABLE_H_
#define VITALS_AGENT_DB_N_PLUS_ONE_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "agent/base/mutex.h"

namespace vitals {
namespace internal {

class NPlusOneTable {
 public:
  static constexpr size_t kMaxPatterns = 100;

  struct Pattern {
    std::string method, route, statement, table;
    uint64_t requests = 0;      // requests that showed the pattern
    uint32_t last_calls = 0;    // calls of the statement in the last of them
    uint32_t max_calls = 0;     // ... and in the worst
    int64_t last_at_nanos = 0;  // agent clock
  };

  void Add(absl::string_view method, absl::string_view route, uint64_t statement_hash,
           absl::string_view statement, absl::string_view table, uint32_t calls, int64_t at_nanos)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The patterns, most recently seen first.
  std::vector<Pattern> Read() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable internal::Mutex mu_;
  std::map<std::pair<std::string, uint64_t>, Pattern> patterns_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_DB_N_PLUS_ONE_TABLE_H_
