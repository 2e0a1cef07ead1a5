// vitals/httplib.h: request metrics for cpp-httplib servers (header-only; include it only in
// programs that already use cpp-httplib).
//
//   httplib::Server server;
//   vitals::HttplibInstrumentation routes(agent, server);
//   routes.Get("/users/:id", [](const httplib::Request& req, httplib::Response& res) {...});
//
// Register handlers through `HttplibInstrumentation` instead of the server: each route is given
// as a template (`/users/:id`, `:name` matches one path segment) which becomes both the
// server's pattern and the `http_route` label, so raw paths never become label values.
//
// Cost: each handler knows its route, so a request costs no matching of its own beside
// cpp-httplib's: two clock reads (the TSC with the default clock), the request's database
// bookkeeping, one histogram observe and a look for `traceparent` among the header names from
// "t" on; about 46 ns over the bare handler with 10 or 100 routes, and about 90 ns for a traced
// request, whose exemplar is offered (bench/httplib_bench.cc, BENCHMARKS.md). No lock.
//
// Requests that match no route are recorded with route "unmatched" (and 0 database calls),
// matched once against the registered templates to tell them from requests whose body failed
// to read. A request is timed from
// routing (after its headers were read) until its response has been written; its status is the
// one sent, and it keeps its route even when its body fails to read. HEAD requests (which
// cpp-httplib answers with the GET handler) are recorded as HEAD; their series appear with the
// first HEAD request. Database calls recorded in a handler (vitals/db.h) count for its request.
// A request with a valid W3C `traceparent` header offers its trace and span ids as the exemplar
// of its duration's bucket (vitals/trace_context.h; Options::exemplars). With
// Options::body_sizes, each request's body sizes are recorded too (request: as read, or its
// Content-Length when the handler streamed it; response: as sent, none for HEAD, a content
// provider's length; a chunked one's is unknown and not recorded): two more observes.
//
// Linking: Debian's cpp-httplib (libcpp-httplib-dev) is a compiled library with a pkg-config
// file and no CMake package:
//   find_package(PkgConfig REQUIRED)
//   pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
//   target_link_libraries(my_service PRIVATE vitals::vitals PkgConfig::HTTPLIB)
//
// The instrumentation installs the server's pre-routing handler and logger; set yours through
// `set_pre_routing_handler` / `set_logger` here and they are chained. The object must outlive
// the server's run. Thread-safety: as cpp-httplib's (register routes before `listen`).
//
// Call `server.set_tcp_nodelay(true)`: Debian's cpp-httplib 0.11 leaves Nagle's algorithm on,
// and a keep-alive client then waits about 40 ms for each answer (Nagle and the client's delayed
// ACK), a delay no timer inside the server can see.

#ifndef VITALS_HTTPLIB_H_
#define VITALS_HTTPLIB_H_

#include <httplib.h>

#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/time/time.h"
#include "vitals/agent.h"
#include "vitals/client.h"

