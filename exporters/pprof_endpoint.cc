#include "exporters/pprof_endpoint.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/procfs.h"
#include "agent/http/basic_auth.h"

namespace vitals {
namespace exporters {
namespace {

// The value of `name` in a query string ("a=1&seconds=5"), if present.
bool QueryParam(absl::string_view query, absl::string_view name, std::string* value) {
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.first == name) {
      *value = std::string(kv.second);
      return true;
    }
  }
  return false;
}

constexpr char kOctetStream[] = "application/octet-stream";

}  // namespace

PprofEndpoint::PprofEndpoint(const Options& options, ProfileSource* source)
    : enabled_(options.profiling),
      basic_auth_(options.profiling_basic_auth),
      proc_root_(options.proc_root),
      source_(source) {}

int PprofEndpoint::HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kFailedPrecondition:
      return 501;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
      return 503;
    default:
      return 500;
  }
}

bool PprofEndpoint::Admit(const http::HttpRequest& req, http::HttpResponse& resp) const {
  if (!enabled_) {
    http::HttpFail(resp, 404,
                   "profiling is off; start the service with VITALS_PROFILING=1 (or set "
                   "Options::profiling) to serve /debug/pprof");
    return false;
  }
  if (basic_auth_.empty()) {
    if (req.from_loopback) return true;
    http::HttpFail(resp, 403,
                   "profiling answers only loopback clients unless credentials are configured "
                   "(VITALS_PROFILING_BASIC_AUTH=user:password)");
    return false;
  }
  return http::CheckBasicAuth(req, basic_auth_, "vitals profiling", resp);
}

std::vector<http::HttpRoute> PprofEndpoint::Routes() {
  auto route = [this](std::string path, std::string description,
                      void (PprofEndpoint::*method)(const http::HttpRequest&, http::HttpResponse&),
                      http::HttpLane lane = http::HttpLane::kScrape, size_t max_body = 0) {
    return http::HttpRoute{std::move(path), std::move(description),
                           [this, method](const http::HttpRequest& req, http::HttpResponse& resp) {
                             if (Admit(req, resp)) (this->*method)(req, resp);
                           },
                           lane, max_body};
  };
  std::vector<http::HttpRoute> routes;
  routes.push_back(route("/debug/pprof/", "profiling index (pprof)", &PprofEndpoint::Index));
  routes.push_back(route("/debug/pprof", "", &PprofEndpoint::Index));
  routes.push_back(route("/debug/pprof/profile", "CPU profile: ?seconds=N (pprof)",
                         &PprofEndpoint::Profile, http::HttpLane::kSlow));
  routes.push_back(route("/debug/pprof/heap", "tcmalloc heap sample (pprof)", &PprofEndpoint::Heap,
                         http::HttpLane::kSlow));
  routes.push_back(route("/debug/pprof/growth", "tcmalloc heap growth stacks (pprof)",
                         &PprofEndpoint::Growth, http::HttpLane::kSlow));
  routes.push_back(route("/debug/pprof/symbol", "symbol lookup for pprof", &PprofEndpoint::Symbol,
                         http::HttpLane::kSlow, kMaxSymbolBody));
  routes.push_back(route("/debug/pprof/cmdline", "the command line", &PprofEndpoint::Cmdline));
  return routes;
}

void PprofEndpoint::Index(const http::HttpRequest&, http::HttpResponse& resp) {
  resp.body = absl::StrCat(
      "vitals profiling (gperftools), for the pprof client:\n\n"
      "  /debug/pprof/profile?seconds=N  CPU profile over N seconds (default 30, at most ",
      absl::ToInt64Seconds(source_->max_cpu_profile()),
      ")\n"
      "  /debug/pprof/heap               live heap sample (tcmalloc with "
      "TCMALLOC_SAMPLE_PARAMETER set)\n"
      "  /debug/pprof/growth             where the heap grew (tcmalloc)\n"
      "  /debug/pprof/symbol             symbol lookup (used by pprof)\n"
      "  /debug/pprof/cmdline            the command line\n\n"
      "Examples (no local copy of the binary needed):\n"
      "  google-pprof --text --seconds=10 http://HOST:PORT/debug/pprof/profile\n"
      "  google-pprof --text http://HOST:PORT/debug/pprof/heap\n"
      "One CPU profile runs at a time; a second request gets 409.\n");
}

void PprofEndpoint::Profile(const http::HttpRequest& req, http::HttpResponse& resp) {
  int64_t seconds = 30;
  std::string value;
  if (QueryParam(req.query, "seconds", &value) &&
      (!absl::SimpleAtoi(value, &seconds) || seconds <= 0)) {
    http::HttpFail(resp, 400,
                   absl::StrCat("seconds=\"", value.substr(0, 40), "\" is not a whole number > 0"));
    return;
  }
  if (absl::Seconds(seconds) > source_->max_cpu_profile()) {
    http::HttpFail(resp, 400,
                   absl::StrCat("seconds=", seconds, " is over the limit of ",
                                absl::ToInt64Seconds(source_->max_cpu_profile()),
                                " (VITALS_PROFILE_MAX_DURATION)"));
    return;
  }
  ServeProfile(
      source_->CpuProfile(absl::Seconds(seconds), [&req] { return req.cancel.cancelled(); }), resp);
  if (resp.status == 200) {
    resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"profile\"");
  }
}

void PprofEndpoint::Heap(const http::HttpRequest&, http::HttpResponse& resp) {
  ServeProfile(source_->HeapProfile(), resp);
}

void PprofEndpoint::Growth(const http::HttpRequest&, http::HttpResponse& resp) {
  ServeProfile(source_->HeapGrowth(), resp);
}

void PprofEndpoint::ServeProfile(absl::StatusOr<std::string> profile, http::HttpResponse& resp) {
  if (!profile.ok()) {
    http::HttpFail(resp, HttpStatusFor(profile.status()), profile.status().message());
    return;
  }
  resp.content_type = kOctetStream;
  resp.body = *std::move(profile);
}

void PprofEndpoint::Symbol(const http::HttpRequest& req, http::HttpResponse& resp) {
  if (req.method != "POST") {
    resp.body = "num_symbols: 1\n";  // "this process can name addresses"
    return;
  }
  auto symbols = source_->Symbolize(req.body, [&req] { return req.cancel.cancelled(); });
  if (!symbols.ok()) {
    http::HttpFail(resp, HttpStatusFor(symbols.status()), symbols.status().message());
    return;
  }
  resp.body = *std::move(symbols);
}

void PprofEndpoint::Cmdline(const http::HttpRequest&, http::HttpResponse& resp) {
  auto cmdline = internal::Procfs::ReadPath(proc_root_ + "/self/cmdline");
  if (!cmdline.ok()) {
    http::HttpFail(resp, 500, cmdline.status().message());
    return;
  }
  // /proc ends every argument with a NUL; Go's net/http/pprof joins them with NULs and ends with
  // none, and pprof clients take the program name up to the first NUL that is followed by more.
  std::string text = *std::move(cmdline);
  if (!text.empty() && text.back() == '\0') text.pop_back();
  resp.body = std::move(text);
}

}  // namespace exporters
}  // namespace vitals
