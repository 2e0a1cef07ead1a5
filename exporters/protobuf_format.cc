#include "exporters/protobuf_format.h"

#include <cmath>

#include "agent/base/proto_writer.h"
#include "agent/core/names.h"
#include "agent/core/native_histogram.h"
#include "agent/core/text_escape.h"
#if VITALS_HAVE_PROMETHEUS_CPP
#include "prometheus/metric_family.h"
#endif

namespace vitals {
namespace exporters {
namespace {

using internal::ProtoAppender;

// client_model's MetricType.
enum ProtoType { kCounter = 0, kGauge = 1, kSummary = 2, kUntyped = 3, kHistogram = 4 };

// MetricFamily fields, Metric fields, and the value messages' fields.
constexpr uint32_t kFamilyName = 1, kFamilyHelp = 2, kFamilyType = 3, kFamilyMetric = 4;
constexpr uint32_t kMetricLabel = 1, kMetricGauge = 2, kMetricCounter = 3, kMetricSummary = 4,
                   kMetricUntyped = 5, kMetricHistogram = 7;
constexpr uint32_t kLabelName = 1, kLabelValue = 2;
constexpr uint32_t kValue = 1;  // Gauge.value, Counter.value, Untyped.value
constexpr uint32_t kHistCount = 1, kHistSum = 2, kHistBucket = 3, kHistSchema = 5,
                   kHistZeroThreshold = 6, kHistZeroCount = 7, kHistPositiveSpan = 12,
                   kHistPositiveDelta = 13;
constexpr uint32_t kSpanOffset = 1, kSpanLength = 2;
constexpr uint32_t kBucketCount = 1, kBucketBound = 2, kBucketExemplar = 3;
constexpr uint32_t kExemplarLabel = 1, kExemplarValue = 2, kExemplarTimestamp = 3;
constexpr uint32_t kTimestampSeconds = 1, kTimestampNanos = 2;
constexpr uint32_t kSummaryCount = 1, kSummarySum = 2, kSummaryQuantile = 3;
constexpr uint32_t kQuantile = 1, kQuantileValue = 2;

// A label value as the text format would read back: valid UTF-8, bounded.
void AppendLabel(ProtoAppender& w, absl::string_view name, absl::string_view value) {
  const size_t label = w.Begin(kMetricLabel);
  w.Bytes(kLabelName, name);
  if (internal::IsValidUtf8(value) && value.size() <= internal::kMaxLabelValueBytes) {
    w.Bytes(kLabelValue, value);
  } else {
    w.Bytes(kLabelValue, internal::RepairUtf8(value, internal::kMaxLabelValueBytes));
  }
  w.End(label);
}

// Opens the family's message (End() it after its metrics).
size_t BeginFamily(ProtoAppender& w, absl::string_view name, absl::string_view help,
                   ProtoType type) {
  const size_t family = w.BeginDelimited();
  w.Bytes(kFamilyName, name);
  if (internal::IsValidUtf8(help) && help.size() <= internal::kMaxHelpBytes) {
    w.Bytes(kFamilyHelp, help);
  } else {
    w.Bytes(kFamilyHelp, internal::RepairUtf8(help, internal::kMaxHelpBytes));
  }
  w.Varint(kFamilyType, type);
  return family;
}

// A Gauge, Counter or Untyped message as field `field` of a Metric.
void AppendScalar(ProtoAppender& w, uint32_t field, double value) {
  const size_t m = w.Begin(field);
  w.Double(kValue, value);
  w.End(m);
}

// An Exemplar message as field kBucketExemplar of a Bucket.
void AppendExemplar(ProtoAppender& w, const internal::Exemplar& e, int64_t unix_offset_nanos) {
  const size_t x = w.Begin(kBucketExemplar);
  const internal::TraceHex hex(e.trace);
  {
    const size_t label = w.Begin(kExemplarLabel);
    w.Bytes(kLabelName, "trace_id");
    w.Bytes(kLabelValue, hex.trace_id());
    w.End(label);
  }
  if (e.trace.span_id != 0) {
    const size_t label = w.Begin(kExemplarLabel);
    w.Bytes(kLabelName, "span_id");
    w.Bytes(kLabelValue, hex.span_id());
    w.End(label);
  }
  w.Double(kExemplarValue, e.value);
  const int64_t unix_nanos = e.clock_nanos + unix_offset_nanos;
  const size_t ts = w.Begin(kExemplarTimestamp);
  w.Varint(kTimestampSeconds, static_cast<uint64_t>(unix_nanos / 1'000'000'000));
  w.Varint(kTimestampNanos, static_cast<uint64_t>(unix_nanos % 1'000'000'000));
  w.End(ts);
  w.End(x);
}

// A Bucket message, with its exemplar when `e` is not null.
void AppendBucket(ProtoAppender& w, uint64_t cumulative, double bound,
                  const internal::Exemplar* e = nullptr, int64_t unix_offset_nanos = 0) {
  const size_t b = w.Begin(kHistBucket);
  w.Varint(kBucketCount, cumulative);
  w.Double(kBucketBound, bound);
  if (e != nullptr) AppendExemplar(w, *e, unix_offset_nanos);
  w.End(b);
}

// The native part of a Histogram: schema, zero bucket, and the non-empty buckets as spans of
// consecutive indices and the deltas between neighbouring counts.
void AppendNative(ProtoAppender& w, const internal::NativeBuckets& n) {
  w.SInt(kHistSchema, n.schema);
  w.Double(kHistZeroThreshold, n.zero_threshold);
  w.Varint(kHistZeroCount, static_cast<uint64_t>(n.zero_count));
  // Spans: the first offset is the first index; each later one the gap since the last span.
  size_t i = 0;
  int32_t next_index = 0;  // one past the previous span's last index
  while (i < n.buckets.size()) {
    size_t j = i + 1;
    while (j < n.buckets.size() && n.buckets[j].first == n.buckets[j - 1].first + 1) ++j;
    const size_t span = w.Begin(kHistPositiveSpan);
    w.SInt(kSpanOffset, i == 0 ? n.buckets[i].first : n.buckets[i].first - next_index);
    w.Varint(kSpanLength, j - i);
    w.End(span);
    next_index = n.buckets[j - 1].first + 1;
    i = j;
  }
  int64_t previous = 0;
  for (const auto& [index, count] : n.buckets) {
    const int64_t c = static_cast<int64_t>(count);
    w.SInt(kHistPositiveDelta, c - previous);
    previous = c;
  }
}

// A histogram series: classic buckets (finite bounds, then +Inf) with their exemplars, the sum
// and count, and the native buckets when the family keeps them.
void AppendHistogram(ProtoAppender& w, const internal::Series& s, const double* buckets,
                     int64_t unix_offset_nanos, std::vector<double>& native_cells) {
  const internal::Family& family = *s.family;
  const std::vector<double>& bounds = family.bounds();
  const bool exemplars = family.keeps_exemplars();
  const size_t h = w.Begin(kMetricHistogram);
  double cumulative = 0;
  internal::Exemplar e;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets[i];
    const bool has = exemplars && internal::Family::ReadExemplar(&s, static_cast<uint32_t>(i), e);
    AppendBucket(w, static_cast<uint64_t>(cumulative), bounds[i], has ? &e : nullptr,
                 unix_offset_nanos);
  }
  cumulative += buckets[bounds.size()];  // +Inf: the count stands for it...
  if (exemplars && internal::Family::ReadExemplar(&s, static_cast<uint32_t>(bounds.size()), e)) {
    // ...unless it has an exemplar to carry, as client_golang does.
    AppendBucket(w, static_cast<uint64_t>(cumulative), HUGE_VAL, &e, unix_offset_nanos);
  }
  w.Varint(kHistCount, static_cast<uint64_t>(cumulative));
  w.Double(kHistSum, buckets[s.layout().sum()]);
  if (const internal::NativeLayout* layout = family.native_layout(); layout != nullptr) {
    native_cells.resize(layout->cells());
    internal::Family::ReadNative(&s, native_cells.data());
    AppendNative(w, internal::ReadNativeBuckets(*layout, native_cells.data()));
  }
  w.End(h);
}

}  // namespace

void AppendProtobufFamily(internal::Family& family, std::string& out,
                          internal::Family::VisitBuffers& buffers,
                          std::vector<double>& native_cells,
                          const std::vector<std::pair<std::string, std::string>>& constant_labels) {
  const bool constants = !family.identity();
  const internal::MetricType type = family.type();
  ProtoAppender w(out);
  const size_t message = BeginFamily(w, family.name(), family.help(),
                                     type == internal::MetricType::kCounter     ? kCounter
                                     : type == internal::MetricType::kHistogram ? kHistogram
                                                                                : kGauge);
  const std::vector<std::string>& names = family.label_names();
  const int64_t unix_offset =
      family.keeps_exemplars() ? internal::UnixOffsetNanos(family.clock()) : 0;
  family.Visit(
      [&](const internal::Series& s, const double* cells) {
        const size_t metric = w.Begin(kFamilyMetric);
        if (constants) {
          for (const auto& [name, value] : constant_labels) AppendLabel(w, name, value);
        }
        for (size_t i = 0; i < names.size() && i < s.values.size(); ++i) {
          AppendLabel(w, names[i], s.values[i]);
        }
        switch (type) {
          case internal::MetricType::kCounter:
            AppendScalar(w, kMetricCounter, cells[0]);
            break;
          case internal::MetricType::kGauge:
          case internal::MetricType::kInfo:
            AppendScalar(w, kMetricGauge, cells[0]);
            break;
          case internal::MetricType::kHistogram:
            AppendHistogram(w, s, cells, unix_offset, native_cells);
            break;
        }
        w.End(metric);
      },
      buffers);
  w.End(message);
}

#if VITALS_HAVE_PROMETHEUS_CPP
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
  ProtoAppender w(out);
  const size_t message = BeginFamily(w, family.name, family.help, type);
  const absl::string_view reserved = type == kHistogram ? "le" : type == kSummary ? "quantile" : "";
  for (const prometheus::ClientMetric& m : family.metric) {
    const size_t metric = w.Begin(kFamilyMetric);
    for (const prometheus::ClientMetric::Label& l : m.label) {
      if (!internal::IsValidLabelName(l.name) || l.name == reserved) continue;
      AppendLabel(w, l.name, l.value);
    }
    switch (type) {
      case kCounter:
        AppendScalar(w, kMetricCounter, m.counter.value);
        break;
      case kGauge:
        AppendScalar(w, kMetricGauge, m.gauge.value);
        break;
      case kUntyped:
        AppendScalar(w, kMetricUntyped, m.untyped.value);
        break;
      case kSummary: {
        const size_t summary = w.Begin(kMetricSummary);
        w.Varint(kSummaryCount, m.summary.sample_count);
        w.Double(kSummarySum, m.summary.sample_sum);
        for (const auto& q : m.summary.quantile) {
          const size_t quantile = w.Begin(kSummaryQuantile);
          w.Double(kQuantile, q.quantile);
          w.Double(kQuantileValue, q.value);
          w.End(quantile);
        }
        w.End(summary);
        break;
      }
      case kHistogram: {
        const size_t h = w.Begin(kMetricHistogram);
        for (const auto& b : m.histogram.bucket) {
          if (std::isinf(b.upper_bound)) continue;  // +Inf is the count
          AppendBucket(w, b.cumulative_count, b.upper_bound);
        }
        w.Varint(kHistCount, m.histogram.sample_count);
        w.Double(kHistSum, m.histogram.sample_sum);
        w.End(h);
        break;
      }
    }
    w.End(metric);
  }
  w.End(message);
}
#endif  // VITALS_HAVE_PROMETHEUS_CPP

}  // namespace exporters
}  // namespace vitals
