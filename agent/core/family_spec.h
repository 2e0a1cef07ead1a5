// agent/core/family_spec.h: the one way the agent declares its built-in metric families.
//
// Each feature lists its families as specs and creates them in one call:
//
//   absl::Status s = CreateFamilies(registry, {
//       {&hits_, "cache_gets_total", "Cache lookups.", MetricType::kCounter, {"cache", "result"}},
//       {&size_, "cache_size", "Entries now.", MetricType::kGauge, {"cache"}},
//   });
//
// The README's metric table is checked against the families a fully configured agent creates
// (tests/agent/root/readme_test.cc), so a spec added here without documentation fails a test.

#ifndef VITALS_AGENT_CORE_FAMILY_SPEC_H_
#define VITALS_AGENT_CORE_FAMILY_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"

namespace vitals {
namespace internal {

struct FamilySpec {
  Family** out;  // where the created family goes
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> labels = {};
  std::vector<double> bounds = {};  // histograms only
  HistogramExtras extras = {};      // histograms only
};

// Bounds the built-in families share: sizes in bytes, 64 B to 16 MiB a factor of 4 apart (HTTP
// bodies, RPC messages), and messages per RPC call (a unary call is 1 and 1; a stream any
// number from 0).
std::vector<double> ByteSizeBuckets();
std::vector<double> MessagesPerCallBuckets();

// The extras of a built-in duration histogram: exemplars as asked, and DurationNativeLayout()
// when `native`.
HistogramExtras DurationExtras(bool native, bool exemplars);

// Creates (or finds) every family in order, stopping at the first error, which it returns.
// `expirable`: the families' series may be removed by idle expiry (Family::ExpireIdle); set
// before any series is looked up.
absl::Status CreateFamilies(Registry& registry, std::vector<FamilySpec> specs,
                            bool expirable = false);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_FAMILY_SPEC_H_
