#include "exporters/protobuf_format.h"

#include <cmath>

#include "agent/base/proto_writer.h"
#include "agent/core/names.h"
#include "agent/core/text_escape.h"
#include "prometheus/metric_family.h"

namespace vitals {
namespace exporters {
namespace {

using internal::ProtoWriter;

// client_model's MetricType.
enum ProtoType { kCounter = 0, kGauge = 1, kSummary = 2, kUntyped = 3, kHistogram = 4 };

// MetricFamily fields, Metric fields, and the value messages' fields.
constexpr uint32_t kFamilyName = 1, kFamilyHelp = 2, kFamilyType = 3, kFamilyMetric = 4;
constexpr uint32_t kMetricLabel = 1, kMetricGauge = 2, kMetricCounter = 3, kMetricSummary = 4,
                   kMetricUntyped = 5, kMetricHistogram = 7;
constexpr uint32_t kLabelName = 1, kLabelValue = 2;
constexpr uint32_t kValue = 1;  // Gauge.value, Counter.value, Untyped.value
constexpr uint32_t kHistCount = 1, kHistSum = 2, kHistBucket = 3;
constexpr uint32_t kBucketCount = 1, kBucketBound = 2;
constexpr uint32_t kSummaryCount = 1, kSummarySum = 2, kSummaryQuantile = 3;
constexpr uint32_t kQuantile = 1, kQuantileValue = 2;

// A label value as the text format would read back: valid UTF-8, bounded.
void AppendLabel(ProtoWriter& metric, absl::string_view name, absl::string_view value) {
  ProtoWriter label;
  label.Bytes(kLabelName, name);
  if (internal::IsValidUtf8(value) && value.size() <= internal::kMaxLabelValueBytes) {
    label.Bytes(kLabelValue, value);
  } else {
    label.Bytes(kLabelValue, internal::RepairUtf8(value, internal::kMaxLabelValueBytes));
  }
  metric.Message(kMetricLabel, label);
}

ProtoWriter Header(absl::string_view name, absl::string_view help, ProtoType type) {
  ProtoWriter family;
  family.Bytes(kFamilyName, name);
  if (internal::IsValidUtf8(help) && help.size() <= internal::kMaxHelpBytes) {
    family.Bytes(kFamilyHelp, help);
  } else {
    family.Bytes(kFamilyHelp, internal::RepairUtf8(help, internal::kMaxHelpBytes));
  }
  family.Varint(kFamilyType, type);
  return family;
}

void Finish(const ProtoWriter& family, std::string& out) {
  ProtoWriter length;
  length.Length(family.data().size());
  out += length.data();
  out += family.data();
}

ProtoWriter Scalar(double value) {
  ProtoWriter v;
  v.Double(kValue, value);
  return v;
}

// A histogram from per-bucket counts (finite bounds, then +Inf) and the sum.
ProtoWriter Histogram(const std::vector<double>& bounds, const double* buckets, double sum) {
  ProtoWriter h;
  double cumulative = 0;
  ProtoWriter bucket;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets[i];
    bucket.Clear();
    bucket.Varint(kBucketCount, static_cast<uint64_t>(cumulative));
    bucket.Double(kBucketBound, bounds[i]);
    h.Message(kHistBucket, bucket);
  }
  cumulative += buckets[bounds.size()];  // +Inf: the count stands for it
  h.Varint(kHistCount, static_cast<uint64_t>(cumulative));
  h.Double(kHistSum, sum);
  return h;
}

}  // namespace

void AppendProtobufFamily(internal::Family& family, std::string& out) {
  const internal::MetricType type = family.type();
  ProtoWriter message = Header(family.name(), family.help(),
                               type == internal::MetricType::kCounter ? kCounter
                               : type == internal::MetricType::kGauge ? kGauge
                                                                      : kHistogram);
  const std::vector<std::string>& names = family.label_names();
  ProtoWriter metric;
  family.Visit([&](const internal::Series& s, const double* cells) {
    metric.Clear();
    for (size_t i = 0; i < names.size() && i < s.values.size(); ++i) {
      AppendLabel(metric, names[i], s.values[i]);
    }
    switch (type) {
      case internal::MetricType::kCounter:
        metric.Message(kMetricCounter, Scalar(cells[0]));
        break;
      case internal::MetricType::kGauge:
        metric.Message(kMetricGauge, Scalar(cells[0]));
        break;
      case internal::MetricType::kHistogram:
        metric.Message(kMetricHistogram,
                       Histogram(family.bounds(), cells, cells[s.layout().sum()]));
        break;
    }
    message.Message(kFamilyMetric, metric);
  });
  Finish(message, out);
}

void AppendProtobufForeignFamily(const prometheus::MetricFamily& family, std::string& out) {
  ProtoType type = kUntyped;
  switch (family.type) {
    case prometheus::MetricType::Counter:
      type = kCounter;
      break;
    case prometheus::MetricType::Gauge:
      type = kGauge;
      break;
    case prometheus::MetricType::Summary:
      type = kSummary;
      break;
    case prometheus::MetricType::Histogram:
      type = kHistogram;
      break;
    default:
      break;
  }
  ProtoWriter message = Header(family.name, family.help, type);
  const absl::string_view reserved = type == kHistogram ? "le" : type == kSummary ? "quantile" : "";
  ProtoWriter metric;
  for (const prometheus::ClientMetric& m : family.metric) {
    metric.Clear();
    for (const prometheus::ClientMetric::Label& l : m.label) {
      if (!internal::IsValidLabelName(l.name) || l.name == reserved) continue;
      AppendLabel(metric, l.name, l.value);
    }
    switch (type) {
      case kCounter:
        metric.Message(kMetricCounter, Scalar(m.counter.value));
        break;
      case kGauge:
        metric.Message(kMetricGauge, Scalar(m.gauge.value));
        break;
      case kUntyped:
        metric.Message(kMetricUntyped, Scalar(m.untyped.value));
        break;
      case kSummary: {
        ProtoWriter summary, quantile;
        summary.Varint(kSummaryCount, m.summary.sample_count);
        summary.Double(kSummarySum, m.summary.sample_sum);
        for (const auto& q : m.summary.quantile) {
          quantile.Clear();
          quantile.Double(kQuantile, q.quantile);
          quantile.Double(kQuantileValue, q.value);
          summary.Message(kSummaryQuantile, quantile);
        }
        metric.Message(kMetricSummary, summary);
        break;
      }
      case kHistogram: {
        ProtoWriter h, bucket;
        for (const auto& b : m.histogram.bucket) {
          if (std::isinf(b.upper_bound)) continue;  // +Inf is the count
          bucket.Clear();
          bucket.Varint(kBucketCount, b.cumulative_count);
          bucket.Double(kBucketBound, b.upper_bound);
          h.Message(kHistBucket, bucket);
        }
        h.Varint(kHistCount, m.histogram.sample_count);
        h.Double(kHistSum, m.histogram.sample_sum);
        metric.Message(kMetricHistogram, h);
        break;
      }
    }
    message.Message(kFamilyMetric, metric);
  }
  Finish(message, out);
}

}  // namespace exporters
}  // namespace vitals
