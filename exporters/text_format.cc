#include "exporters/text_format.h"

#include <cmath>
#include <exception>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "agent/core/names.h"
#include "agent/core/text_escape.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace vitals {
namespace exporters {
namespace {

using internal::HistogramLayout;

using internal::AppendEscapedHelp;
using internal::AppendLabelPair;
using internal::AppendValue;

void AppendHeader(std::string& out, absl::string_view name, absl::string_view help,
                  absl::string_view type) {
  out += "# HELP ";
  out.append(name.data(), name.size());
  out += ' ';
  if (internal::IsValidUtf8(help)) {
    AppendEscapedHelp(out, help);
  } else {
    AppendEscapedHelp(out, internal::RepairUtf8(help));
  }
  out += "\n# TYPE ";
  out.append(name.data(), name.size());
  out += ' ';
  out.append(type.data(), type.size());
  out += '\n';
}

// name{labels[,extra]} value\n
void AppendSample(std::string& out, absl::string_view name, absl::string_view suffix,
                  absl::string_view labels, absl::string_view extra, double value) {
  out.append(name.data(), name.size());
  out.append(suffix.data(), suffix.size());
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out.append(labels.data(), labels.size());
    if (!labels.empty() && !extra.empty()) out += ',';
    out.append(extra.data(), extra.size());
    out += '}';
  }
  out += ' ';
  AppendValue(out, value);
  out += '\n';
}

absl::string_view ForeignTypeName(prometheus::MetricType t) {
  switch (t) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Histogram:
      return "histogram";
    case prometheus::MetricType::Summary:
      return "summary";
    default:
      return "untyped";
  }
}

}  // namespace

void TextFormat::RenderFamily(internal::Family& family, std::string& out) {
  const std::string& name = family.name();
  AppendHeader(out, name, family.help(), internal::MetricTypeName(family.type()));
  if (family.type() != internal::MetricType::kHistogram) {
    family.Visit([&](const internal::Series& s, const double* cells) {
      AppendSample(out, name, "", s.labels_text, "", cells[0]);
    });
    return;
  }
  const std::vector<std::string>& le = family.le_texts();  // one per bucket, +Inf last
  family.Visit([&](const internal::Series& s, const double* cells) {
    const HistogramLayout layout = s.layout();
    double cumulative = 0;
    for (uint32_t i = 0; i < layout.buckets(); ++i) {
      cumulative += cells[i];
      AppendSample(out, name, "_bucket", s.labels_text, le[i], cumulative);
    }
    AppendSample(out, name, "_sum", s.labels_text, "", cells[layout.sum()]);
    AppendSample(out, name, "_count", s.labels_text, "", cumulative);
  });
}

void TextFormat::RenderForeignFamily(const prometheus::MetricFamily& family, std::string& out) {
  const std::string& name = family.name;
  AppendHeader(out, name, family.help, ForeignTypeName(family.type));
  // The label name the format adds itself; a user label of that name would be duplicated.
  const absl::string_view reserved = family.type == prometheus::MetricType::Histogram ? "le"
                                     : family.type == prometheus::MetricType::Summary ? "quantile"
                                                                                      : "";
  std::string labels;
  std::string extra;
  for (const prometheus::ClientMetric& m : family.metric) {
    labels.clear();
    for (const prometheus::ClientMetric::Label& l : m.label) {
      if (!internal::IsValidLabelName(l.name) || l.name == reserved) continue;
      if (!labels.empty()) labels += ',';
      AppendLabelPair(labels, l.name, l.value);
    }
    switch (family.type) {
      case prometheus::MetricType::Counter:
        AppendSample(out, name, "", labels, "", m.counter.value);
        break;
      case prometheus::MetricType::Gauge:
        AppendSample(out, name, "", labels, "", m.gauge.value);
        break;
      case prometheus::MetricType::Untyped:
        AppendSample(out, name, "", labels, "", m.untyped.value);
        break;
      case prometheus::MetricType::Summary:
        for (const auto& q : m.summary.quantile) {
          extra = "quantile=\"";
          AppendValue(extra, q.quantile);
          extra += '"';
          AppendSample(out, name, "", labels, extra, q.value);
        }
        AppendSample(out, name, "_sum", labels, "", m.summary.sample_sum);
        AppendSample(out, name, "_count", labels, "", static_cast<double>(m.summary.sample_count));
        break;
      case prometheus::MetricType::Histogram: {
        bool has_inf = false;
        for (const auto& b : m.histogram.bucket) {
          extra = "le=\"";
          AppendValue(extra, b.upper_bound);
          extra += '"';
          has_inf |= std::isinf(b.upper_bound) && b.upper_bound > 0;
          AppendSample(out, name, "_bucket", labels, extra,
                       static_cast<double>(b.cumulative_count));
        }
        if (!has_inf) {
          AppendSample(out, name, "_bucket", labels, "le=\"+Inf\"",
                       static_cast<double>(m.histogram.sample_count));
        }
        AppendSample(out, name, "_sum", labels, "", m.histogram.sample_sum);
        AppendSample(out, name, "_count", labels, "",
                     static_cast<double>(m.histogram.sample_count));
        break;
      }
      default:
        break;
    }
  }
}

void TextFormat::WarnOnce(const std::string& name, absl::string_view why) {
  skipped_log_.Log(name, LogSeverity::kWarning,
                   absl::StrCat("not serving prometheus-cpp family \"",
                                internal::RepairUtf8(name, 200), "\": ", why));
}

void TextFormat::Render(internal::Registry& registry, std::string& out) {
  registry.ForEachFamily([&](internal::Family& f) { RenderFamily(f, out); });
  absl::flat_hash_set<std::string> foreign_names;
  for (const auto& collectable : registry.Collectables()) {
    std::vector<prometheus::MetricFamily> families;
    try {
      families = collectable->Collect();
    } catch (const std::exception& e) {
      throw_log_.Log("", LogSeverity::kError,
                     absl::StrCat("a registered prometheus-cpp collectable threw: ", e.what()));
      continue;
    } catch (...) {
      throw_log_.Log("", LogSeverity::kError, "a registered prometheus-cpp collectable threw");
      continue;
    }
    for (const prometheus::MetricFamily& f : families) {
      if (!internal::IsValidMetricName(f.name)) {
        WarnOnce(f.name, "invalid metric name");
        continue;
      }
      bool clash = registry.Emits(f.name) || !foreign_names.insert(f.name).second;
      if (f.type == prometheus::MetricType::Histogram ||
          f.type == prometheus::MetricType::Summary) {
        for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
          clash |= registry.Emits(absl::StrCat(f.name, suffix));
        }
      }
      if (clash) {
        WarnOnce(f.name, "the name is already served on this endpoint");
        continue;
      }
      if (f.metric.empty()) continue;
      RenderForeignFamily(f, out);
    }
  }
}

}  // namespace exporters
}  // namespace vitals
