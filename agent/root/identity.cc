#include "agent/root/identity.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/core/names.h"
#include "agent/core/text_escape.h"
#include "vitals/version.h"

namespace vitals {
namespace internal {
namespace {

constexpr size_t kMaxVariableBytes = 4096;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

absl::Status ParseResourceAttributes(absl::string_view text,
                                     std::map<std::string, std::string>* out) {
  if (text.size() > kMaxVariableBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource attributes: ", text.size(), " bytes, more than 4 KiB"));
  }
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const size_t eq = entry.find('=');
    const absl::string_view key = absl::StripAsciiWhitespace(entry.substr(0, eq));
    if (eq == absl::string_view::npos || key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource attributes: \"", entry.substr(0, 100), "\" is not key=value"));
    }
    std::string value;
    if (!PercentDecode(absl::StripAsciiWhitespace(entry.substr(eq + 1)), &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resource attributes: \"", entry.substr(0, 100), "\" has a bad percent escape"));
    }
    if (value.size() > kMaxIdentityValueBytes || !IsValidUtf8(value)) {
      return absl::InvalidArgumentError(absl::StrCat("resource attributes: the value of ",
                                                     key.substr(0, 100),
                                                     " is not UTF-8 of at most 256 bytes"));
    }
    (*out)[std::string(key)] = std::move(value);
    if (out->size() > kMaxResourceAttributes) {
      return absl::InvalidArgumentError("resource attributes: more than 32");
    }
  }
  return absl::OkStatus();
}

std::string AttributeLabelName(absl::string_view key) {
  std::string name;
  for (char c : key)
    name += absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  if (!name.empty() && absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) {
    name = "key_" + name;
  } else if (absl::StartsWith(name, "__")) {
    name = "key" + name;
  }
  return name;
}

std::string RandomUuid() {
  std::random_device device;
  uint8_t b[16];
  for (int i = 0; i < 16; i += 4) {
    const uint32_t r = device();
    for (int j = 0; j < 4; ++j) b[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

LabelPairs ResolveIdentity(const Options& options, const EnvLookup& lookup,
                           absl::string_view program, std::vector<std::string>* warnings) {
  std::map<std::string, std::string> attributes;  // by OpenTelemetry name
  if (lookup) {
    if (const char* env = lookup("OTEL_RESOURCE_ATTRIBUTES")) {
      std::map<std::string, std::string> parsed;
      if (absl::Status s = ParseResourceAttributes(env, &parsed); s.ok()) {
        attributes = std::move(parsed);
      } else {
        warnings->push_back(absl::StrCat("OTEL_RESOURCE_ATTRIBUTES ignored: ", s.message()));
      }
    }
    if (const char* name = lookup("OTEL_SERVICE_NAME"); name != nullptr && *name != '\0') {
      attributes["service.name"] = std::string(name).substr(0, kMaxIdentityValueBytes);
    }
  }
  for (const auto& [key, value] : options.resource_attributes) attributes[key] = value;
  auto pick = [&](const std::string& option, const char* key) {
    if (!option.empty()) attributes[key] = option;
  };
  pick(options.service_name, "service.name");
  pick(options.service_version, "service.version");
  pick(options.service_instance_id, "service.instance.id");
  if (attributes["service.name"].empty()) {
    attributes["service.name"] = absl::StrCat("unknown_service:", program);
  }
  if (attributes["service.instance.id"].empty()) attributes["service.instance.id"] = RandomUuid();

  LabelPairs labels;
  std::map<std::string, std::string> rest;  // by label name
  for (auto& [key, value] : attributes) {
    if (key == "service.name" || key == "service.instance.id" || key == "service.version" ||
        absl::StartsWith(key, "telemetry.sdk.")) {
      continue;
    }
    const std::string name = AttributeLabelName(key);
    if (!IsValidLabelName(name) || name == "job" || name == "instance" || rest.count(name) != 0 ||
        options.constant_labels.count(name) != 0) {
      warnings->push_back(absl::StrCat("resource attribute ", key.substr(0, 100),
                                       " skipped: its label name is unusable or taken"));
      continue;
    }
    if (!IsValidUtf8(value) || value.size() > kMaxIdentityValueBytes) {
      warnings->push_back(absl::StrCat("resource attribute ", key.substr(0, 100),
                                       " skipped: its value is not UTF-8 of at most 256 bytes"));
      continue;
    }
    rest[name] = value;
  }
  labels.emplace_back("service_name", attributes["service.name"]);
  labels.emplace_back("service_instance_id", attributes["service.instance.id"]);
  if (!attributes["service.version"].empty()) {
    labels.emplace_back("service_version", attributes["service.version"]);
  }
  for (auto& [name, value] : rest) labels.emplace_back(name, value);
  labels.emplace_back("telemetry_sdk_language", "cpp");
  labels.emplace_back("telemetry_sdk_name", "vitals");
  labels.emplace_back("telemetry_sdk_version", std::string(kVersion));
  return labels;
}

const std::vector<absl::string_view>& AgentLabelNames() {
  static const std::vector<absl::string_view> names = {
      "allocator",
      "cache",
      "db_client_connection_pool_name",
      "db_client_connection_state",
      "db_collection_name",
      "db_namespace",
      "db_operation_name",
      "db_system_name",
      "error_type",
      "http_request_method",
      "http_response_status_code",
      "http_route",
      "kind",
      "metric",
      "name",
      "outcome",
      "part",
      "reason",
      "result",
      "rpc_method",
      "rpc_status_code",
      "rpc_system_name",
      "server_address",
      "server_port",
      "source",
      "state",
      "trigger",
      "version",
  };
  return names;
}

absl::Status ValidateConstantLabels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > kMaxConstantLabels) {
    return absl::InvalidArgumentError(absl::StrCat(labels.size(), " labels, more than 16"));
  }
  const std::vector<absl::string_view>& taken = AgentLabelNames();
  for (const auto& [name, value] : labels) {
    const std::string shown = absl::StrCat("\"", name.substr(0, 100), "\"");
    if (!IsValidLabelName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(shown, " is not a label name"));
    }
    for (absl::string_view reserved : {"job", "instance", "le", "quantile", "service_name",
                                       "service_version", "service_instance_id"}) {
      if (name == reserved) {
        return absl::InvalidArgumentError(
            absl::StrCat(shown,
                         " is reserved (Prometheus' target labels, histogram and summary labels, "
                         "target_info's)"));
      }
    }
    if (std::find(taken.begin(), taken.end(), name) != taken.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(shown, " is a label of the agent's own metrics"));
    }
    if (value.size() > kMaxIdentityValueBytes || !IsValidUtf8(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value of ", shown, " is not UTF-8 of at most 256 bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace vitals
