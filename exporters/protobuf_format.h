// exporters/protobuf_format.h: the Prometheus protobuf exposition format: a stream of
// io.prometheus.client.MetricFamily messages, each preceded by its length as a varint
// ("encoding=delimited"), as client_golang serves it to a Prometheus that asks for it first
// (Prometheus does when native histograms are enabled). The messages follow client_model's
// metrics.proto: counters, gauges and untyped values as doubles, histograms with their
// cumulative buckets (finite bounds; the count stands for +Inf), sum and count; prometheus-cpp
// collectables' summaries with their quantiles. Label values are written as the text format
// reads them back: repaired to valid UTF-8 and bounded, not escaped (protobuf needs no escaping).
//
// Thread-safety: as TextFormat::Render (reads the registry lock-free). Cost: about that of the
// text format; numbers are written as fixed 8-byte doubles, no formatting.

#ifndef VITALS_EXPORTERS_PROTOBUF_FORMAT_H_
#define VITALS_EXPORTERS_PROTOBUF_FORMAT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/core/registry.h"

namespace prometheus {
struct MetricFamily;
}  // namespace prometheus

namespace vitals {
namespace exporters {

inline constexpr absl::string_view kProtobufContentType =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
    "encoding=delimited";

// Appends one delimited MetricFamily message for a vitals family. `buffers` and `native_cells`
// are reused scratch (see TextFormat::RenderBuffers).
// `constant_labels` (the registry's) go first on every metric, unless the family identifies
// the target (Family::identity).
void AppendProtobufFamily(
    internal::Family& family, std::string& out, internal::Family::VisitBuffers& buffers,
    std::vector<double>& native_cells,
    const std::vector<std::pair<std::string, std::string>>& constant_labels = {});

// Appends one for a prometheus-cpp family (already checked for name clashes).
void AppendProtobufForeignFamily(const prometheus::MetricFamily& family, std::string& out);

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_PROTOBUF_FORMAT_H_
