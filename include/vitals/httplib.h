// vitals/httplib.h: request metrics for cpp-httplib servers (header-only; include it only in
// programs that already use cpp-httplib).
//
//   httplib::Server server;
//   vitals::HttplibInstrumentation routes(agent, server);
//   routes.Get("/users/:id", [](const httplib::Request& req, httplib::Response& res) {...});
//
// Register handlers through `HttplibInstrumentation` instead of the server: each route is given
// as a template (`/users/:id`, `:name` matches one path segment) which becomes both the
// server's pattern and the `route` label, so raw paths never become label values. Requests that
// match no route are recorded with route "unmatched". A request is timed from routing (after its
// headers were read) until its response has been written; its status is the one sent. Database
// calls recorded in a handler (vitals/db.h) count for its request.
//
// The instrumentation installs the server's pre-routing handler and logger; set yours through
// `set_pre_routing_handler` / `set_logger` here and they are chained. The object must outlive
// the server's run. Thread-safety: as cpp-httplib's (register routes before `listen`).

#ifndef VITALS_HTTPLIB_H_
#define VITALS_HTTPLIB_H_

#include <httplib.h>

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "vitals/agent.h"

namespace vitals {

// The `route` label of requests that matched no registered route.
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
      State& st = state();
      st = State();
      st.started = true;
      st.start_nanos = agent_.clock().NowNanos();
      return pre_routing_ ? pre_routing_(req, res) : httplib::Server::HandlerResponse::Unhandled;
    });
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      State& st = state();
      if (st.started) {
        const absl::Duration d = absl::Nanoseconds(agent_.clock().NowNanos() - st.start_nanos);
        const int status = res.status > 0 ? res.status : 200;
        if (st.route.valid()) {
          st.route.Record(status, d);
        } else {
          agent_.Record(req.method, kUnmatchedRoute, status, d);
        }
      }
      st = State();
      if (logger_) logger_(req, res);
    });
  }

  HttplibInstrumentation(const HttplibInstrumentation&) = delete;
  HttplibInstrumentation& operator=(const HttplibInstrumentation&) = delete;

  HttplibInstrumentation& Get(const std::string& route, httplib::Server::Handler handler) {
    // cpp-httplib answers HEAD with the GET handler; Wrap records those as HEAD.
    server_.Get(RouteTemplateToRegex(route), Wrap("GET", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Post(const std::string& route, httplib::Server::Handler handler) {
    server_.Post(RouteTemplateToRegex(route), Wrap("POST", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Put(const std::string& route, httplib::Server::Handler handler) {
    server_.Put(RouteTemplateToRegex(route), Wrap("PUT", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Patch(const std::string& route, httplib::Server::Handler handler) {
    server_.Patch(RouteTemplateToRegex(route), Wrap("PATCH", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Delete(const std::string& route, httplib::Server::Handler handler) {
    server_.Delete(RouteTemplateToRegex(route), Wrap("DELETE", route, std::move(handler)));
    return *this;
  }
  HttplibInstrumentation& Options(const std::string& route, httplib::Server::Handler handler) {
    server_.Options(RouteTemplateToRegex(route), Wrap("OPTIONS", route, std::move(handler)));
    return *this;
  }

  // Chained after the instrumentation's own hooks.
  void set_pre_routing_handler(httplib::Server::HandlerWithResponse handler) {
    pre_routing_ = std::move(handler);
  }
  void set_logger(httplib::Logger logger) { logger_ = std::move(logger); }

 private:
  struct State {
    bool started = false;
    int64_t start_nanos = 0;
    RouteHandle route;
  };
  static State& state() {
    static thread_local State s;
    return s;
  }

  httplib::Server::Handler Wrap(const char* method, const std::string& route,
                                httplib::Server::Handler handler) {
    RouteHandle handle = agent_.Route(method, route);
    RouteHandle head = std::string(method) == "GET" ? agent_.Route("HEAD", route) : handle;
    return [handle, head, handler = std::move(handler)](const httplib::Request& req,
                                                        httplib::Response& res) {
      const RouteHandle& h = req.method == "HEAD" ? head : handle;
      state().route = h;
      ActiveGuard guard(h);  // duration is recorded by the logger, after the write
      RequestDbScope db(h);  // database calls in the handler count for this request
      handler(req, res);
    };
  }

  // Keeps http_server_active_requests up while a handler runs, exceptions included.
  class ActiveGuard {
   public:
    explicit ActiveGuard(const RouteHandle& h) : handle_(h) { handle_.AddActive(1); }
    ~ActiveGuard() { handle_.AddActive(-1); }

   private:
    const RouteHandle& handle_;
  };

  Agent& agent_;
  httplib::Server& server_;
  httplib::Server::HandlerWithResponse pre_routing_;
  httplib::Logger logger_;
};

}  // namespace vitals

#endif  // VITALS_HTTPLIB_H_
