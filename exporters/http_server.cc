#include "exporters/http_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "civetweb.h"

namespace vitals {
namespace exporters {
namespace {

bool IsLoopback(absl::string_view addr) {
  return absl::StartsWith(addr, "127.") || addr == "::1" || absl::StartsWith(addr, "::ffff:127.");
}

// The port of one end of a TCP socket (`getsockname` or `getpeername`), or 0.
int PortOf(int fd, int (*get)(int, sockaddr*, socklen_t*)) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (get(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}
int LocalPort(int fd) { return PortOf(fd, &getsockname); }
int PeerPort(int fd) { return PortOf(fd, &getpeername); }

// The first descriptor of this process for which `match(fd)` holds, or -1. civetweb does not
// hand out its sockets, so the few places that need one find it by its addresses.
template <typename Match>
int FindDescriptor(Match match) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* e = readdir(dir)) {
    int fd;
    if (!absl::SimpleAtoi(e->d_name, &fd) || fd == dirfd(dir)) continue;
    if (match(fd)) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

// civetweb marks its sockets close-on-exec on most builds; make sure of it for the listening
// socket, whatever the build, so exec'd children never hold the port.
void SetListenerCloseOnExec(int port) {
  const int fd = FindDescriptor([port](int fd) {
    int accepting = 0;
    socklen_t alen = sizeof accepting;
    return LocalPort(fd) == port &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &alen) == 0 && accepting;
  });
  if (fd < 0) return;
  const int flags = fcntl(fd, F_GETFD);
  if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

// Whether the client of a connection has gone (closed or reset its end). Finds the socket
// once, by its local and peer ports, then polls it without consuming anything.
class ClientWatch {
 public:
  ClientWatch(int local_port, int peer_port) : local_port_(local_port), peer_port_(peer_port) {}
  bool Gone() {
    if (fd_ == -2) {
      fd_ = FindDescriptor(
          [this](int fd) { return PeerPort(fd) == peer_port_ && LocalPort(fd) == local_port_; });
    }
    if (fd_ < 0) return false;  // cannot tell: assume still there
    pollfd p{fd_, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
  }

 private:
  const int local_port_, peer_port_;
  int fd_ = -2;  // -2: not looked up yet
};

bool WriteAll(mg_connection* conn, absl::string_view data) {
  while (!data.empty()) {
    const size_t chunk = std::min<size_t>(data.size(), 1 << 20);
    if (mg_write(conn, data.data(), chunk) <= 0) return false;
    data.remove_prefix(chunk);
  }
  return true;
}

}  // namespace

absl::string_view HttpReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 409:
      return "Conflict";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const Config& config,
                                                              std::vector<HttpRoute> routes) {
  // civetweb sets SIGPIPE to ignored for the whole process, in mg_start and again as its
  // threads start. It sends with MSG_NOSIGNAL, so the host's own disposition can be put back
  // once every server thread is running: the host keeps what it had.
  struct sigaction saved_pipe {};
  sigaction(SIGPIPE, nullptr, &saved_pipe);
  static std::once_flag init_once;
  std::call_once(init_once, [] { mg_init_library(0); });

  std::unique_ptr<HttpServer> server(new HttpServer);
  server->log_ = config.log;
  server->routes_ = std::move(routes);

  const std::string ports = config.address.ipv6
                                ? absl::StrCat("[", config.address.host, "]:", config.address.port)
                                : absl::StrCat(config.address.host, ":", config.address.port);
  const std::string threads = absl::StrCat(config.threads);
  const std::string timeout =
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(config.request_timeout)));
  const char* options[] = {"listening_ports",
                           ports.c_str(),
                           "num_threads",
                           threads.c_str(),
                           "request_timeout_ms",
                           timeout.c_str(),
                           "enable_keep_alive",
                           "no",
                           "max_request_size",
                           "16384",
                           "tcp_nodelay",
                           "1",
                           "enable_directory_listing",
                           "no",
                           nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &HttpServer::LogMessage;
  callbacks.init_thread = &HttpServer::InitThread;

  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof error_text;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;

  server->ctx_ = mg_start2(&init, &error);
  if (server->ctx_ != nullptr) {
    // The master thread and every worker report in through InitThread.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (;;) {
      {
        internal::MutexLock lock(&server->startup_mu_);
        if (server->threads_started_ >= 1 + config.threads) break;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  sigaction(SIGPIPE, &saved_pipe, nullptr);
  if (server->ctx_ == nullptr) {
    internal::MutexLock lock(&server->startup_mu_);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", ports, ": ",
                                               !server->startup_errors_.empty()
                                                   ? server->startup_errors_
                                               : error_text[0] ? error_text
                                                               : "server failed to start"));
  }
  server->starting_.store(false);
  mg_server_port port{};
  if (mg_get_server_ports(server->ctx_, 1, &port) == 1) server->port_ = port.port;
  SetListenerCloseOnExec(server->port_);
  mg_set_request_handler(server->ctx_, "/", &HttpServer::HandleRequest, server.get());
  return server;
}

void HttpServer::Stop() {
  if (ctx_ != nullptr) {
    mg_stop(ctx_);
    ctx_ = nullptr;
  }
}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::LogMessage(const mg_connection* conn, const char* message) {
  const mg_context* ctx = conn != nullptr ? mg_get_context(conn) : nullptr;
  auto* self = ctx != nullptr ? static_cast<HttpServer*>(mg_get_user_data(ctx)) : nullptr;
  if (self != nullptr && self->starting_.load()) {
    internal::MutexLock lock(&self->startup_mu_);
    if (self->startup_errors_.empty()) self->startup_errors_ = message;
    return 1;
  }
  if (self != nullptr && self->log_ != nullptr) {
    self->log_->Log(LogSeverity::kWarning, absl::StrCat("http server: ", message));
  }
  return 1;  // handled: civetweb prints nothing itself
}

void* HttpServer::InitThread(const mg_context* ctx, int /*thread_type*/) {
  auto* self = static_cast<HttpServer*>(mg_get_user_data(ctx));
  if (self != nullptr) {
    internal::MutexLock lock(&self->startup_mu_);
    ++self->threads_started_;
  }
  return nullptr;
}

int HttpServer::HandleRequest(mg_connection* conn, void* self) {
  try {
    static_cast<HttpServer*>(self)->Dispatch(conn);
  } catch (const std::exception& e) {
    mg_send_http_error(conn, 500, "internal error: %s", e.what());
  } catch (...) {
    mg_send_http_error(conn, 500, "internal error");
  }
  return 1;
}

void HttpServer::Dispatch(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "";
  req.query = info->query_string ? info->query_string : "";
  req.remote_address = info->remote_addr;
  req.from_loopback = IsLoopback(req.remote_address);
  req.header = [conn](absl::string_view name) {
    const char* v = mg_get_header(conn, std::string(name).c_str());
    return std::string(v ? v : "");
  };
  auto watch = std::make_shared<ClientWatch>(info->server_port, info->remote_port);
  req.client_gone = [watch] { return watch->Gone(); };

  HttpResponse resp;
  bool body_ok = true;
  if (req.method == "POST") {
    // Read the body up to the limit; a longer one is refused, not truncated.
    if (info->content_length > static_cast<int64_t>(kMaxRequestBody)) {
      body_ok = false;
    } else {
      char buf[16384];
      int n;
      while ((n = mg_read(conn, buf, sizeof buf)) > 0) {
        if (req.body.size() + static_cast<size_t>(n) > kMaxRequestBody) {
          body_ok = false;
          break;
        }
        req.body.append(buf, static_cast<size_t>(n));
      }
    }
  }
  const HttpHandler* handler = nullptr;
  for (const auto& route : routes_) {
    if (route.path == req.path) handler = &route.handler;
  }
  if (!body_ok) {
    resp.status = 413;
    resp.body = absl::StrCat("413 request body over ", kMaxRequestBody, " bytes\n");
  } else if (handler == nullptr) {
    resp.status = 404;
    resp.body = absl::StrCat("404 not found: see / for what this agent serves\n");
  } else if (req.method != "GET" && req.method != "HEAD" && req.method != "POST") {
    resp.status = 405;
    resp.body = "405 method not allowed\n";
  } else {
    (*handler)(req, resp);
  }

  std::string head = absl::StrCat("HTTP/1.1 ", resp.status, " ", HttpReason(resp.status),
                                  "\r\nContent-Type: ", resp.content_type,
                                  "\r\nCache-Control: no-store\r\nConnection: close\r\n");
  for (const auto& h : resp.headers) absl::StrAppend(&head, h.first, ": ", h.second, "\r\n");
  const bool head_only = req.method == "HEAD";
  const absl::string_view body = resp.body_view.data() != nullptr ? resp.body_view : resp.body;
  absl::StrAppend(&head, "Content-Length: ", body.size(), "\r\n\r\n");
  if (WriteAll(conn, head) && !head_only) WriteAll(conn, body);
  if (resp.done) resp.done();
}

}  // namespace exporters
}  // namespace vitals
