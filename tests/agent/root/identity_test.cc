// Service identity (target_info, as OpenTelemetry's Prometheus exporters write it) and the
// constant labels on every series: parsing, precedence, validation, and what each exposition
// format serves.

#include "agent/root/identity.h"

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_join.h"
#include "agent/root/agent_access.h"
#include "exporters/text_format.h"
#include "tests/support/fakes.h"
#include "tests/support/protobuf_exposition.h"
#include "vitals/agent.h"
#include "vitals/circuit_breaker.h"
#include "vitals/version.h"

namespace {

using vitals::internal::LabelPairs;

std::string Render(vitals::Agent& agent, vitals::exporters::ExpositionFormat format) {
  std::string body;
  vitals::exporters::TextFormat text(nullptr);
  text.Render(vitals::internal::AgentAccess::Impl(agent).registry(), body, format);
  return body;
}

// An environment of the given variables only.
vitals::EnvLookup Env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

std::string Value(const LabelPairs& labels, const std::string& name) {
  for (const auto& [n, v] : labels) {
    if (n == name) return v;
  }
  return "(absent)";
}

}  // namespace

TEST_CASE("OTEL_RESOURCE_ATTRIBUTES: key=value pairs, values percent-decoded, bounded",
          "[identity]") {
  std::map<std::string, std::string> a;
  REQUIRE(vitals::internal::ParseResourceAttributes(
              " service.name = checkout , deployment.environment=prod%2Ceu,k8s.pod.name=a%3Db", &a)
              .ok());
  CHECK(a == std::map<std::string, std::string>{{"service.name", "checkout"},
                                                {"deployment.environment", "prod,eu"},
                                                {"k8s.pod.name", "a=b"}});
  std::map<std::string, std::string> bad;
  CHECK(!vitals::internal::ParseResourceAttributes("novalue", &bad).ok());
  CHECK(!vitals::internal::ParseResourceAttributes("=x", &bad).ok());
  CHECK(!vitals::internal::ParseResourceAttributes("a=%zz", &bad).ok());
  CHECK(!vitals::internal::ParseResourceAttributes("a=%4", &bad).ok());
  CHECK(!vitals::internal::ParseResourceAttributes("a=%ff", &bad).ok());  // not UTF-8
  CHECK(!vitals::internal::ParseResourceAttributes(std::string(5000, 'a'), &bad).ok());
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  CHECK(!vitals::internal::ParseResourceAttributes(many, &bad).ok());

  CHECK(vitals::internal::AttributeLabelName("service.name") == "service_name");
  CHECK(vitals::internal::AttributeLabelName("k8s.pod-name") == "k8s_pod_name");
  CHECK(vitals::internal::AttributeLabelName("9lives") == "key_9lives");
  CHECK(vitals::internal::AttributeLabelName("__x") == "key__x");
}