namespace vitals {

// The `http_route` label of requests that matched no registered route.
inline constexpr const char* kUnmatchedRoute = "unmatched";

// "/users/:id" -> "/users/([^/]+)": `:name` segments capture one path segment, everything else
// is matched literally.
inline std::string RouteTemplateToRegex(const std::string& route) {
  std::string out;
  for (size_t i = 0; i < route.size(); ++i) {
    const char c = route[i];
    if (c == ':' && (i == 0 || route[i - 1] == '/')) {
      while (i + 1 < route.size() && route[i + 1] != '/') ++i;
      out += "([^/]+)";
      continue;
    }
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

class HttplibInstrumentation {
 public:
  HttplibInstrumentation(Agent& agent, httplib::Server& server) : agent_(agent), server_(server) {
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      BeforeRouting();
      return pre_routing_ ? pre_routing_(req, res) : httplib::Server::HandlerResponse::Unhandled;
    });
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      AfterResponse(req, res);
      if (logger_) logger_(req, res);
    });
  }

  HttplibInstrumentation(const HttplibInstrumentation&) = delete;
  HttplibInstrumentation& operator=(const HttplibInstrumentation&) = delete;

  HttplibInstrumentation& Get(const std::string& route, httplib::Server::Handler handler) {
    // cpp-httplib answers HEAD with the GET handler; Instrument records those as HEAD.
    server_.Get(RouteTemplateToRegex(route), Instrument("GET", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Post(const std::string& route, httplib::Server::Handler handler) {
    server_.Post(RouteTemplateToRegex(route), Instrument("POST", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Put(const std::string& route, httplib::Server::Handler handler) {
    server_.Put(RouteTemplateToRegex(route), Instrument("PUT", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Patch(const std::string& route, httplib::Server::Handler handler) {
    server_.Patch(RouteTemplateToRegex(route), Instrument("PATCH", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Delete(const std::string& route, httplib::Server::Handler handler) {
    server_.Delete(RouteTemplateToRegex(route), Instrument("DELETE", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Options(const std::string& route, httplib::Server::Handler handler) {
    server_.Options(RouteTemplateToRegex(route), Instrument("OPTIONS", route, std::move(handler)));
    return *this;
  }

  // Chained after the instrumentation's own hooks.
  void set_pre_routing_handler(httplib::Server::HandlerWithResponse handler) {
    pre_routing_ = std::move(handler);
  }
  void set_logger(httplib::Logger logger) { logger_ = std::move(logger); }

  // The three steps the server takes per request, public for benchmarks and for glue to
  // servers built on cpp-httplib's types: BeforeRouting when the head has been read; the
  // handler Instrument returns, which knows its route (no matching per request); AfterResponse
  // once the answer is written. A request that reached no handler (no route matched, or its
  // body failed to read) is matched against the registered templates there, once.
  void BeforeRouting() {
    State& st = state();
    st.started = true;
    st.start = agent_.RequestStampNow();
    st.route = nullptr;
  }
  httplib::Server::Handler Instrument(const char* method, const std::string& route,
                                      httplib::Server::Handler handler) {
    Registered* r = &routes_.emplace_back();  // a deque: stays where it is
    r->method = method;
    r->route = route;
    r->pattern = std::regex(RouteTemplateToRegex(route));
    r->handle = agent_.Route(method, route);
    return [this, r, handler = std::move(handler)](const httplib::Request& req,
                                                   httplib::Response& res) {
      // HEAD is the one method of four letters that starts with H.
      const bool head = req.method.size() == 4 && req.method[0] == 'H';
      const RouteHandle& h = head ? HeadRoute(*r) : r->handle;
      State& st = state();
      st.route = &h;
      // In flight (http_server_active_requests) and current for database calls while the
      // handler runs; it started when the server read its head. The duration is recorded by
      // AfterResponse, after the write.
      RequestDbScope db(h, st.started ? st.start : agent_.RequestStampNow());
      handler(req, res);
    };
  }
  void AfterResponse(const httplib::Request& req, const httplib::Response& res) {
    const RequestStamp end = agent_.RequestStampNow();  // first: the work below is not timed
    State& st = state();
    if (!st.started) return;
    st.started = false;
    const int status = res.status > 0 ? res.status : 200;
    // No handler ran: a route whose body failed to read keeps its route; anything else is
    // "unmatched", with 0 database calls, as every route counts them.
    const RouteHandle route = st.route != nullptr ? *st.route : Match(req.method, req.path);
    if (!route.valid()) {
      const RouteHandle unmatched = agent_.Route(req.method, kUnmatchedRoute);
      unmatched.Record(status, st.start, end);
      RequestDbScope(unmatched).End();
      return;
    }
    if (body_sizes_) {
      route.RecordBodySizes(status, RequestBodyBytes(req), ResponseBodyBytes(req, res));
    }
    // A W3C `traceparent` header makes the request an exemplar candidate for its bucket.
    const std::string* traceparent = exemplars_ ? Traceparent(req) : nullptr;
    if (traceparent != nullptr) {
      route.Record(status, st.start, end, TraceContext::FromTraceparent(*traceparent));
    } else {
      route.Record(status, st.start, end);
    }
  }

 private:
  // Constant-initialized, so the thread-local needs no initialization guard on each access.
  struct State {
    bool started = false;
    RequestStamp start;
    const RouteHandle* route = nullptr;  // set by the handler (Instrument's): known only when
                                         // one ran
  };
  struct Registered {
    std::string method;
    std::string route;
    std::regex pattern;
    RouteHandle handle;
    std::once_flag head_once;
    RouteHandle head;  // the HEAD series of a GET route: made with the first HEAD request
  };

  // The request's `traceparent` header, or null. cpp-httplib keeps headers in a map ordered by
  // case-insensitive name, whose own look-up calls tolower() four times per byte compared (about
  // 100 ns when the header is there); this walks back from the last name and stops at the first
  // one that sorts before "t": only the names from "t" on are visited (User-Agent, Via, X-...),
  // however many headers come before them.
  static const std::string* Traceparent(const httplib::Request& req) {
    static constexpr char kName[] = "traceparent";
    for (auto it = req.headers.rbegin(); it != req.headers.rend(); ++it) {
      const std::string& key = it->first;
      unsigned char first = static_cast<unsigned char>(key[0]);  // '\0' when empty
      if (first >= 'A' && first <= 'Z') first += 'a' - 'A';
      if (first < 't') break;
      if (key.size() != sizeof kName - 1) continue;
      bool same = true;
      for (size_t i = 1; i < key.size() && same; ++i) {
        same = (key[i] | 0x20) == kName[i];  // ASCII letters only in this name
      }
      if (same) return &it->second;
    }
    return nullptr;
  }

  const RouteHandle& HeadRoute(Registered& r) {
    std::call_once(r.head_once, [&] { r.head = agent_.Route("HEAD", r.route); });
    return r.head;
  }
  // The route the server picked for (method, path): the first registered one that matches, as
  // cpp-httplib matches; HEAD takes a GET route. Invalid when none does. Only for requests
  // that reached no handler.
  RouteHandle Match(const std::string& method, const std::string& path) {
    const bool head = method == "HEAD";
    for (Registered& r : routes_) {
      if (r.method != (head ? "GET" : method)) continue;
      if (!std::regex_match(path, r.pattern)) continue;
      return head ? HeadRoute(r) : r.handle;
    }
    return RouteHandle();
  }
  // The bytes of a request's body: as read, or for a handler that read it with a content
  // receiver, its Content-Length (0 when it has none).
  static int64_t RequestBodyBytes(const httplib::Request& req) {
    if (!req.body.empty()) return static_cast<int64_t>(req.body.size());
    return static_cast<int64_t>(req.get_header_value<uint64_t>("Content-Length"));
  }
  // The bytes of a response's body as sent: none for HEAD; a content provider's declared length
  // (unknown for a chunked one: not recorded); else the body.
  static int64_t ResponseBodyBytes(const httplib::Request& req, const httplib::Response& res) {
    if (req.method == "HEAD") return 0;
    if (res.content_provider_) {
      return res.is_chunked_content_provider_ ? -1 : static_cast<int64_t>(res.content_length_);
    }
    return static_cast<int64_t>(res.body.size());
  }
  static State& state() {
    ABSL_CONST_INIT static thread_local State s;
    return s;
  }

  Agent& agent_;
  httplib::Server& server_;
  const bool exemplars_ = agent_.options().exemplars;
  const bool body_sizes_ = agent_.options().body_sizes;
  std::deque<Registered> routes_;  // in registration order, as the server tries them
  httplib::Server::HandlerWithResponse pre_routing_;
  httplib::Logger logger_;
};

// A cpp-httplib client to one upstream instance whose every call is timed as
// `http_client_request_duration_seconds` (vitals/client.h): the status when an answer came, else
// the error type its httplib::Error maps to (a read that failed at the read timeout counts as
// `timeout`). Use one per instance: a service that balances over several instances of an
// upstream sees each one's latency and errors apart.
//
//   vitals::HttplibClient users(agent, "10.0.0.7", 8080);
//   users.set_read_timeout(absl::Milliseconds(500));
//   httplib::Result res = users.Get("/users/7");
//
// Thread-safety: Get, Post, Put and Delete may be called from any thread at once, so handlers
// can share one client; the calls through one object then run one at a time (cpp-httplib's
// client holds a mutex for each request), so for parallel calls to one instance give each
// thread its own client. Change settings (the set_* calls, `client()`) before sharing it.
// Timing uses the agent's monotonic clock; the upstream handles are resolved here, so the
// client never touches the agent again and may outlive it (its calls then record nothing).
class HttplibClient {
 public:
  HttplibClient(Agent& agent, const std::string& host, int port)
      : clock_(&agent.clock()),
        host_(host),
        port_(port),
        client_(host, port),
        get_(agent.Upstream("GET", host, port)),
        post_(agent.Upstream("POST", host, port)),
        put_(agent.Upstream("PUT", host, port)),
        delete_(agent.Upstream("DELETE", host, port)) {}

  // The wrapped client, for settings this class does not forward (calls made on it directly
  // are not timed).
  httplib::Client& client() { return client_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }

  void set_connection_timeout(absl::Duration d) {
    client_.set_connection_timeout(std::chrono::microseconds(absl::ToInt64Microseconds(d)));
  }
  void set_read_timeout(absl::Duration d) {
    read_timeout_ = d;
    client_.set_read_timeout(std::chrono::microseconds(absl::ToInt64Microseconds(d)));
  }
  void set_write_timeout(absl::Duration d) {
    client_.set_write_timeout(std::chrono::microseconds(absl::ToInt64Microseconds(d)));
  }

  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) {
    return Timed(get_, [&] { return client_.Get(path.c_str(), headers); });
  }
  httplib::Result Post(const std::string& path, const std::string& body,
                       const std::string& content_type) {
    return Timed(post_, [&] { return client_.Post(path.c_str(), body, content_type.c_str()); });
  }
  httplib::Result Put(const std::string& path, const std::string& body,
                      const std::string& content_type) {
    return Timed(put_, [&] { return client_.Put(path.c_str(), body, content_type.c_str()); });
  }
  httplib::Result Delete(const std::string& path) {
    return Timed(delete_, [&] { return client_.Delete(path.c_str()); });
  }

  // The error type a failed call records: one of vitals/client.h's kError* constants.
  static absl::string_view ErrorType(httplib::Error error, absl::Duration elapsed,
                                     absl::Duration read_timeout) {
    switch (error) {
      case httplib::Error::Connection:
        return kErrorConnection;
      case httplib::Error::ConnectionTimeout:
        return kErrorTimeout;
      case httplib::Error::Read:
        // cpp-httplib reports a read that timed out as a failed read.
        return elapsed >= read_timeout * 0.9 ? kErrorTimeout : kErrorRead;
      case httplib::Error::Write:
        return kErrorWrite;
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification:
        return kErrorTls;
      case httplib::Error::Canceled:
        return kErrorCanceled;
      default:
        return kErrorOther;
    }
  }

 private:
  template <typename Call>
  httplib::Result Timed(const UpstreamHandle& handle, Call call) {
    ClientCallScope scope(handle);
    const int64_t start = clock_->NowNanos();
    httplib::Result result = call();
    if (result) {
      scope.set_status(result->status);
    } else {
      const absl::Duration elapsed = absl::Nanoseconds(clock_->NowNanos() - start);
      scope.set_error(ErrorType(result.error(), elapsed, read_timeout_));
    }
    return result;
  }

  const Clock* const clock_;  // the agent's: a process-wide clock, or one that outlives it
  const std::string host_;
  const int port_;
  httplib::Client client_;
  absl::Duration read_timeout_ = absl::Seconds(CPPHTTPLIB_READ_TIMEOUT_SECOND);
  const UpstreamHandle get_, post_, put_, delete_;
};

}  // namespace vitals

#endif  // VITALS_HTTPLIB_H_
