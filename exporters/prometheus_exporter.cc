#include "exporters/prometheus_exporter.h"

#include "absl/strings/str_cat.h"
#include "agent/listen_address.h"
#include "exporters/gzip.h"

namespace vitals {
namespace exporters {

PrometheusExporter::PrometheusExporter(internal::Registry& registry, internal::RateLimitedLog* log,
                                       const Clock* clock)
    : registry_(registry), log_(log), clock_(clock), format_(log) {
  auto family =
      registry_.GetOrCreate("vitals_scrape_duration_seconds",
                            "Time the agent spent producing the /metrics body (not sending it).",
                            internal::MetricType::kHistogram, {},
                            {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
  if (family.ok()) {
    scrape_duration_ = internal::Family::MakeHandle<Histogram>((*family)->Find({}));
  }
}

void PrometheusExporter::Render(std::string& out) {
  out.clear();
  const int64_t start = clock_->NowNanos();
  format_.Render(registry_, out);
  scrape_duration_.Observe(static_cast<double>(clock_->NowNanos() - start) * 1e-9);
}

std::shared_ptr<std::string> PrometheusExporter::TakeBuffer() {
  std::unique_ptr<std::string> buffer;
  {
    internal::MutexLock lock(&pool_mu_);
    if (!pool_.empty()) {
      buffer = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  if (buffer == nullptr) buffer = std::make_unique<std::string>();
  return std::shared_ptr<std::string>(
      buffer.release(), [this](std::string* b) { ReturnBuffer(std::unique_ptr<std::string>(b)); });
}

void PrometheusExporter::ReturnBuffer(std::unique_ptr<std::string> buffer) {
  internal::MutexLock lock(&pool_mu_);
  if (pool_.size() < 4) pool_.push_back(std::move(buffer));
}

void PrometheusExporter::HandleMetrics(const HttpRequest& req, HttpResponse& resp) {
  std::shared_ptr<std::string> body = TakeBuffer();
  Render(*body);
  resp.content_type = std::string(kTextContentType);
  if (gzip_ && AcceptsGzip(req.header("Accept-Encoding"))) {
    std::shared_ptr<std::string> zipped = TakeBuffer();
    if (GzipCompress(*body, *zipped)) {
      resp.headers.emplace_back("Content-Encoding", "gzip");
      resp.body_view = *zipped;
      resp.done = [zipped] {};
      return;
    }
  }
  resp.body_view = *body;
  resp.done = [body] {};
}

void PrometheusExporter::HandleIndex(const HttpRequest&, HttpResponse& resp) {
  resp.content_type = "text/html; charset=utf-8";
  resp.body =
      "<!doctype html><html><head><title>vitals</title></head><body>\n"
      "<h1>vitals agent</h1>\n<ul>\n"
      "<li><a href=\"/metrics\">/metrics</a>: every metric, Prometheus text format 0.0.4 "
      "(gzip on request)</li>\n"
      "</ul>\n</body></html>\n";
}

absl::Status PrometheusExporter::Serve(const Options& options) {
  auto address = internal::ParseListenAddress(options.listen);
  if (!address.ok()) return address.status();
  internal::MutexLock lock(&server_mu_);
  if (server_ != nullptr) return absl::FailedPreconditionError("the agent is already serving");
  gzip_ = options.gzip;
  HttpServer::Config config;
  config.address = *address;
  config.threads = options.http_threads;
  config.request_timeout = options.http_request_timeout;
  config.log = log_;
  auto server = HttpServer::Start(
      config, {{"/metrics", [this](const HttpRequest& q, HttpResponse& r) { HandleMetrics(q, r); }},
               {"/", [this](const HttpRequest& q, HttpResponse& r) { HandleIndex(q, r); }}});
  if (!server.ok()) return server.status();
  server_ = std::move(*server);
  return absl::OkStatus();
}

void PrometheusExporter::StopServing() {
  std::unique_ptr<HttpServer> server;
  {
    internal::MutexLock lock(&server_mu_);
    server = std::move(server_);
  }
  if (server) server->Stop();
}

int PrometheusExporter::port() const {
  internal::MutexLock lock(&server_mu_);
  return server_ ? server_->port() : 0;
}

}  // namespace exporters
}  // namespace vitals
