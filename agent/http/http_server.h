// agent/http/http_server.h: the agent's HTTP(S) listener, event-driven.
//
// One I/O thread owns every socket (epoll through Boost.Asio; HTTP/1.1 parsing by Boost.Beast;
// TLS by OpenSSL). A connection costs a few hundred bytes and no thread while it waits for its
// request, so idle and slow clients cannot hold up anybody else. Handlers run on two small
// lanes of threads (agent/http/handler_lane.h; a route picks its lane in agent/http/http_route.h),
// so a slow handler never delays /metrics.
//
// Bounds, each enforced and tested (tests/agent/http/http_server_test.cc, tests/reliability/):
// - request head (request line + headers): kMaxHeaderBytes, else 431; the whole head must
//   arrive within `header_timeout` of the connection opening (or of the previous response on a
//   kept-alive connection), however slowly its bytes trickle in; a TLS handshake counts in it.
// - request body: only on routes that take one, at most the route's `max_body` (413 beyond,
//   chunked or not), read within `request_timeout`; the response must be taken by the client
//   within `request_timeout` too.
// - open connections: at most `max_connections`. At the cap a new connection makes room by
//   closing the connection that has waited longest for its request head (idle or slow), never
//   one that is being answered; so a scraper with a complete request always gets in.
// - requests in flight (queued, running or being written): kMaxInflight; beyond, and when a
//   lane's queue is full, the answer is 503 at once.
// - the accept loop survives running out of file descriptors: it closes the oldest idle
//   connection, or pauses briefly.
// `Stop()` closes idle connections at once, lets handlers in flight answer for up to
// kDrainTimeout (they see `cancel.server_stopping()`), then closes everything and joins every
// thread. Sockets are close-on-exec and written with MSG_NOSIGNAL: the host's SIGPIPE
// disposition is never touched. Users never see Boost or OpenSSL: this header declares neither.
//
// Thread-safety: Start/Stop/port from any thread; handlers run on the lane threads.

#ifndef VITALS_AGENT_HTTP_HTTP_SERVER_H_
#define VITALS_AGENT_HTTP_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/base/listen_address.h"
#include "agent/base/rate_limited_log.h"
#include "agent/http/http_route.h"
#include "agent/http/tls_context.h"

namespace vitals {
namespace http {

inline constexpr size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr int kMaxInflight = 32;
inline constexpr size_t kLaneQueue = 16;
inline constexpr absl::Duration kDrainTimeout = absl::Milliseconds(500);

// Why the server closed a connection before a complete exchange (the `reason` label of
// vitals_http_connections_closed_total).
enum class CloseReason {
  kLimit,           // made room at max_connections (or refused when none could be closed)
  kHeaderTimeout,   // the request head did not arrive within header_timeout
  kRequestTimeout,  // the body, or the taking of the response, exceeded request_timeout
  kTlsHandshake,    // the TLS handshake failed (plain HTTP, wrong CA, no client certificate)
  kMalformed,       // not HTTP/1.x, or over a limit (answered 400/413/431/505 first)
  kBusy,            // too much in flight (answered 503 first)
  kEnd,             // not a reason: their number
};
inline constexpr int kNumCloseReasons = static_cast<int>(CloseReason::kEnd);
absl::string_view CloseReasonName(CloseReason reason);

class HttpServer {
 public:
  struct Config {
    internal::ListenAddress address;
    int scrape_threads = 2;  // the kScrape lane
    int slow_threads = 4;    // the kSlow lane
    absl::Duration header_timeout = absl::Seconds(5);
    absl::Duration request_timeout = absl::Seconds(5);
    int max_connections = 1024;
    TlsFiles tls;
    internal::RateLimitedLog* log = nullptr;
    // What the server tells about its connections, on its I/O thread (the agent counts them in
    // vitals_http_*; the transport knows no metrics). Either may be empty.
    std::function<void(int delta)> connections_changed;    // +1 accepted, -1 gone
    std::function<void(CloseReason reason)> closed_early;  // before a complete exchange
  };

  // Binds, starts the threads and serves `routes`. Unavailable when the address cannot be
  // bound (the message names it), InvalidArgument for bad TLS files.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Config config,
                                                           std::vector<HttpRoute> routes);

  // See the file comment. Idempotent.
  void Stop();
  ~HttpServer();

  int port() const;
  bool tls() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace http
}  // namespace vitals

#endif  // VITALS_AGENT_HTTP_HTTP_SERVER_H_