TEST_CASE(
    "the service's identity: options, then OTEL_SERVICE_NAME, then the attributes, then "
    "the defaults",
    "[identity]") {
  std::vector<std::string> warnings;
  vitals::Options o = vitals_test::QuietOptions();
  LabelPairs none = vitals::internal::ResolveIdentity(o, nullptr, "demo_service", &warnings);
  CHECK(Value(none, "service_name") == "unknown_service:demo_service");
  CHECK(Value(none, "service_version") == "(absent)");
  CHECK(std::regex_match(Value(none, "service_instance_id"),
                         std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                    "[0-9a-f]{12}")));
  CHECK(Value(none, "telemetry_sdk_name") == "vitals");
  CHECK(Value(none, "telemetry_sdk_language") == "cpp");
  CHECK(Value(none, "telemetry_sdk_version") == std::string(vitals::kVersion));
  CHECK(vitals::internal::RandomUuid() != vitals::internal::RandomUuid());

  const auto env = Env({{"OTEL_RESOURCE_ATTRIBUTES",
                         "service.name=from-attrs,service.version=2.0,service.instance.id=pod-7,"
                         "deployment.environment=prod,telemetry.sdk.name=other,job=x"},
                        {"OTEL_SERVICE_NAME", "from-otel-name"}});
  LabelPairs from_env = vitals::internal::ResolveIdentity(o, env, "demo_service", &warnings);
  CHECK(Value(from_env, "service_name") == "from-otel-name");  // OTEL_SERVICE_NAME wins
  CHECK(Value(from_env, "service_version") == "2.0");
  CHECK(Value(from_env, "service_instance_id") == "pod-7");
  CHECK(Value(from_env, "deployment_environment") == "prod");
  CHECK(Value(from_env, "telemetry_sdk_name") == "vitals");  // the SDK's own, not the variable's
  CHECK(Value(from_env, "job") == "(absent)");
  CHECK(absl::StrJoin(warnings, "\n").find("resource attribute job skipped") != std::string::npos);

  o.service_name = "checkout";
  o.service_version = "1.4.2";
  o.resource_attributes = {{"deployment.environment", "staging"}};
  LabelPairs coded = vitals::internal::ResolveIdentity(o, env, "demo_service", &warnings);
  CHECK(Value(coded, "service_name") == "checkout");
  CHECK(Value(coded, "service_version") == "1.4.2");
  CHECK(Value(coded, "service_instance_id") == "pod-7");
  CHECK(Value(coded, "deployment_environment") == "staging");
  // Order: the three service labels first, the SDK's last.
  CHECK(coded[0].first == "service_name");
  CHECK(coded[1].first == "service_instance_id");
  CHECK(coded[2].first == "service_version");
  CHECK(coded.back().first == "telemetry_sdk_version");

  warnings.clear();
  const auto broken = Env({{"OTEL_RESOURCE_ATTRIBUTES", "oops"}});
  LabelPairs fallback = vitals::internal::ResolveIdentity(vitals_test::QuietOptions(), broken,
                                                          "demo_service", &warnings);
  CHECK(Value(fallback, "service_name") == "unknown_service:demo_service");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("OTEL_RESOURCE_ATTRIBUTES ignored") != std::string::npos);
}

TEST_CASE("constant labels: what may not be one", "[identity]") {
  using vitals::internal::ValidateConstantLabels;
  CHECK(ValidateConstantLabels({{"region", "eu-1"}, {"cluster", "k1"}}).ok());
  for (const char* name :
       {"job", "instance", "le", "quantile", "http_route", "service_name", "__x", "1a", "a-b"}) {
    INFO(name);
    CHECK(!ValidateConstantLabels({{name, "x"}}).ok());
  }
  CHECK(!ValidateConstantLabels({{"region", std::string(257, 'x')}}).ok());
  CHECK(!ValidateConstantLabels({{"region", "\xff"}}).ok());
  std::map<std::string, std::string> many;
  for (int i = 0; i < 17; ++i) many["l" + std::to_string(i)] = "v";
  CHECK(!ValidateConstantLabels(many).ok());
  // A bad value from the environment is a warning, and no constant labels are used.
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o;
  o.log_sink = sink;
  o.process_metrics = false;
  o.http_enabled = false;
  vitals::Agent agent(o);  // read_environment: VITALS_CONSTANT_LABELS is not set in tests
  CHECK(vitals::internal::AgentAccess::Impl(agent).registry().constant_labels().empty());
}

