#include "exporters/pushgateway_exporter.h"

#include <curl/curl.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/core/family_spec.h"

namespace vitals {
namespace exporters {
namespace {

// Agents alive with a pusher, for the process-exit hook. Leaked on purpose: the hook may run
// after static destructors have started.
internal::Mutex* const g_live_mu = new internal::Mutex();
std::set<PushgatewayExporter*>* const g_live ABSL_PT_GUARDED_BY(*g_live_mu) =
    new std::set<PushgatewayExporter*>();

void PushAllAtExit() {
  std::set<PushgatewayExporter*> live;
  {
    internal::MutexLock lock(g_live_mu);
    live = *g_live;
  }
  for (PushgatewayExporter* p : live) p->Stop();
}

void EnsureExitHook() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    std::atexit(&PushAllAtExit);
  });
}

size_t Collect(char* data, size_t size, size_t nmemb, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() < 4096) s->append(data, std::min<size_t>(size * nmemb, 4096 - s->size()));
  return size * nmemb;
}

void AppendSegment(std::string& path, absl::string_view value) {
  if (value.empty() || absl::StrContains(value, '/')) {
    // The Pushgateway's encoding for values a path segment cannot hold.
    absl::StrAppend(&path, "@base64/", value.empty() ? "=" : absl::WebSafeBase64Escape(value));
    return;
  }
  char* escaped = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
  absl::StrAppend(&path, "/", escaped != nullptr ? escaped : "");
  curl_free(escaped);
}

}  // namespace

std::string PushgatewayPath(absl::string_view job,
                            const std::map<std::string, std::string>& grouping) {
  std::string path = "/metrics/job";
  AppendSegment(path, job);
  for (const auto& [k, v] : grouping) {
    absl::StrAppend(&path, "/", k);
    AppendSegment(path, v);
  }
  return path;
}

absl::StatusOr<std::unique_ptr<PushgatewayExporter>> PushgatewayExporter::Create(
    internal::Registry& registry, const Options& options, internal::RateLimitedLog* log,
    std::function<void()> before_push) {
  std::unique_ptr<PushgatewayExporter> p(
      new PushgatewayExporter(registry, options, log, std::move(before_push)));
  internal::Family* failures = nullptr;
  internal::Family* pushes = nullptr;
  absl::Status s = internal::CreateFamilies(
      registry, {
                    {&failures, "vitals_push_failures_total",
                     "Pushes to the Pushgateway that failed (unreachable, timed out or refused).",
                     internal::MetricType::kCounter},
                    {&pushes, "vitals_pushes_total", "Pushes to the Pushgateway that succeeded.",
                     internal::MetricType::kCounter},
                });
  if (!s.ok()) return s;
  p->failures_ = internal::Family::MakeHandle<Counter>(failures->Find({}));
  p->pushes_ = internal::Family::MakeHandle<Counter>(pushes->Find({}));
  internal::MutexLock lock(g_live_mu);
  g_live->insert(p.get());
  return p;
}

PushgatewayExporter::PushgatewayExporter(internal::Registry& registry, const Options& options,
                                         internal::RateLimitedLog* log,
                                         std::function<void()> before_push)
    : registry_(registry),
      log_(log),
      before_push_(std::move(before_push)),
      format_(log),
      interval_(options.push_interval),
      timeout_(options.push_timeout),
      delete_on_stop_(options.push_delete_on_stop),
      failure_log_(log, &Clock::Steady(), absl::Minutes(1)) {
  EnsureExitHook();
  url_ = std::string(absl::StripSuffix(options.pushgateway_url, "/")) +
         PushgatewayPath(options.job, options.push_grouping);
}

PushgatewayExporter::~PushgatewayExporter() {
  {
    internal::MutexLock lock(g_live_mu);
    g_live->erase(this);
  }
  Stop();
}

void PushgatewayExporter::Start() {
  {
    internal::MutexLock lock(&run_mu_);
    final_pushed_ = false;
  }
  if (interval_ <= absl::ZeroDuration()) return;
  absl::Status s = thread_.Start(interval_, [this] {
    try {
      PushNow().IgnoreError();  // failures are counted and logged
    } catch (const std::exception& e) {
      log_->Log(LogSeverity::kError, absl::StrCat("push failed: ", e.what()));
    }
  });
  if (absl::IsResourceExhausted(s)) {
    log_->Log(LogSeverity::kError, absl::StrCat("cannot start the push thread (", s.message(),
                                                "); pushes happen only on demand and at shutdown"));
  }
}

void PushgatewayExporter::Stop() {
  thread_.Stop();
  {
    internal::MutexLock lock(&run_mu_);
    if (final_pushed_) return;
    final_pushed_ = true;
  }
  PushNow().IgnoreError();  // a failure is counted and logged
  if (delete_on_stop_) {
    if (absl::Status s = Send("DELETE", ""); !s.ok()) Failed(s);
  }
}

absl::Status PushgatewayExporter::PushNow() {
  if (before_push_) before_push_();
  std::string body;
  format_.Render(registry_, body);
  absl::Status s = Send("PUT", body);
  if (s.ok()) {
    pushes_.Increment();
  } else {
    Failed(s);
  }
  return s;
}

absl::Status PushgatewayExporter::Send(const char* method, const std::string& body) {
  internal::MutexLock lock(&push_mu_);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("libcurl could not start a request");
  std::string answer;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: text/plain; version=0.0.4");
  const long timeout_ms = static_cast<long>(absl::ToInt64Milliseconds(timeout_));
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in the host; safe with threads
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (std::string(method) != "DELETE") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", url_, ": ", curl_easy_strerror(rc),
                     rc == CURLE_OPERATION_TIMEDOUT
                         ? absl::StrCat(" (push_timeout ", absl::FormatDuration(timeout_), ")")
                         : ""));
  }
  if (status < 200 || status >= 300) {
    return absl::FailedPreconditionError(absl::StrCat(method, " ", url_, ": HTTP ", status, ": ",
                                                      absl::StripAsciiWhitespace(answer)));
  }
  return absl::OkStatus();
}

void PushgatewayExporter::Failed(const absl::Status& status) {
  failures_.Increment();
  failure_log_.Log("", LogSeverity::kWarning,
                   absl::StrCat("push to the Pushgateway failed: ", status.message()));
}

}  // namespace exporters
}  // namespace vitals
