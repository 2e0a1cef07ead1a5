// Fuzz target: label-value and HELP escaping with UTF-8 repair, through the agent's own
// renderer (exporters/text_format.h) in the 0.0.4 and OpenMetrics text formats and the
// protobuf format. Whatever bytes a label value or help text holds, and whatever the value,
// the output must parse (tests/fuzz/exposition_validator.h and protobuf_reader.h, readers
// written apart from the writers), and give back the repaired text and the value exactly.
//
// Input: help 0xff value_a 0xff value_b 0xff, then a type byte and 8 bytes of a double.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/core/family.h"
#include "agent/core/names.h"
#include "agent/core/registry.h"
#include "agent/core/text_escape.h"
#include "exporters/text_format.h"
#include "tests/fuzz/exposition_validator.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/protobuf_reader.h"

namespace {

using vitals::exporters::ExpositionFormat;
using vitals::exporters::TextFormat;
using vitals::internal::Family;
using vitals::internal::MetricType;
using vitals_fuzz::ExpositionValidator;
using vitals_fuzz::ParsedLine;
using vitals_fuzz::Show;

void Check(Family& family, ExpositionFormat format, const std::string& help, const std::string& a,
           const std::string& b) {
  std::string body;
  TextFormat::RenderFamily(family, body, format);
  const bool om = format == ExpositionFormat::kOpenMetrics;
  if (om) body += "# EOF\n";
  std::vector<ParsedLine> lines;
  const std::string why = ExpositionValidator(om).Parse(body, &lines);
  FUZZ_CHECK(why.empty(), "%s output does not parse: %s\n%s", om ? "OpenMetrics" : "text",
             why.c_str(), Show(body).c_str());
  bool saw_help = false, saw_sample = false;
  for (const ParsedLine& p : lines) {
    if (p.kind == ParsedLine::kHelp) {
      saw_help = true;
      FUZZ_CHECK(p.text == help, "HELP came back as %s, not %s", Show(p.text).c_str(),
                 Show(help).c_str());
    }
    if (p.kind == ParsedLine::kSample) {
      saw_sample = true;
      std::string got_a, got_b;
      for (const auto& [name, value] : p.labels) {
        if (name == "a") got_a = value;
        if (name == "b") got_b = value;
      }
      FUZZ_CHECK(got_a == a && got_b == b, "labels came back as %s / %s, not %s / %s",
                 Show(got_a).c_str(), Show(got_b).c_str(), Show(a).c_str(), Show(b).c_str());
    }
  }
  FUZZ_CHECK(saw_help && saw_sample, "no HELP or no sample in\n%s", Show(body).c_str());
}

bool Same(double a, double b) { return (a != a && b != b) || a == b; }

void CheckProtobuf(vitals::internal::Registry& registry, MetricType type, double value,
                   const std::string& help, const std::string& a, const std::string& b) {
  std::string body;
  TextFormat(nullptr).Render(registry, body, ExpositionFormat::kProtobuf);
  std::vector<vitals_fuzz::PbFamily> families;
  FUZZ_CHECK(vitals_fuzz::ReadExposition(body, &families),
             "the protobuf output (%zu bytes) "
             "does not decode",
             body.size());
  const vitals_fuzz::PbFamily* found = nullptr;
  for (const auto& family : families) {
    if (family.name == "fuzz_metric") found = &family;
  }
  FUZZ_CHECK(found != nullptr, "no fuzz_metric among %zu families", families.size());
  const vitals_fuzz::PbFamily& f = *found;
  FUZZ_CHECK(f.help == help, "protobuf HELP %s, not %s", Show(f.help).c_str(), Show(help).c_str());
  const uint64_t want_type = type == MetricType::kCounter ? 0 : type == MetricType::kGauge ? 1 : 4;
  FUZZ_CHECK(f.type == want_type, "type %llu", static_cast<unsigned long long>(f.type));
  FUZZ_CHECK(f.metrics.size() == 1, "%zu metrics", f.metrics.size());
  const vitals_fuzz::PbMetric& m = f.metrics[0];
  FUZZ_CHECK(m.labels.size() == 2 && m.labels[0].second == a && m.labels[1].second == b,
             "protobuf labels differ");
  if (type == MetricType::kHistogram) {
    const uint64_t want_count = value != value ? 0 : 1;
    FUZZ_CHECK(m.count == want_count, "count %llu", static_cast<unsigned long long>(m.count));
    FUZZ_CHECK(Same(m.sum, want_count ? value : 0), "sum %g for %g", m.sum, value);
    uint64_t last = 0;
    for (const auto& [bound, cumulative] : m.buckets) {
      FUZZ_CHECK(cumulative >= last && cumulative <= m.count, "bucket counts not cumulative");
      last = cumulative;
    }
  } else {
    FUZZ_CHECK(m.has_value && Same(m.value, value), "value %g for %g", m.value, value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitals_fuzz::FuzzInput in(data, size);
  const absl::string_view help = in.Next(), a = in.Next(), b = in.Next();
  const MetricType type = static_cast<MetricType>(in.Byte() % 3);
  double value = in.Double();

  vitals::internal::Registry registry(16);
  auto family = registry.GetOrCreate(
      "fuzz_metric", help, type, {"a", "b"},
      type == MetricType::kHistogram ? std::vector<double>{0.1, 1, 10} : std::vector<double>{});
  FUZZ_CHECK(family.ok(), "family: %s", family.status().ToString().c_str());
  const absl::string_view values[2] = {a, b};
  vitals::internal::Series* series = (*family)->Find(values);
  FUZZ_CHECK(series != nullptr, "no series");
  if (type == MetricType::kCounter && !(value >= 0)) value = 0;
  if (type == MetricType::kHistogram) {
    vitals::internal::ObserveInto(*series, value);
  } else {
    Family::SetValue(series, value);
  }
  // What must come back: the text repaired to UTF-8 and cut, as the README promises.
  const std::string want_help = vitals::internal::RepairUtf8(help, vitals::internal::kMaxHelpBytes);
  const std::string want_a = vitals::internal::RepairUtf8(a, vitals::internal::kMaxLabelValueBytes);
  const std::string want_b = vitals::internal::RepairUtf8(b, vitals::internal::kMaxLabelValueBytes);
  Check(**family, ExpositionFormat::kText, want_help, want_a, want_b);
  Check(**family, ExpositionFormat::kOpenMetrics, want_help, want_a, want_b);
  CheckProtobuf(registry, type, value, want_help, want_a, want_b);
  return 0;
}
