#include "exporters/prometheus_exporter.h"

#include "absl/strings/str_cat.h"
#include "agent/base/gzip.h"
#include "agent/core/family_spec.h"
#include "agent/http/basic_auth.h"
#include "exporters/protobuf_format.h"

namespace vitals {
namespace exporters {

PrometheusExporter::PrometheusExporter(internal::Registry& registry, internal::RateLimitedLog* log,
                                       const Clock* clock, bool gzip, std::string basic_auth)
    : registry_(registry),
      clock_(clock),
      format_(log),
      gzip_(gzip),
      basic_auth_(std::move(basic_auth)) {
  internal::Family* family = nullptr;
  absl::Status s = internal::CreateFamilies(
      registry_, {{&family,
                   "vitals_scrape_duration_seconds",
                   "Time the agent spent producing the /metrics body (not sending it).",
                   internal::MetricType::kHistogram,
                   {},
                   {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}}});
  // Only a name clash with a user's family can fail this: the scrape is then not timed.
  if (s.ok()) scrape_duration_ = internal::Family::MakeHandle<Histogram>(family->Find({}));
}

void PrometheusExporter::Render(std::string& out, ExpositionFormat format) {
  out.clear();
  const int64_t start = clock_->NowNanos();
  std::unique_ptr<TextFormat::RenderBuffers> scratch = scratch_.Take();
  format_.Render(registry_, out, format, *scratch);
  scratch_.Give(std::move(scratch));
  scrape_duration_.Observe(internal::ObservedSeconds(clock_->NowNanos() - start));
}

std::shared_ptr<std::string> PrometheusExporter::TakeBuffer() {
  return std::shared_ptr<std::string>(bodies_.Take().release(), [this](std::string* b) {
    bodies_.Give(std::unique_ptr<std::string>(b));
  });
}

void PrometheusExporter::HandleMetrics(const http::HttpRequest& req, http::HttpResponse& resp) {
  if (!http::CheckBasicAuth(req, basic_auth_, "vitals metrics", resp)) return;
  std::shared_ptr<std::string> body = TakeBuffer();
  const ExpositionFormat format = NegotiateFormat(req.header("Accept"));
  Render(*body, format);
  resp.content_type =
      std::string(format == ExpositionFormat::kProtobuf      ? kProtobufContentType
                  : format == ExpositionFormat::kOpenMetrics ? kOpenMetricsContentType
                                                             : kTextContentType);
  if (gzip_ && internal::AcceptsGzip(req.header("Accept-Encoding"))) {
    std::shared_ptr<std::string> zipped = TakeBuffer();
    if (internal::GzipCompress(*body, *zipped)) {
      resp.headers.emplace_back("Content-Encoding", "gzip");
      resp.body_view = *zipped;
      resp.done = [zipped] {};
      return;
    }
  }
  resp.body_view = *body;
  resp.done = [body] {};
}

http::HttpRoute PrometheusExporter::Route() {
  return http::HttpRoute{
      "/metrics",
      "every metric: Prometheus text format 0.0.4, or OpenMetrics 1.0 or the protobuf "
      "format when the Accept header asks for them (gzip on request)",
      [this](const http::HttpRequest& q, http::HttpResponse& r) { HandleMetrics(q, r); }};
}

}  // namespace exporters
}  // namespace vitals