TEST_CASE("every label name the agent's own families use is reserved from constant labels",
          "[identity]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.log_sink = std::make_shared<vitals_test::CapturingSink>();
  o.profiling = true;
  o.auto_profile = true;
  o.body_sizes = true;
  o.explain_threshold = absl::Milliseconds(1);
  o.pushgateway_url = "http://127.0.0.1:1";
  vitals::Agent agent(o);
  vitals::CircuitBreaker breaker("identity", {}, &agent);
  REQUIRE(breaker.status().ok());
  std::set<std::string> used;
  vitals::internal::AgentAccess::Impl(agent).registry().ForEachFamily(
      [&](vitals::internal::Family& f) {
        if (f.identity()) return;  // target_info: its labels are the identity's
        for (const std::string& n : f.label_names()) used.insert(n);
      });
  std::set<std::string> reserved;
  for (absl::string_view n : vitals::internal::AgentLabelNames()) reserved.emplace(n);
  CHECK(used == reserved);
}

TEST_CASE("target_info and constant labels in every exposition format", "[identity]") {
  vitals_test::ClockAndLog f;
  vitals::Options o = f.Options();
  o.process_metrics = false;
  o.http_enabled = false;
  o.service_name = "checkout";
  o.service_version = "1.4.2";
  o.service_instance_id = "pod-7";
  o.resource_attributes = {{"deployment.environment", "prod"}};
  o.constant_labels = {{"region", "eu-1"}, {"cluster", "k\"1"}};
  vitals::Agent agent(o);
  agent.Record("GET", "/users/:id", 200, absl::Milliseconds(3));
  auto orders = agent.AddCounter("orders_total", "Orders.", {"channel"});
  REQUIRE(orders.ok());
  orders->WithLabels({"web"})->Increment();
  // A family of the user's with a constant label's name: refused, saying why.
  auto clash = agent.AddCounter("clash_total", "x", {"region"});
  CHECK(clash.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(clash.status().message().find("constant label") != absl::string_view::npos);

  const std::string identity =
      "{service_name=\"checkout\",service_instance_id=\"pod-7\",service_version=\"1.4.2\","
      "deployment_environment=\"prod\",telemetry_sdk_language=\"cpp\",telemetry_sdk_name=\""
      "vitals\",telemetry_sdk_version=\"" +
      std::string(vitals::kVersion) + "\"} 1\n";
  const std::string text = Render(agent, vitals::exporters::ExpositionFormat::kText);
  CHECK(text.find("# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info" +
                  identity) != std::string::npos);
  const std::string om = Render(agent, vitals::exporters::ExpositionFormat::kOpenMetrics);
  CHECK(om.find("# TYPE target info\ntarget_info" + identity) != std::string::npos);
  // Every other sample carries the constant labels first (by name); target_info none.
  for (const std::string& body : {text, om}) {
    std::istringstream in(body);
    std::string line;
    int samples = 0;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      ++samples;
      INFO(line);
      if (line.rfind("target_info", 0) == 0) {
        CHECK(line.find("region=") == std::string::npos);
      } else {
        CHECK(line.find("{cluster=\"k\\\"1\",region=\"eu-1\"") != std::string::npos);
      }
    }
    CHECK(samples > 50);
  }
  CHECK(text.find("orders_total{cluster=\"k\\\"1\",region=\"eu-1\",channel=\"web\"} 1\n") !=
        std::string::npos);
  // Protobuf: the same labels, constant ones first.
  const std::string decoded = vitals_test::DecodeExposition(
      Render(agent, vitals::exporters::ExpositionFormat::kProtobuf), VITALS_SOURCE_DIR);
  const size_t at = decoded.find("name: \"orders_total\"");
  REQUIRE(at != std::string::npos);
  const std::string family = decoded.substr(at, decoded.find("---", at) - at);
  INFO(family);
  CHECK(family.find("label {\n    name: \"cluster\"\n    value: \"k\\\"1\"\n  }\n  label {\n"
                    "    name: \"region\"\n    value: \"eu-1\"\n  }\n  label {\n"
                    "    name: \"channel\"\n    value: \"web\"\n  }") != std::string::npos);
  const size_t target = decoded.find("name: \"target_info\"");
  REQUIRE(target != std::string::npos);
  CHECK(decoded.substr(target, decoded.find("---", target) - target).find("region") ==
        std::string::npos);
}
