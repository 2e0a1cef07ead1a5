#include "agent/upstream/upstream_metrics.h"

#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/core/family_spec.h"
#include "agent/core/names.h"
#include "agent/core/text_escape.h"

namespace vitals {
namespace internal {
namespace {

// The status code as label text, or empty for none (a negative status).
absl::string_view StatusText(int status, char (&buf)[16]) {
  if (status < 0) return {};
  auto r = std::to_chars(buf, buf + sizeof buf, status);
  return absl::string_view(buf, static_cast<size_t>(r.ptr - buf));
}
}  // namespace

absl::StatusOr<std::unique_ptr<UpstreamMetrics>> UpstreamMetrics::Create(
    Registry& registry, std::vector<double> buckets, const Clock* clock, size_t limit) {
  Family *duration = nullptr, *active = nullptr;
  absl::Status s = CreateFamilies(
      registry,
      {
          {&duration,
           "http_client_request_duration_seconds",
           "Duration of HTTP client requests to upstream services, by method, server address "
           "and port, status code and error type.",
           MetricType::kHistogram,
           {"http_request_method", "server_address", "server_port", "http_response_status_code",
            "error_type"},
           std::move(buckets)},
          {&active,
           "http_client_active_requests",
           "HTTP client requests to upstream services in flight right now.",
           MetricType::kGauge,
           {"http_request_method", "server_address", "server_port"}},
      });
  if (!s.ok()) return s;
  return std::unique_ptr<UpstreamMetrics>(new UpstreamMetrics(duration, active, clock, limit));
}

UpstreamMetrics::UpstreamMetrics(Family* duration, Family* active, const Clock* clock, size_t limit)
    : duration_(duration), active_(active), clock_(clock), table_(limit) {
  UpstreamEntry& overflow = table_.overflow();
  overflow.method = overflow.address = overflow.port = std::string(kOverflowLabelValue);
  overflow.label = "(other peers)";
  overflow.overflow = true;
  overflow.active = active_->overflow_series_unmarked();
}

UpstreamEntry* UpstreamMetrics::Find(absl::string_view method, absl::string_view address,
                                     int port) {
  char buf[16];
  const absl::string_view key[3] = {NormalizeMethod(method), address, StatusText(port, buf)};
  return table_.Find(
      key,
      [&] {
        auto entry = std::make_unique<UpstreamEntry>();
        entry->method = std::string(key[0]);
        entry->address = RepairUtf8(address, kMaxLabelValueBytes);
        entry->port = std::string(key[2]);
        entry->label = absl::StrCat(entry->method, " ", entry->address, ":", entry->port);
        entry->active = active_->Find(key);
        return entry;
      },
      [this] {
        duration_->NoteOverflow();
        active_->NoteOverflow();
        active_->overflow_series();  // marks it used, so it is emitted
      });
}

Series* UpstreamMetrics::SeriesFor(UpstreamEntry* entry, int status, absl::string_view error_type) {
  if (entry->overflow) return duration_->overflow_series();
  char buf[16];
  const absl::string_view values[5] = {entry->method, entry->address, entry->port,
                                       StatusText(status, buf), error_type};
  return duration_->Find(values);
}

void UpstreamMetrics::Record(UpstreamEntry* entry, int status, int64_t nanos) {
  Series* series = status >= 0 ? entry->by_status.Find(status) : nullptr;
  if (series == nullptr) {
    char buf[16];
    // OpenTelemetry: a client-side error status (>= 400) is also the call's error type.
    series = SeriesFor(entry, status, status >= 400 ? StatusText(status, buf) : "");
    if (!series->overflow && status >= 0) {
      internal::MutexLock lock(&mu_);
      entry->by_status.Remember(status, series);
    }
  }
  ObserveInto(*series, ObservedSeconds(nanos));
}

void UpstreamMetrics::RecordError(UpstreamEntry* entry, absl::string_view error_type,
                                  int64_t nanos) {
  error_type = ErrorTypeLabel(error_type);
  ObserveInto(*SeriesFor(entry, -1, error_type), ObservedSeconds(nanos));
}

}  // namespace internal
}  // namespace vitals
