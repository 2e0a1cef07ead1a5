// exporters/http_server.h: the agent's HTTP listener (civetweb underneath).
//
// civetweb 1.15 is configured so a few idle or slow clients cannot stall scrapes: a bounded
// pool of worker threads, no keep-alive (a worker is free again as soon as its response is
// written), a request timeout that bounds how long an idle connection can hold a worker, and a
// small request-size limit. Handlers are matched on the exact path. Users never see civetweb:
// this header forward-declares it.
//
// Thread-safety: handlers run on the server's worker threads, several at once.

#ifndef VITALS_EXPORTERS_HTTP_SERVER_H_
#define VITALS_EXPORTERS_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/listen_address.h"
#include "agent/mutex.h"
#include "agent/rate_limited_log.h"

struct mg_context;
struct mg_connection;

namespace vitals {
namespace exporters {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string remote_address;
  bool from_loopback = false;
  // Value of a request header (case-insensitive name), empty when absent.
  std::function<std::string(absl::string_view name)> header;
  // The body of a POST (at most kMaxRequestBody bytes; longer bodies get 413 before any
  // handler runs).
  std::string body;
  // True once the client has closed its end: long handlers poll it to stop early.
  std::function<bool()> client_gone = [] { return false; };
};

inline constexpr size_t kMaxRequestBody = 4 << 20;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When `body_view` is set it is sent instead of `body`. It must stay valid until `done` runs,
  // which happens once the response has been written (or the client has gone).
  absl::string_view body_view;
  std::function<void()> done;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

// One exact path, what it is for (listed on the index page; empty = not listed) and its handler.
struct HttpRoute {
  std::string path;
  std::string description;
  HttpHandler handler;
};

class HttpServer {
 public:
  struct Config {
    internal::ListenAddress address;
    int threads = 8;
    absl::Duration request_timeout = absl::Seconds(5);
    internal::RateLimitedLog* log = nullptr;
  };

  // Binds and starts serving. Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const Config& config,
                                                           std::vector<HttpRoute> routes);

  // Stops accepting, waits for in-flight handlers, closes the socket. Idempotent.
  void Stop();
  ~HttpServer();

  int port() const { return port_; }

 private:
  HttpServer() = default;
  static int HandleRequest(mg_connection* conn, void* self);
  static int LogMessage(const mg_connection* conn, const char* message);
  static void* InitThread(const mg_context* ctx, int thread_type);
  void Dispatch(mg_connection* conn);

  mg_context* ctx_ = nullptr;
  int port_ = 0;
  internal::RateLimitedLog* log_ = nullptr;
  std::atomic<bool> starting_{true};  // civetweb's messages while starting go into the Status
  internal::Mutex startup_mu_;
  std::string startup_errors_ ABSL_GUARDED_BY(startup_mu_);
  int threads_started_ ABSL_GUARDED_BY(startup_mu_) = 0;
  std::vector<HttpRoute> routes_;
};

// The standard reason phrase of an HTTP status code.
absl::string_view HttpReason(int status);

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_HTTP_SERVER_H_
