// agent/http/http_route.h: what an HTTP exporter hands the agent's server: paths and handlers.
//
// A handler sees a fully read, bounded request and fills in a response; it never touches a
// socket. Handlers run on the server's handler threads, never on its I/O thread, in one of two
// lanes: `kScrape` (short, CPU-bound work such as rendering /metrics) and `kSlow` (profiles,
// symbol lookups: work that may block for seconds). The lanes have their own threads, so a
// request in one lane never waits for a request in the other.

#ifndef VITALS_AGENT_HTTP_HTTP_ROUTE_H_
#define VITALS_AGENT_HTTP_HTTP_ROUTE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace vitals {
namespace http {

// Tells a running handler that its answer is no longer wanted: the client closed its end, or
// the server is stopping. Long handlers poll `cancelled()` and return early.
class CancelToken {
 public:
  CancelToken() = default;
  CancelToken(std::shared_ptr<const std::atomic<bool>> client_gone,
              std::shared_ptr<const std::atomic<bool>> server_stopping)
      : client_gone_(std::move(client_gone)), server_stopping_(std::move(server_stopping)) {}

  bool cancelled() const { return client_gone() || server_stopping(); }
  bool client_gone() const {
    return client_gone_ != nullptr && client_gone_->load(std::memory_order_acquire);
  }
  bool server_stopping() const {
    return server_stopping_ != nullptr && server_stopping_->load(std::memory_order_acquire);
  }

 private:
  std::shared_ptr<const std::atomic<bool>> client_gone_;
  std::shared_ptr<const std::atomic<bool>> server_stopping_;
};

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string path;    // the target up to '?', not decoded
  std::string query;   // after '?', not decoded
  std::string remote_address;
  bool from_loopback = false;
  bool tls = false;  // arrived over TLS
  // Request headers as sent (names in the client's case). At most the server's header limit.
  std::vector<std::pair<std::string, std::string>> headers;
  // The body of a POST (bounded by the server; a longer one gets 413 before any handler runs).
  std::string body;
  CancelToken cancel;

  // The value of the first header called `name` (case-insensitive), empty when absent.
  std::string header(absl::string_view name) const;
};

// The value of the first `name` in a query string ("a=1&seconds=5"), as sent (not decoded);
// false when absent. A parameter without '=' has an empty value.
bool QueryParam(absl::string_view query, absl::string_view name, std::string* value);

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

enum class HttpLane { kScrape, kSlow };

// One exact path, what it is for (listed on the index page; empty = not listed), its handler,
// and the lane it runs in. `max_body` > 0 lets the route take a POST body of up to that many
// bytes (Content-Length or chunked); other routes refuse bodies with 413.
struct HttpRoute {
  std::string path;
  std::string description;
  HttpHandler handler;
  HttpLane lane = HttpLane::kScrape;
  size_t max_body = 0;
};

// The standard reason phrase of an HTTP status code.
absl::string_view HttpReason(int status);

// Fills `resp` with `status` and a one-line plain-text reason.
void HttpFail(HttpResponse& resp, int status, absl::string_view reason);

}  // namespace http
}  // namespace vitals

#endif  // VITALS_AGENT_HTTP_HTTP_ROUTE_H_
