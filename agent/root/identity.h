// agent/root/identity.h: who the process is, for target_info (OpenTelemetry's resource as the
// Prometheus compatibility specification writes it: one info metric, its labels the resource
// attributes with `.` and other characters a label name cannot hold made `_`), and the
// constant labels the options ask for on every series.
//
// The service name, version and instance id come from the options, else from the variables
// OpenTelemetry SDKs read (OTEL_SERVICE_NAME; `service.name`, `service.version`,
// `service.instance.id` and any other attribute in OTEL_RESOURCE_ATTRIBUTES, a comma-separated
// list of key=value with percent-encoded values), else the defaults: `unknown_service:<program>`,
// no version, a random UUID. The SDK's own attributes follow: telemetry_sdk_language="cpp",
// telemetry_sdk_name="vitals", telemetry_sdk_version.
//
// Thread-safety: pure functions. Bounds: 32 attributes, 256 bytes a value, 4 KiB of variable.

#ifndef VITALS_AGENT_ROOT_IDENTITY_H_
#define VITALS_AGENT_ROOT_IDENTITY_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vitals/options.h"

namespace vitals {
namespace internal {

inline constexpr size_t kMaxResourceAttributes = 32;
inline constexpr size_t kMaxIdentityValueBytes = 256;
inline constexpr size_t kMaxConstantLabels = 16;

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// OTEL_RESOURCE_ATTRIBUTES' format: "k1=v1,k2=v2", values percent-decoded, both trimmed.
// InvalidArgument (with the reason) for an entry without '=', an empty key, a bad escape, or
// past the bounds.
absl::Status ParseResourceAttributes(absl::string_view text,
                                     std::map<std::string, std::string>* out);

// An attribute name as a Prometheus label name: characters other than [a-zA-Z0-9_] become '_',
// a leading digit gets "key_" before it, a leading "__" gets "key" ("service.name" ->
// "service_name").
std::string AttributeLabelName(absl::string_view key);

// target_info's labels, in order: service_name, service_instance_id, service_version (when
// known), the other attributes by label name, the SDK's. `lookup` reads OTEL_* (null: none);
// `warnings` gets what was skipped and why.
LabelPairs ResolveIdentity(const Options& options, const EnvLookup& lookup,
                           absl::string_view program, std::vector<std::string>* warnings);

// A random (version 4) UUID, lower-case hex with dashes.
std::string RandomUuid();

// OK, or InvalidArgument naming the first constant label that cannot be used: a bad name,
// `job`, `instance`, `le`, `quantile`, a name one of the agent's own families uses
// (AgentLabelNames), a value that is not UTF-8 or longer than 256 bytes, more than 16.
absl::Status ValidateConstantLabels(const std::map<std::string, std::string>& labels);

// Every label name the agent's own families use (a test checks it against a fully configured
// agent's families).
const std::vector<absl::string_view>& AgentLabelNames();

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_IDENTITY_H_
