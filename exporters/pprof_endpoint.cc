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
#include "agent/gperftools.h"
#include "agent/procfs.h"

namespace vitals {
namespace exporters {
namespace {

void Fail(HttpResponse& resp, int status, absl::string_view reason) {
  resp.status = status;
  resp.content_type = "text/plain; charset=utf-8";
  resp.body = absl::StrCat(status, " ", HttpReason(status), ": ", reason, "\n");
}

// Compares without an early exit, so timing does not reveal how much of a guess was right.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  size_t diff = a.size() ^ b.size();
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char ca = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char cb = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= ca ^ cb;
  }
  return diff == 0;
}

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

PprofEndpoint::PprofEndpoint(const Options& options, internal::Profiler* profiler)
    : enabled_(options.profiling),
      basic_auth_(options.profiling_basic_auth),
      proc_root_(options.proc_root),
      profiler_(profiler) {}

int PprofEndpoint::HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kAlreadyExists:
      return 409;
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

bool PprofEndpoint::Admit(const HttpRequest& req, HttpResponse& resp) const {
  if (!enabled_) {
    Fail(resp, 404,
         "profiling is off; start the service with VITALS_PROFILING=1 (or set "
         "Options::profiling) to serve /debug/pprof");
    return false;
  }
  if (basic_auth_.empty()) {
    if (req.from_loopback) return true;
    Fail(resp, 403,
         "profiling answers only loopback clients unless credentials are configured "
         "(VITALS_PROFILING_BASIC_AUTH=user:password)");
    return false;
  }
  const std::string header = req.header("Authorization");
  absl::string_view auth = absl::StripAsciiWhitespace(header);
  std::string decoded;
  if (absl::ConsumePrefix(&auth, "Basic ") &&
      absl::Base64Unescape(absl::StripAsciiWhitespace(auth), &decoded) &&
      ConstantTimeEquals(decoded, basic_auth_)) {
    return true;
  }
  Fail(resp, 401, "profiling needs the configured basic-auth credentials");
  resp.headers.emplace_back("WWW-Authenticate", "Basic realm=\"vitals profiling\"");
  return false;
}

std::vector<HttpRoute> PprofEndpoint::Routes() {
  auto route = [this](std::string path, std::string description,
                      void (PprofEndpoint::*method)(const HttpRequest&, HttpResponse&)) {
    return HttpRoute{std::move(path), std::move(description),
                     [this, method](const HttpRequest& req, HttpResponse& resp) {
                       if (Admit(req, resp)) (this->*method)(req, resp);
                     }};
  };
  std::vector<HttpRoute> routes;
  routes.push_back(route("/debug/pprof/", "profiling index (pprof)", &PprofEndpoint::Index));
  routes.push_back(route("/debug/pprof", "", &PprofEndpoint::Index));
  routes.push_back(
      route("/debug/pprof/profile", "CPU profile: ?seconds=N (pprof)", &PprofEndpoint::Profile));
  routes.push_back(
      route("/debug/pprof/heap", "tcmalloc heap sample (pprof)", &PprofEndpoint::Heap));
  routes.push_back(
      route("/debug/pprof/growth", "tcmalloc heap growth stacks (pprof)", &PprofEndpoint::Growth));
  routes.push_back(route("/debug/pprof/symbol", "symbol lookup for pprof", &PprofEndpoint::Symbol));
  routes.push_back(route("/debug/pprof/cmdline", "the command line", &PprofEndpoint::Cmdline));
  return routes;
}

void PprofEndpoint::Index(const HttpRequest&, HttpResponse& resp) {
  resp.body = absl::StrCat(
      "vitals profiling (gperftools), for the pprof client:\n\n"
      "  /debug/pprof/profile?seconds=N  CPU profile over N seconds (default 30, at most ",
      absl::ToInt64Seconds(profiler_->max_duration()),
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

void PprofEndpoint::Profile(const HttpRequest& req, HttpResponse& resp) {
  int64_t seconds = 30;
  std::string value;
  if (QueryParam(req.query, "seconds", &value) &&
      (!absl::SimpleAtoi(value, &seconds) || seconds <= 0)) {
    Fail(resp, 400,
         absl::StrCat("seconds=\"", value.substr(0, 40), "\" is not a whole number > 0"));
    return;
  }
  if (absl::Seconds(seconds) > profiler_->max_duration()) {
    Fail(resp, 400,
         absl::StrCat("seconds=", seconds, " is over the limit of ",
                      absl::ToInt64Seconds(profiler_->max_duration()),
                      " (VITALS_PROFILE_MAX_DURATION)"));
    return;
  }
  ServeProfile(profiler_->CpuProfile(absl::Seconds(seconds), req.client_gone), resp);
  if (resp.status == 200) {
    resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"profile\"");
  }
}

void PprofEndpoint::Heap(const HttpRequest&, HttpResponse& resp) {
  ServeProfile(internal::TcmallocHeapSample(), resp);
}

void PprofEndpoint::Growth(const HttpRequest&, HttpResponse& resp) {
  ServeProfile(internal::TcmallocHeapGrowth(), resp);
}

void PprofEndpoint::ServeProfile(absl::StatusOr<std::string> profile, HttpResponse& resp) {
  if (!profile.ok()) {
    Fail(resp, HttpStatusFor(profile.status()), profile.status().message());
    return;
  }
  resp.content_type = kOctetStream;
  resp.body = *std::move(profile);
}

void PprofEndpoint::Symbol(const HttpRequest& req, HttpResponse& resp) {
  if (req.method != "POST") {
    resp.body = "num_symbols: 1\n";  // "this process can name addresses"
    return;
  }
  resp.body = internal::SymbolizeForPprof(req.body);
}

void PprofEndpoint::Cmdline(const HttpRequest&, HttpResponse& resp) {
  auto cmdline = internal::Procfs::ReadPath(proc_root_ + "/self/cmdline");
  if (!cmdline.ok()) {
    Fail(resp, 500, cmdline.status().message());
    return;
  }
  resp.body = *std::move(cmdline);
}

}  // namespace exporters
}  // namespace vitals
