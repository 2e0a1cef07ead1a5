// exporters/pprof_endpoint.h: /debug/pprof/*, the paths the pprof client derives from a URL,
// in the formats Go's net/http/pprof serves.
//
//   /debug/pprof/             index
//   /debug/pprof/profile      CPU profile, ?seconds=N (default 30, at most profile_max_duration)
//   /debug/pprof/heap         tcmalloc heap sample: inuse_objects, inuse_space
//   /debug/pprof/allocs       the same profile (as in Go; tcmalloc's sample has no alloc_*)
//   /debug/pprof/growth       tcmalloc heap growth stacks
//   /debug/pprof/symbol       GET: "num_symbols: 1"; POST "0xA+0xB": "0xA name" lines
//   /debug/pprof/cmdline      the command line: arguments joined by NUL, none at the end (Go's)
//   /debug/pprof/goroutine    every thread's stack (Go's name): ?debug=2 readable text, debug=1
//                             identical stacks counted, else gzipped profile.proto
//   /debug/pprof/mutex        absl::Mutex contention (Go's mutex profile): ?seconds=N a delta,
//                             ?debug=1 Go's text; 501 while off and empty
//   /debug/pprof/auto/        automatic profiles (HTML); index.json the same as JSON;
//                             profile?id=N one of them
//   /debug/gperftools/pprof/  profile, heap, growth, symbol, cmdline in gperftools' legacy
//                             formats, for google-pprof (which derives symbol and cmdline from
//                             the same prefix)
//
// Profiles under /debug/pprof are gzipped profile.proto, symbolized in the process
// (vitals/profiling.h), so a client needs neither the binary nor a symbol round trip.
//
// Access: off unless `Options::profiling`; then loopback clients only, or, when
// `profiling_basic_auth` is set, clients with those credentials from anywhere. Errors answer
// with a status code and a one-line reason: 400 bad duration or id, 401/403 access, 404 off
// or no such automatic profile, 409 a profile is already running, 413 too many symbol
// addresses, 501 not available here (and how to enable it), 503 no samples, SIGPROF taken, or
// the agent stopping. Profiles and symbol lookups run in the server's slow lane, so they never
// delay a scrape; every long handler stops when its client goes or the agent stops.

#ifndef VITALS_EXPORTERS_PPROF_ENDPOINT_H_
#define VITALS_EXPORTERS_PPROF_ENDPOINT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/http/http_route.h"
#include "vitals/options.h"
#include "vitals/profiling.h"

namespace vitals {
namespace exporters {

// What the endpoint serves. The composition root implements it over the profiling feature, so
// this exporter depends on no feature. Errors are absl::Status codes the endpoint maps to HTTP
// (HttpStatusFor).
class ProfileSource {
 public:
  virtual ~ProfileSource() = default;
  // The longest CPU profile a request may ask for.
  virtual absl::Duration max_cpu_profile() const = 0;
  // A CPU profile over `duration`; stops early, with Cancelled, once `cancelled()` is true.
  virtual absl::StatusOr<std::string> CpuProfile(absl::Duration duration, ProfileFormat format,
                                                 const std::function<bool()>& cancelled) = 0;
  virtual absl::StatusOr<std::string> HeapProfile(ProfileFormat format) = 0;
  virtual absl::StatusOr<std::string> HeapGrowth(ProfileFormat format) = 0;
  // Answers a pprof symbol request body ("0xA+0xB"): "0x<addr> <name>" lines.
  virtual absl::StatusOr<std::string> Symbolize(absl::string_view body,
                                                const std::function<bool()>& cancelled) = 0;
  // Every thread's stack: `debug` 0 (gzipped profile.proto), 1 or 2 (text); see
  // agent/profiling/thread_dump.h.
  virtual absl::StatusOr<std::string> ThreadStacks(int debug,
                                                   const std::function<bool()>& cancelled) = 0;
  // The absl::Mutex contention profile (agent/profiling/mutex_profile.h): since recording
  // began, or what `seconds` > 0 added.
  virtual absl::StatusOr<std::string> MutexContention(int64_t seconds, int debug,
                                                      const std::function<bool()>& cancelled) = 0;
  // Whether automatic profiles are on; the kept ones, newest first; one of them (NotFound when
  // it is not kept).
  virtual bool auto_profiles_enabled() const = 0;
  virtual std::vector<AutoProfileInfo> AutoProfiles() = 0;
  virtual absl::StatusOr<std::string> AutoProfile(int64_t id) = 0;
};

class PprofEndpoint {
 public:
  // `source` must outlive the endpoint.
  PprofEndpoint(const Options& options, ProfileSource* source);

  std::vector<http::HttpRoute> Routes();

  // Whether `req` may use the profiling endpoints (as they would answer it).
  bool Allows(const http::HttpRequest& req) const;

  // The HTTP status for an error from the profiler.
  static int HttpStatusFor(const absl::Status& status);

 private:
  // False (and `resp` filled in) when the request may not use the profiling endpoints.
  bool Admit(const http::HttpRequest& req, http::HttpResponse& resp) const;
  void Index(const http::HttpRequest& req, http::HttpResponse& resp);
  void LegacyIndex(const http::HttpRequest& req, http::HttpResponse& resp);
  void Profile(const http::HttpRequest& req, http::HttpResponse& resp, ProfileFormat format);
  void Heap(http::HttpResponse& resp, ProfileFormat format, const char* name);
  void Growth(http::HttpResponse& resp, ProfileFormat format);
  void AutoIndexHtml(const http::HttpRequest& req, http::HttpResponse& resp);
  void AutoIndexJson(const http::HttpRequest& req, http::HttpResponse& resp);
  void AutoProfile(const http::HttpRequest& req, http::HttpResponse& resp);
  // The profile as the answer (a download called `filename`), or its error as a status code
  // and a one-line reason.
  static void ServeProfile(absl::StatusOr<std::string> profile, const char* filename,
                           http::HttpResponse& resp);
  // The body limit of a symbol request: the source's address cap (65,536) of 18 hex digits
  // with their separators, with room to spare.
  static constexpr size_t kMaxSymbolBody = 2 << 20;
  void Symbol(const http::HttpRequest& req, http::HttpResponse& resp);
  void Cmdline(const http::HttpRequest& req, http::HttpResponse& resp);
  void Goroutine(const http::HttpRequest& req, http::HttpResponse& resp);
  void Mutex(const http::HttpRequest& req, http::HttpResponse& resp);
  // ?debug=N within [0, max]: false, with a 400 in `resp`, when it is something else.
  static bool DebugParam(const http::HttpRequest& req, int max, int* debug,
                         http::HttpResponse& resp);

  const bool enabled_;
  const std::string basic_auth_;  // "user:password", or empty
  const std::string proc_root_;
  ProfileSource* source_;
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_PPROF_ENDPOINT_H_
