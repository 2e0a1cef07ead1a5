#include "exporters/text_format.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/core/names.h"
#include "agent/core/text_escape.h"
#include "exporters/protobuf_format.h"
#if VITALS_HAVE_PROMETHEUS_CPP
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#endif

namespace vitals {
namespace exporters {
namespace {

using internal::HistogramLayout;

using internal::AppendLabelPair;
using internal::AppendValue;

// The unit a family's name ends in, as OpenMetrics' # UNIT wants it (the name must end in it);
// empty when none is known.
absl::string_view UnitOf(absl::string_view family_name) {
  for (absl::string_view unit : {"seconds", "bytes"}) {
    if (absl::EndsWith(family_name, absl::StrCat("_", unit))) return unit;
  }
  return {};
}

// # HELP, # TYPE (and # UNIT in OpenMetrics) for a family whose samples are named from `name`.
// OpenMetrics names a counter family without its `_total`; its samples keep it.
void AppendHeader(std::string& out, absl::string_view name, absl::string_view help,
                  absl::string_view type, ExpositionFormat format) {
  const bool om = format == ExpositionFormat::kOpenMetrics;
  if (om && type == "counter") name = absl::StripSuffix(name, "_total");
  // An info family: OpenMetrics names it without `_info`; 0.0.4 has no such type.
  if (type == "info") {
    if (om) {
      name = absl::StripSuffix(name, "_info");
    } else {
      type = "gauge";
    }
  }
  if (om && type == "untyped") type = "unknown";
  out += "# HELP ";
  out.append(name.data(), name.size());
  out += ' ';
  // OpenMetrics escapes the double quote in HELP text too; 0.0.4 only backslash and newline.
  if (internal::IsValidUtf8(help)) {
    internal::AppendEscaped(out, help, /*quotes=*/om);
  } else {
    internal::AppendEscaped(out, internal::RepairUtf8(help), /*quotes=*/om);
  }
  out += "\n# TYPE ";
  out.append(name.data(), name.size());
  out += ' ';
  out.append(type.data(), type.size());
  out += '\n';
  if (om) {
    if (const absl::string_view unit = UnitOf(name); !unit.empty()) {
      absl::StrAppend(&out, "# UNIT ", name, " ", unit, "\n");
    }
  }
}

// The suffix a counter's samples get: none in 0.0.4 (the name is served as it is), `_total`
// in OpenMetrics when the name lacks it.
absl::string_view CounterSuffix(absl::string_view name, ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics && !absl::EndsWith(name, "_total") ? "_total"
                                                                                     : "";
}

// name{[constant,]labels[,extra]} value\n
void AppendSample(std::string& out, absl::string_view name, absl::string_view suffix,
                  absl::string_view constant, absl::string_view labels, absl::string_view extra,
                  double value) {
  out.append(name.data(), name.size());
  out.append(suffix.data(), suffix.size());
  if (!constant.empty() || !labels.empty() || !extra.empty()) {
    out += '{';
    bool first = true;
    for (absl::string_view part : {constant, labels, extra}) {
      if (part.empty()) continue;
      if (!first) out += ',';
      out.append(part.data(), part.size());
      first = false;
    }
    out += '}';
  }
  out += ' ';
  AppendValue(out, value);
  out += '\n';
}

// ` # {trace_id="..",span_id=".."} value timestamp` before the line's '\n' (OpenMetrics).
void AppendExemplar(std::string& out, const internal::Exemplar& e, int64_t unix_offset_nanos) {
  out.pop_back();  // the sample's '\n'
  const internal::TraceHex hex(e.trace);
  absl::StrAppend(&out, " # {trace_id=\"", hex.trace_id(), "\"");
  if (e.trace.span_id != 0) absl::StrAppend(&out, ",span_id=\"", hex.span_id(), "\"");
  out += "} ";
  AppendValue(out, e.value);
  const int64_t unix_nanos = e.clock_nanos + unix_offset_nanos;
  absl::StrAppend(&out, " ", unix_nanos / 1'000'000'000, ".",
                  absl::Dec(unix_nanos % 1'000'000'000 / 1'000'000, absl::kZeroPad3), "\n");
}

#if VITALS_HAVE_PROMETHEUS_CPP
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
#endif  // VITALS_HAVE_PROMETHEUS_CPP

}  // namespace

void TextFormat::RenderFamily(internal::Family& family, std::string& out, ExpositionFormat format) {
  internal::Family::VisitBuffers buffers;
  RenderFamily(family, out, format, buffers);
}

void TextFormat::RenderFamily(internal::Family& family, std::string& out, ExpositionFormat format,
                              internal::Family::VisitBuffers& buffers,
                              absl::string_view constant_labels) {
  if (family.identity()) constant_labels = {};
  const absl::string_view c = constant_labels;
  const std::string& name = family.name();
  AppendHeader(out, name, family.help(), internal::MetricTypeName(family.type()), format);
  if (family.type() != internal::MetricType::kHistogram) {
    const absl::string_view suffix =
        family.type() == internal::MetricType::kCounter ? CounterSuffix(name, format) : "";
    family.Visit(
        [&](const internal::Series& s, const double* cells) {
          AppendSample(out, name, suffix, c, s.labels_text, "", cells[0]);
        },
        buffers);
    return;
  }
  const std::vector<std::string>& le = family.le_texts();  // one per bucket, +Inf last
  // Exemplars travel only in OpenMetrics; their time is the family clock's, made Unix time.
  const bool exemplars = format == ExpositionFormat::kOpenMetrics && family.keeps_exemplars();
  const int64_t unix_offset = exemplars ? internal::UnixOffsetNanos(family.clock()) : 0;
  family.Visit(
      [&](const internal::Series& s, const double* cells) {
        const HistogramLayout layout = s.layout();
        double cumulative = 0;
        internal::Exemplar e;
        for (uint32_t i = 0; i < layout.buckets(); ++i) {
          cumulative += cells[i];
          AppendSample(out, name, "_bucket", c, s.labels_text, le[i], cumulative);
          if (exemplars && internal::Family::ReadExemplar(&s, i, e))
            AppendExemplar(out, e, unix_offset);
        }
        AppendSample(out, name, "_sum", c, s.labels_text, "", cells[layout.sum()]);
        AppendSample(out, name, "_count", c, s.labels_text, "", cumulative);
      },
      buffers);
}

#if VITALS_HAVE_PROMETHEUS_CPP
void TextFormat::RenderForeignFamily(const prometheus::MetricFamily& family, std::string& out,
                                     ExpositionFormat format) {
  const std::string& name = family.name;
  AppendHeader(out, name, family.help, ForeignTypeName(family.type), format);
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
        AppendSample(out, name, CounterSuffix(name, format), "", labels, "", m.counter.value);
        break;
      case prometheus::MetricType::Gauge:
        AppendSample(out, name, "", "", labels, "", m.gauge.value);
        break;
      case prometheus::MetricType::Untyped:
        AppendSample(out, name, "", "", labels, "", m.untyped.value);
        break;
      case prometheus::MetricType::Summary:
        for (const auto& q : m.summary.quantile) {
          extra = "quantile=\"";
          AppendValue(extra, q.quantile);
          extra += '"';
          AppendSample(out, name, "", "", labels, extra, q.value);
        }
        AppendSample(out, name, "_sum", "", labels, "", m.summary.sample_sum);
        AppendSample(out, name, "_count", "", labels, "",
                     static_cast<double>(m.summary.sample_count));
        break;
      case prometheus::MetricType::Histogram: {
        bool has_inf = false;
        for (const auto& b : m.histogram.bucket) {
          extra = "le=\"";
          AppendValue(extra, b.upper_bound);
          extra += '"';
          has_inf |= std::isinf(b.upper_bound) && b.upper_bound > 0;
          AppendSample(out, name, "_bucket", "", labels, extra,
                       static_cast<double>(b.cumulative_count));
        }
        if (!has_inf) {
          AppendSample(out, name, "_bucket", "", labels, "le=\"+Inf\"",
                       static_cast<double>(m.histogram.sample_count));
        }
        AppendSample(out, name, "_sum", "", labels, "", m.histogram.sample_sum);
        AppendSample(out, name, "_count", "", labels, "",
                     static_cast<double>(m.histogram.sample_count));
        break;
      }
      default:
        break;
    }
  }
}
#endif  // VITALS_HAVE_PROMETHEUS_CPP

void TextFormat::WarnOnce(const std::string& name, absl::string_view why) {
  skipped_log_.Log(name, LogSeverity::kWarning,
                   absl::StrCat("not serving prometheus-cpp family \"",
                                internal::RepairUtf8(name, 200), "\": ", why));
}

ExpositionFormat NegotiateFormat(absl::string_view accept) {
  double protobuf = 0, open_metrics = 0, text = 0;
  for (absl::string_view range : absl::StrSplit(accept, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(range, ';');
    const absl::string_view type = absl::StripAsciiWhitespace(parts[0]);
    double q = 1;
    absl::string_view version, proto, encoding;
    for (size_t i = 1; i < parts.size(); ++i) {
      const absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
      if (absl::StartsWith(p, "q=")) {
        if (!absl::SimpleAtod(p.substr(2), &q)) q = 0;
      } else if (absl::StartsWith(p, "version=")) {
        version = p.substr(8);
      } else if (absl::StartsWith(p, "proto=")) {
        proto = p.substr(6);
      } else if (absl::StartsWith(p, "encoding=")) {
        encoding = p.substr(9);
      }
    }
    if (absl::EqualsIgnoreCase(type, "application/vnd.google.protobuf")) {
      if (proto == "io.prometheus.client.MetricFamily" && encoding == "delimited") {
        protobuf = std::max(protobuf, q);
      }
    } else if (absl::EqualsIgnoreCase(type, "application/openmetrics-text")) {
      if (version.empty() || version == "1.0.0" || version == "0.0.1") {
        open_metrics = std::max(open_metrics, q);
      }
    } else if (absl::EqualsIgnoreCase(type, "text/plain")) {
      text = std::max(text, q);
    }
  }
  if (protobuf > 0 && protobuf >= open_metrics && protobuf >= text) {
    return ExpositionFormat::kProtobuf;
  }
  return open_metrics > 0 && open_metrics >= text ? ExpositionFormat::kOpenMetrics
                                                  : ExpositionFormat::kText;
}

void TextFormat::Render(internal::Registry& registry, std::string& out, ExpositionFormat format) {
  RenderBuffers buffers;
  Render(registry, out, format, buffers);
}

void TextFormat::Render(internal::Registry& registry, std::string& out, ExpositionFormat format,
                        RenderBuffers& buffers) {
  const bool protobuf = format == ExpositionFormat::kProtobuf;
  registry.ForEachFamily(
      [&](internal::Family& f) {
        if (protobuf) {
          AppendProtobufFamily(f, out, buffers.visit, buffers.native_cells,
                               registry.constant_labels());
        } else {
          RenderFamily(f, out, format, buffers.visit, registry.constant_labels_text());
        }
      },
      buffers.families);
#if VITALS_HAVE_PROMETHEUS_CPP
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
      if (protobuf) {
        AppendProtobufForeignFamily(f, out);
      } else {
        RenderForeignFamily(f, out, format);
      }
    }
  }
#endif  // VITALS_HAVE_PROMETHEUS_CPP: else Agent::RegisterCollectable refuses them
  if (format == ExpositionFormat::kOpenMetrics) out += "# EOF\n";
}

}  // namespace exporters
}  // namespace vitals
