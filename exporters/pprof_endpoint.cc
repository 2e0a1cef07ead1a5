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
#include "absl/time/time.h"
#include "agent/base/procfs.h"
#include "agent/base/web_escape.h"
#include "agent/http/basic_auth.h"

namespace vitals {
namespace exporters {
namespace {

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

bool PprofEndpoint::Allows(const http::HttpRequest& req) const {
  http::HttpResponse ignored;
  return Admit(req, ignored);
}

std::vector<http::HttpRoute> PprofEndpoint::Routes() {
  using Fn = std::function<void(const http::HttpRequest&, http::HttpResponse&)>;
  auto route = [this](std::string path, std::string description, Fn fn,
                      http::HttpLane lane = http::HttpLane::kScrape, size_t max_body = 0) {
    return http::HttpRoute{
        std::move(path), std::move(description),
        [this, fn = std::move(fn)](const http::HttpRequest& req, http::HttpResponse& resp) {
          if (Admit(req, resp)) fn(req, resp);
        },
        lane, max_body};
  };
  auto method = [this](void (PprofEndpoint::*m)(const http::HttpRequest&, http::HttpResponse&)) {
    return [this, m](const http::HttpRequest& req, http::HttpResponse& resp) {
      (this->*m)(req, resp);
    };
  };
  constexpr auto kSlow = http::HttpLane::kSlow;
  constexpr auto kPprof = ProfileFormat::kPprof;
  constexpr auto kLegacy = ProfileFormat::kGperftools;
  std::vector<http::HttpRoute> routes;
  routes.push_back(
      route("/debug/pprof/", "profiling index (pprof)", method(&PprofEndpoint::Index)));
  routes.push_back(route("/debug/pprof", "", method(&PprofEndpoint::Index)));
  routes.push_back(route(
      "/debug/pprof/profile", "CPU profile: ?seconds=N (gzipped profile.proto)",
      [this](const http::HttpRequest& req, http::HttpResponse& resp) {
        Profile(req, resp, kPprof);
      },
      kSlow));
  routes.push_back(route(
      "/debug/pprof/heap", "tcmalloc heap sample (gzipped profile.proto)",
      [this](const http::HttpRequest&, http::HttpResponse& resp) { Heap(resp, kPprof, "heap"); },
      kSlow));
  routes.push_back(route(
      "/debug/pprof/allocs", "",
      [this](const http::HttpRequest&, http::HttpResponse& resp) { Heap(resp, kPprof, "allocs"); },
      kSlow));
  routes.push_back(route(
      "/debug/pprof/growth", "tcmalloc heap growth stacks (gzipped profile.proto)",
      [this](const http::HttpRequest&, http::HttpResponse& resp) { Growth(resp, kPprof); }, kSlow));
  routes.push_back(route("/debug/pprof/symbol", "symbol lookup for pprof",
                         method(&PprofEndpoint::Symbol), kSlow, kMaxSymbolBody));
  routes.push_back(
      route("/debug/pprof/cmdline", "the command line", method(&PprofEndpoint::Cmdline)));
  routes.push_back(route("/debug/pprof/goroutine",
                         "every thread's stack: ?debug=2 text, else gzipped profile.proto",
                         method(&PprofEndpoint::Goroutine), kSlow));
  routes.push_back(route("/debug/pprof/mutex",
                         "absl::Mutex contention: ?seconds=N, ?debug=1 (gzipped profile.proto)",
                         method(&PprofEndpoint::Mutex), kSlow));
  routes.push_back(route("/debug/pprof/auto/", "automatic CPU profiles of slow-request bursts",
                         method(&PprofEndpoint::AutoIndexHtml)));
  routes.push_back(route("/debug/pprof/auto", "", method(&PprofEndpoint::AutoIndexHtml)));
  routes.push_back(
      route("/debug/pprof/auto/index.json", "", method(&PprofEndpoint::AutoIndexJson)));
  routes.push_back(
      route("/debug/pprof/auto/profile", "", method(&PprofEndpoint::AutoProfile), kSlow));
  // gperftools' formats, for google-pprof: it finds symbol and cmdline under the same prefix.
  routes.push_back(route("/debug/gperftools/pprof/",
                         "profiles in gperftools' formats (google-pprof)",
                         method(&PprofEndpoint::LegacyIndex)));
  routes.push_back(route(
      "/debug/gperftools/pprof/profile", "",
      [this](const http::HttpRequest& req, http::HttpResponse& resp) {
        Profile(req, resp, kLegacy);
      },
      kSlow));
  routes.push_back(route(
      "/debug/gperftools/pprof/heap", "",
      [this](const http::HttpRequest&, http::HttpResponse& resp) { Heap(resp, kLegacy, "heap"); },
      kSlow));
  routes.push_back(route(
      "/debug/gperftools/pprof/growth", "",
      [this](const http::HttpRequest&, http::HttpResponse& resp) { Growth(resp, kLegacy); },
      kSlow));
  routes.push_back(route("/debug/gperftools/pprof/symbol", "", method(&PprofEndpoint::Symbol),
                         kSlow, kMaxSymbolBody));
  routes.push_back(route("/debug/gperftools/pprof/cmdline", "", method(&PprofEndpoint::Cmdline)));
  return routes;
}

void PprofEndpoint::Index(const http::HttpRequest&, http::HttpResponse& resp) {
  resp.body = absl::StrCat(
      "vitals profiling, for the pprof client (go tool pprof, Pyroscope, Parca, Grafana Alloy).\n"
      "Profiles are gzipped profile.proto, symbolized in the process (no binary needed):\n\n"
      "  /debug/pprof/profile?seconds=N  CPU profile over N seconds (default 30, at most ",
      absl::ToInt64Seconds(source_->max_cpu_profile()),
      ")\n"
      "  /debug/pprof/heap               live heap sample (tcmalloc with "
      "TCMALLOC_SAMPLE_PARAMETER set)\n"
      "  /debug/pprof/allocs             the same heap sample (Go's path for it)\n"
      "  /debug/pprof/growth             where the heap grew (tcmalloc)\n"
      "  /debug/pprof/symbol             symbol lookup (used by pprof)\n"
      "  /debug/pprof/cmdline            the command line\n"
      "  /debug/pprof/goroutine          every thread's stack (?debug=2: readable text; "
      "?debug=1: identical stacks counted)\n"
      "  /debug/pprof/mutex              absl::Mutex contention (?seconds=N: over the next N "
      "seconds; VITALS_MUTEX_PROFILE_FRACTION turns it on)\n"
      "  /debug/pprof/auto/              CPU profiles captured when slow requests burst (",
      source_->auto_profiles_enabled() ? "on" : "off; VITALS_AUTO_PROFILE=1",
      ")\n"
      "  /debug/gperftools/pprof/        the same in gperftools' formats, for google-pprof\n\n"
      "Examples:\n"
      "  go tool pprof -top -seconds=10 http://HOST:PORT/debug/pprof/profile\n"
      "  go tool pprof -http=: http://HOST:PORT/debug/pprof/heap\n"
      "  google-pprof --text http://HOST:PORT/debug/gperftools/pprof/profile\n"
      "One CPU profile runs at a time; a second request gets 409.\n");
}

void PprofEndpoint::LegacyIndex(const http::HttpRequest&, http::HttpResponse& resp) {
  resp.body =
      "vitals profiling in gperftools' formats, for google-pprof:\n\n"
      "  /debug/gperftools/pprof/profile?seconds=N  CPU profile (gperftools binary format)\n"
      "  /debug/gperftools/pprof/heap               heap sample (\"heap profile:\" text)\n"
      "  /debug/gperftools/pprof/growth             heap growth stacks (text)\n"
      "  /debug/gperftools/pprof/symbol             symbol lookup\n"
      "  /debug/gperftools/pprof/cmdline            the command line\n\n"
      "Example: google-pprof --text --seconds=10 http://HOST:PORT/debug/gperftools/pprof/profile\n";
}

void PprofEndpoint::Profile(const http::HttpRequest& req, http::HttpResponse& resp,
                            ProfileFormat format) {
  int64_t seconds = 30;
  std::string value;
  if (http::QueryParam(req.query, "seconds", &value) &&
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
  ServeProfile(source_->CpuProfile(absl::Seconds(seconds), format,
                                   [&req] { return req.cancel.cancelled(); }),
               "profile", resp);
}

void PprofEndpoint::Heap(http::HttpResponse& resp, ProfileFormat format, const char* name) {
  ServeProfile(source_->HeapProfile(format), name, resp);
}

void PprofEndpoint::Growth(http::HttpResponse& resp, ProfileFormat format) {
  ServeProfile(source_->HeapGrowth(format), "growth", resp);
}

void PprofEndpoint::ServeProfile(absl::StatusOr<std::string> profile, const char* filename,
                                 http::HttpResponse& resp) {
  if (!profile.ok()) {
    http::HttpFail(resp, HttpStatusFor(profile.status()), profile.status().message());
    return;
  }
  resp.content_type = kOctetStream;
  resp.headers.emplace_back("Content-Disposition",
                            absl::StrCat("attachment; filename=\"", filename, "\""));
  resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
  resp.body = *std::move(profile);
}

void PprofEndpoint::AutoIndexHtml(const http::HttpRequest& req, http::HttpResponse& resp) {
  const std::vector<AutoProfileInfo> profiles = source_->AutoProfiles();
  std::string host = req.header("Host");
  if (host.empty()) host = "HOST:PORT";
  std::string html =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>vitals: automatic "
      "profiles</title></head><body>\n<h1>Automatic CPU profiles</h1>\n";
  if (!source_->auto_profiles_enabled()) {
    html +=
        "<p>Automatic profiles are off. Start the service with <code>VITALS_AUTO_PROFILE=1</code> "
        "(or set <code>Options::auto_profile</code>) to capture a CPU profile when slow requests "
        "burst.</p>\n";
  } else if (profiles.empty()) {
    html += "<p>None yet: a profile is captured when slow requests burst.</p>\n";
  } else {
    html +=
        "<table border=\"1\" cellpadding=\"4\">\n<tr><th>id</th><th>start (UTC)</th>"
        "<th>duration</th><th>trigger</th><th>slow requests</th><th>bytes</th>"
        "<th>profile</th></tr>\n";
    for (const AutoProfileInfo& p : profiles) {
      absl::StrAppend(&html, "<tr><td>", p.id, "</td><td>",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", p.start, absl::UTCTimeZone()),
                      "</td><td>", absl::FormatDuration(p.duration), "</td><td>");
      internal::AppendHtmlEscaped(html, p.trigger);
      html += "</td><td>";
      for (const AutoProfileRoute& r : p.routes) {
        internal::AppendHtmlEscaped(html, absl::StrCat(r.method, " ", r.route));
        absl::StrAppend(&html, " &times;", r.slow_requests, "<br>");
      }
      absl::StrAppend(&html, "</td><td>", p.bytes, "</td><td><a href=\"profile?id=", p.id,
                      "\">download</a><br><code>go tool pprof -http=: http://");
      internal::AppendHtmlEscaped(html, host);
      absl::StrAppend(&html, "/debug/pprof/auto/profile?id=", p.id, "</code></td></tr>\n");
    }
    html += "</table>\n";
  }
  html += "<p>As JSON: <a href=\"index.json\">index.json</a></p>\n</body></html>\n";
  resp.content_type = "text/html; charset=utf-8";
  resp.body = std::move(html);
}

void PprofEndpoint::AutoIndexJson(const http::HttpRequest&, http::HttpResponse& resp) {
  std::string json = absl::StrCat(
      "{\"enabled\":", source_->auto_profiles_enabled() ? "true" : "false", ",\"profiles\":[");
  bool first = true;
  for (const AutoProfileInfo& p : source_->AutoProfiles()) {
    if (!first) json += ',';
    first = false;
    absl::StrAppend(&json, "{\"id\":", p.id, ",\"start\":\"",
                    absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", p.start, absl::UTCTimeZone()),
                    "\",\"duration_seconds\":", absl::ToDoubleSeconds(p.duration), ",\"trigger\":");
    internal::AppendJsonString(json, p.trigger);
    json += ",\"routes\":[";
    for (size_t i = 0; i < p.routes.size(); ++i) {
      if (i > 0) json += ',';
      json += "{\"method\":";
      internal::AppendJsonString(json, p.routes[i].method);
      json += ",\"route\":";
      internal::AppendJsonString(json, p.routes[i].route);
      absl::StrAppend(&json, ",\"slow_requests\":", p.routes[i].slow_requests, "}");
    }
    absl::StrAppend(&json, "],\"bytes\":", p.bytes,
                    ",\"url\":\"/debug/pprof/auto/profile?id=", p.id, "\"}");
  }
  json += "]}\n";
  resp.content_type = "application/json";
  resp.body = std::move(json);
}

void PprofEndpoint::AutoProfile(const http::HttpRequest& req, http::HttpResponse& resp) {
  std::string value;
  int64_t id = 0;
  if (!http::QueryParam(req.query, "id", &value) || !absl::SimpleAtoi(value, &id) || id <= 0) {
    http::HttpFail(resp, 400,
                   "want ?id=N, the id of an automatic profile (see /debug/pprof/auto/)");
    return;
  }
  auto profile = source_->AutoProfile(id);
  if (!profile.ok() && absl::IsNotFound(profile.status())) {
    http::HttpFail(resp, 404, profile.status().message());
    return;
  }
  ServeProfile(std::move(profile), "profile", resp);
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

bool PprofEndpoint::DebugParam(const http::HttpRequest& req, int max, int* debug,
                               http::HttpResponse& resp) {
  *debug = 0;
  std::string value;
  if (http::QueryParam(req.query, "debug", &value) &&
      (!absl::SimpleAtoi(value, debug) || *debug < 0 || *debug > max)) {
    http::HttpFail(
        resp, 400,
        absl::StrCat("debug=\"", value.substr(0, 40), "\" is not a whole number from 0 to ", max));
    return false;
  }
  return true;
}

void PprofEndpoint::Mutex(const http::HttpRequest& req, http::HttpResponse& resp) {
  int debug = 0;
  if (!DebugParam(req, 1, &debug, resp)) return;
  int64_t seconds = 0;
  std::string value;
  if (http::QueryParam(req.query, "seconds", &value) &&
      (!absl::SimpleAtoi(value, &seconds) || seconds <= 0 ||
       absl::Seconds(seconds) > source_->max_cpu_profile())) {
    http::HttpFail(
        resp, 400,
        absl::StrCat("seconds=\"", value.substr(0, 40), "\" is not a whole number from 1 to ",
                     absl::ToInt64Seconds(source_->max_cpu_profile()),
                     " (VITALS_PROFILE_MAX_DURATION)"));
    return;
  }
  auto profile =
      source_->MutexContention(seconds, debug, [&req] { return req.cancel.cancelled(); });
  if (debug == 0 || !profile.ok()) {
    ServeProfile(std::move(profile), "mutex", resp);
    return;
  }
  resp.content_type = "text/plain; charset=utf-8";
  resp.body = *std::move(profile);
}

void PprofEndpoint::Goroutine(const http::HttpRequest& req, http::HttpResponse& resp) {
  int debug = 0;
  if (!DebugParam(req, 2, &debug, resp)) return;
  auto dump = source_->ThreadStacks(debug, [&req] { return req.cancel.cancelled(); });
  if (debug == 0 || !dump.ok()) {
    ServeProfile(std::move(dump), "goroutine", resp);
    return;
  }
  resp.content_type = "text/plain; charset=utf-8";
  resp.body = *std::move(dump);
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
