#include "agent/http/http_server.h"

#include <fcntl.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/http/handler_lane.h"
#include "agent/http/request_head.h"

namespace vitals {
namespace http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

absl::string_view CloseReasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::kLimit:
      return "limit";
    case CloseReason::kHeaderTimeout:
      return "header_timeout";
    case CloseReason::kRequestTimeout:
      return "request_timeout";
    case CloseReason::kTlsHandshake:
      return "tls_handshake";
    case CloseReason::kMalformed:
      return "malformed";
    case CloseReason::kBusy:
      return "busy";
    case CloseReason::kEnd:
      break;
  }
  return "unknown";
}

namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

bool IsLoopback(const asio::ip::address& a) {
  if (a.is_v4()) {
    const auto bytes = a.to_v4().to_bytes();
    return internal::IsLoopbackBytes(bytes.data(), bytes.size());
  }
  const auto bytes = a.to_v6().to_bytes();
  return internal::IsLoopbackBytes(bytes.data(), bytes.size());
}

void SetCloseOnExec(int fd) {
  const int flags = fcntl(fd, F_GETFD);
  if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

}  // namespace

class Connection;

class HttpServer::Impl {
 public:
  Impl(Config config, std::vector<HttpRoute> routes)
      : config_(std::move(config)),
        routes_(std::move(routes)),
        acceptor_(io_),
        accept_retry_(io_),
        scrape_lane_("scrape", kLaneQueue),
        slow_lane_("slow", kLaneQueue) {
    for (const HttpRoute& r : routes_) by_path_.emplace(r.path, &r);
  }
  ~Impl() { Stop(); }

  absl::Status Start();
  void Stop();
  int port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }

  // --- For connections; all on the I/O thread unless said otherwise. ---
  const Config& config() const { return config_; }
  asio::io_context& io() { return io_; }
  const HttpRoute* FindRoute(absl::string_view path) const {
    auto it = by_path_.find(path);
    return it == by_path_.end() ? nullptr : it->second;
  }
  const std::shared_ptr<std::atomic<bool>>& stopping() const { return stopping_; }
  bool Stopping() const { return stopping_->load(std::memory_order_acquire); }
  HandlerLane& lane(HttpLane lane) { return lane == HttpLane::kSlow ? slow_lane_ : scrape_lane_; }
  void CountClose(CloseReason reason) {
    if (config_.closed_early) config_.closed_early(reason);
  }
  void CountConnections(int delta) {
    if (config_.connections_changed) config_.connections_changed(delta);
  }
  void Log(LogSeverity severity, absl::string_view line) {
    if (config_.log != nullptr) config_.log->Log(severity, line);
  }
  // Idle list: connections waiting for a request head, oldest first.
  void MarkIdle(Connection* c);
  void UnmarkIdle(Connection* c);
  void Unregister(Connection* c);
  // In-flight accounting (any thread).
  bool TryAcquireInflight() {
    int n = inflight_.load(std::memory_order_relaxed);
    do {
      if (n >= kMaxInflight) return false;
    } while (!inflight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
    return true;
  }
  void ReleaseInflight() {
    if (inflight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      internal::MutexLock lock(
          &drain_mu_);  // so Stop cannot miss the signal between check and wait
      drained_.SignalAll();
    }
  }

 private:
  void DoAccept();
  void OnAccept(const error_code& ec, tcp::socket socket);
  // Closes the connection that has waited longest for its request head; false when none.
  bool EvictOldestIdle();
  // Runs `fn` on the I/O thread and waits for it.
  void RunOnIo(const std::function<void()>& fn);

  Config config_;
  std::vector<HttpRoute> routes_;
  absl::flat_hash_map<std::string, const HttpRoute*> by_path_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::unique_ptr<TlsContext> tls_;
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  int port_ = 0;
  bool running_ = false;
  // I/O thread only.
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  std::list<Connection*> idle_;
  // Any thread.
  std::atomic<int> inflight_{0};
  internal::Mutex drain_mu_;  // Stop waits on `drained_` for `inflight_` to reach 0
  internal::CondVar drained_;
  // Declared last: stopped (joined) before anything above goes.
  HandlerLane scrape_lane_;
  HandlerLane slow_lane_;
};

// One client connection. Lives on the I/O thread; handlers hold it (shared) while they run.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { kAwaitHead, kReadBody, kHandling, kWriting, kClosing, kClosed };
  explicit Connection(HttpServer::Impl* server) : server_(server) {}
  virtual ~Connection() = default;
  virtual void Start() = 0;
  // Closes the socket; `reason` is counted when given. Safe to call more than once.
  virtual void Close(std::optional<CloseReason> reason) = 0;

  State state() const { return state_; }
  std::list<Connection*>::iterator idle_it;
  bool idle = false;

 protected:
  HttpServer::Impl* server_;
  State state_ = State::kAwaitHead;
};

void HttpServer::Impl::MarkIdle(Connection* c) {
  if (c->idle) return;
  c->idle_it = idle_.insert(idle_.end(), c);
  c->idle = true;
}

void HttpServer::Impl::UnmarkIdle(Connection* c) {
  if (!c->idle) return;
  idle_.erase(c->idle_it);
  c->idle = false;
}

void HttpServer::Impl::Unregister(Connection* c) {
  UnmarkIdle(c);
  if (connections_.erase(c) > 0) CountConnections(-1);
}

bool HttpServer::Impl::EvictOldestIdle() {
  if (idle_.empty()) return false;
  idle_.front()->Close(CloseReason::kLimit);
  return true;
}

namespace {

template <bool kTls>
class ConnectionImpl final : public Connection {
 public:
  using Stream = std::conditional_t<kTls, asio::ssl::stream<tcp::socket>, tcp::socket>;

  ConnectionImpl(HttpServer::Impl* server, tcp::socket socket,
                 std::shared_ptr<asio::ssl::context> tls)
      : Connection(server),
        tls_(std::move(tls)),
        stream_(MakeStream(std::move(socket), tls_.get())),
        timer_(server->io()),
        buffer_(kMaxHeaderBytes) {
    error_code ec;
    tcp::endpoint peer = Socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = peer.address().to_string();
      loopback_ = IsLoopback(peer.address());
    }
  }

  void Start() override {
    EnterAwaitHead();  // arms the head deadline, which also bounds the handshake
    if constexpr (kTls) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = Self()](const error_code& ec) {
                                if (self->state_ == State::kClosed) return;
                                if (ec) return self->Close(CloseReason::kTlsHandshake);
                                self->ReadHead();
                              });
    } else {
      ReadHead();
    }
  }

  void Close(std::optional<CloseReason> reason) override {
    if (state_ == State::kClosed) return;
    auto keep = shared_from_this();  // Unregister may drop the registry's reference
    if (reason.has_value()) server_->CountClose(*reason);
    state_ = State::kClosed;
    Disarm();
    error_code ec;
    Socket().close(ec);
    server_->Unregister(this);
  }

 private:
  static Stream MakeStream(tcp::socket socket, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      (void)tls;
      return socket;
    }
  }

  tcp::socket& Socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  std::shared_ptr<ConnectionImpl> Self() {
    return std::static_pointer_cast<ConnectionImpl>(shared_from_this());
  }

  // Closes the connection with `reason` when `d` passes, unless re-armed or disarmed first.
  void Arm(absl::Duration d, std::optional<CloseReason> reason) {
    const uint64_t generation = ++timer_generation_;
    timer_.expires_after(ToChrono(d));
    timer_.async_wait([self = Self(), generation, reason](const error_code& ec) {
      if (ec || self->state_ == State::kClosed || generation != self->timer_generation_) return;
      self->Close(reason);
    });
  }
  void Disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  // Waits for the next request head: from the start, or after a kept-alive response.
  void EnterAwaitHead() {
    state_ = State::kAwaitHead;
    server_->MarkIdle(this);
    // A kept-alive connection that has sent nothing of its next request is merely idle when
    // the deadline passes: closing it is routine, not an error worth counting.
    std::optional<CloseReason> reason = CloseReason::kHeaderTimeout;
    if (served_ > 0 && buffer_.size() == 0) reason.reset();
    Arm(server_->config().header_timeout, reason);
  }

  void ReadHead() {
    if (state_ != State::kAwaitHead) return;
    parser_.emplace();
    PrepareParser(*parser_);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = Self()](const error_code& ec, std::size_t) { self->OnHead(ec); });
  }

  void OnHead(const error_code& ec) {
    if (state_ == State::kClosed) return;
    server_->UnmarkIdle(this);
    if (ec) return Follow(JudgeHeadError(ec));
    const beast::string_view target = parser_->get().target();
    path_ = std::string(TargetPath(absl::string_view(target.data(), target.size())));
    route_ = server_->FindRoute(path_);
    keep_alive_ = KeepAlive(*parser_);
    const Verdict verdict = JudgeHead(*parser_, route_);
    if (verdict.action != Verdict::Action::kReadBody) return Follow(verdict);
    parser_->body_limit(verdict.body_limit);
    state_ = State::kReadBody;
    Arm(server_->config().request_timeout, CloseReason::kRequestTimeout);
    if (verdict.expect_continue) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                        [self = Self()](const error_code& wec, std::size_t) {
                          if (self->state_ == State::kClosed) return;
                          if (wec) return self->Close(std::nullopt);
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](const error_code& ec, std::size_t) { self->OnBody(ec); });
  }

  void OnBody(const error_code& ec) {
    if (state_ == State::kClosed) return;
    if (ec) return Follow(JudgeBodyError(ec, *route_));
    Dispatch();
  }

  // Carries out a verdict other than kReadBody.
  void Follow(const Verdict& verdict) {
    switch (verdict.action) {
      case Verdict::Action::kClose:
        return Close(std::nullopt);
      case Verdict::Action::kIgnore:
        return;
      case Verdict::Action::kRefuse:
        return Refuse(verdict);
      case Verdict::Action::kReadBody:  // OnHead reads the body itself
      case Verdict::Action::kDispatch:
        return Dispatch();
    }
  }

  void Dispatch() {
    Disarm();  // a handler's time is its own business; the response write is bounded again
    state_ = State::kHandling;
    if (server_->Stopping()) return Refuse(503, "the agent is stopping", {});
    if (!server_->TryAcquireInflight()) {
      return Refuse(503, "too many requests in flight; try again", CloseReason::kBusy);
    }
    holds_inflight_ = true;
    auto request = std::make_shared<HttpRequest>();
    head_only_ = parser_->get().method() == http::verb::head;
    FillRequest(*parser_, path_, request.get());
    request->remote_address = remote_;
    request->from_loopback = loopback_;
    request->tls = kTls;
    request->cancel = CancelToken(gone_, server_->stopping());
    parser_.reset();

    const HttpRoute* route = route_;
    HttpServer::Impl* server = server_;
    auto task = [self = Self(), request, route, server] {
      HttpResponse resp;
      if (request->cancel.server_stopping()) {
        HttpFail(resp, 503, "the agent is stopping");
      } else if (!request->cancel.client_gone()) {
        try {
          route->handler(*request, resp);
        } catch (const std::exception& e) {
          HttpFail(resp, 500, absl::StrCat("internal error: ", e.what()));
        } catch (...) {
          HttpFail(resp, 500, "internal error");
        }
      }
      asio::post(server->io(),
                 [self, resp = std::move(resp)]() mutable { self->Respond(std::move(resp)); });
    };
    if (!server_->lane(route_->lane).Submit(std::move(task))) {
      holds_inflight_ = false;
      server_->ReleaseInflight();
      return Refuse(503, "too many requests waiting; try again", CloseReason::kBusy);
    }
    Watch();
  }

  // While a handler runs, keep a read pending: it notices a client that goes away (the
  // handler's cancel token turns), and buffers a pipelined next request. Not when a pipelined
  // request is already buffered: it is parsed once this one is answered.
  void Watch() {
    if (watching_ || state_ == State::kClosed) return;
    if (state_ != State::kClosing && buffer_.size() > 0) return;
    const size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) return;
    watching_ = true;
    stream_.async_read_some(
        buffer_.prepare(std::min<size_t>(room, 1024)),
        [self = Self()](const error_code& ec, std::size_t n) { self->OnWatch(ec, n); });
  }

  void OnWatch(const error_code& ec, std::size_t n) {
    watching_ = false;
    if (state_ == State::kClosed) return;
    if (ec) {
      gone_->store(true, std::memory_order_release);
      keep_alive_ = false;
      if (state_ == State::kAwaitHead || state_ == State::kClosing) Close(std::nullopt);
      return;  // handling or writing: finished (and closed) by Respond/OnWritten
    }
    buffer_.commit(n);
    if (state_ == State::kClosing) {
      buffer_.consume(buffer_.size());  // lingering close: drain what the client still sends
      return Watch();
    }
    // A pipelined next request: parsed once this one is answered (OnWritten). No more watching
    // meanwhile, so the buffered bytes never wait behind a read that nothing will complete.
    if (state_ == State::kAwaitHead) ReadHead();
  }

  // Answers with an error and closes. `reason`, when given, is counted.
  void Refuse(const Verdict& verdict) {
    if (verdict.reason.has_value()) server_->CountClose(*verdict.reason);
    keep_alive_ = false;
    head_only_ = false;
    Write(Refusal(verdict, route_));
  }
  void Refuse(int status, std::string why, std::optional<CloseReason> reason) {
    Refuse(Verdict::Refuse(status, std::move(why), reason));
  }

  // A handler's answer, back on the I/O thread.
  void Respond(HttpResponse resp) {
    if (state_ == State::kClosed || gone_->load(std::memory_order_acquire)) {
      if (resp.done) resp.done();
      ReleaseInflight();
      return Close(std::nullopt);
    }
    if (server_->Stopping()) keep_alive_ = false;
    Write(std::move(resp));
  }

  void Write(HttpResponse resp) {
    state_ = State::kWriting;
    Arm(server_->config().request_timeout, CloseReason::kRequestTimeout);
    resp_ = std::move(resp);
    const absl::string_view body = resp_.body_view.data() != nullptr ? resp_.body_view : resp_.body;
    head_ = ResponseHead(resp_, body.size(), keep_alive_);
    std::array<asio::const_buffer, 2> buffers = {
        asio::buffer(head_), asio::buffer(body.data(), head_only_ ? 0 : body.size())};
    asio::async_write(stream_, buffers,
                      [self = Self()](const error_code& ec, std::size_t) { self->OnWritten(ec); });
  }

  void OnWritten(const error_code& ec) {
    if (resp_.done) resp_.done();
    resp_ = HttpResponse();
    ReleaseInflight();
    if (state_ == State::kClosed) return;
    if (ec) return Close(std::nullopt);
    ++served_;
    if (!keep_alive_ || gone_->load(std::memory_order_acquire) || server_->Stopping()) {
      return LingeringClose();
    }
    route_ = nullptr;
    EnterAwaitHead();
    if (!watching_) ReadHead();  // else the pending read resumes it
  }

  // Half-closes, then reads and drops what the client still sends until it closes too (at
  // most a second), so an unread request body does not turn our answer into a reset.
  void LingeringClose() {
    state_ = State::kClosing;
    Arm(absl::Seconds(1), std::nullopt);
    error_code ec;
    Socket().shutdown(tcp::socket::shutdown_send, ec);  // TLS too: no close_notify wait
    if (ec) return Close(std::nullopt);
    buffer_.consume(buffer_.size());
    Watch();
  }

  void ReleaseInflight() {
    if (!holds_inflight_) return;
    holds_inflight_ = false;
    server_->ReleaseInflight();
  }

  std::shared_ptr<asio::ssl::context> tls_;  // before stream_, which refers to it
  Stream stream_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::string remote_;
  bool loopback_ = false;
  bool keep_alive_ = false;
  bool head_only_ = false;
  bool watching_ = false;
  bool holds_inflight_ = false;
  uint64_t served_ = 0;
  std::string path_;
  const HttpRoute* route_ = nullptr;
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  HttpResponse resp_;
  std::string head_;
};

}  // namespace

absl::Status HttpServer::Impl::Start() {
  if (config_.tls.enabled()) {
    auto tls = TlsContext::Create(config_.tls, config_.log);
    if (!tls.ok()) return tls.status();
    tls_ = *std::move(tls);
  }
  const internal::ListenAddress& a = config_.address;
  const std::string where =
      a.ipv6 ? absl::StrCat("[", a.host, "]:", a.port) : absl::StrCat(a.host, ":", a.port);
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(a.host, ec);
  if (ec)
    return absl::InvalidArgumentError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(a.port));
  auto fail = [&](absl::string_view step) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", where, ": ", step, ": ", ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("socket");
  SetCloseOnExec(acceptor_.native_handle());
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  port_ = acceptor_.local_endpoint(ec).port();
  if (absl::Status s = scrape_lane_.Start(config_.scrape_threads); !s.ok()) return s;
  if (absl::Status s = slow_lane_.Start(config_.slow_threads); !s.ok()) return s;
  work_.emplace(io_.get_executor());
  DoAccept();
  try {
    io_thread_ = std::thread([this] {
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {
          Log(LogSeverity::kError, absl::StrCat("http server: ", e.what()));
        } catch (...) {
          Log(LogSeverity::kError, "http server: unknown exception");
        }
      }
    });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot start the HTTP thread: ", e.what()));
  }
  pthread_setname_np(io_thread_.native_handle(), "vitals-http");
  running_ = true;
  return absl::OkStatus();
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(
      [this](const error_code& ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
}

void HttpServer::Impl::OnAccept(const error_code& ec, tcp::socket socket) {
  if (Stopping() || !acceptor_.is_open()) return;
  if (ec) {
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory || ec.value() == ENFILE) {
      // Out of descriptors: make room, or wait a little rather than spin.
      Log(LogSeverity::kWarning, absl::StrCat("http server: accept failed (", ec.message(),
                                              "); closing the oldest idle connection"));
      if (!EvictOldestIdle()) {
        accept_retry_.expires_after(std::chrono::milliseconds(50));
        accept_retry_.async_wait([this](const error_code& wec) {
          if (!wec) DoAccept();
        });
        return;
      }
    }
    return DoAccept();
  }
  SetCloseOnExec(socket.native_handle());
  error_code opt;
  socket.set_option(tcp::no_delay(true), opt);
  if (static_cast<int>(connections_.size()) >= config_.max_connections && !EvictOldestIdle()) {
    CountClose(CloseReason::kLimit);  // everyone is being answered: the newcomer waits outside
    error_code ignored;
    socket.close(ignored);
    return DoAccept();
  }
  std::shared_ptr<Connection> c;
  if (tls_ != nullptr) {
    c = std::make_shared<ConnectionImpl<true>>(this, std::move(socket), tls_->Current());
  } else {
    c = std::make_shared<ConnectionImpl<false>>(this, std::move(socket), nullptr);
  }
  connections_.emplace(c.get(), c);
  CountConnections(1);
  c->Start();
  DoAccept();
}

void HttpServer::Impl::RunOnIo(const std::function<void()>& fn) {
  internal::Mutex mu;
  internal::CondVar cv;
  bool done ABSL_GUARDED_BY(mu) = false;
  asio::post(io_, [&] {
    fn();
    internal::MutexLock lock(&mu);
    done = true;
    cv.SignalAll();
  });
  internal::MutexLock lock(&mu);
  cv.Wait(&mu, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done; });
}

void HttpServer::Impl::Stop() {
  if (!running_) return;
  running_ = false;
  stopping_->store(true, std::memory_order_release);
  // 1. No new connections; idle ones go now.
  RunOnIo([this] {
    error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    std::vector<Connection*> idle(idle_.begin(), idle_.end());
    for (Connection* c : idle) c->Close(std::nullopt);
  });
  // 2. Handlers in flight see server_stopping() and answer (a profile answers 503) for up to
  //    kDrainTimeout.
  {
    internal::MutexLock lock(&drain_mu_);
    drained_.WaitFor(&drain_mu_, absl::ToChronoNanoseconds(kDrainTimeout),
                     [this] { return inflight_.load(std::memory_order_acquire) == 0; });
  }
  // 3. Join the handler threads (queued work is dropped), then close what is left.
  scrape_lane_.Stop();
  slow_lane_.Stop();
  RunOnIo([this] {
    std::vector<std::shared_ptr<Connection>> all;
    for (auto& [raw, owner] : connections_) all.push_back(owner);
    for (auto& c : all) c->Close(std::nullopt);
    work_.reset();
  });
  io_thread_.join();  // returns as soon as the aborted operations have run
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Config config,
                                                              std::vector<HttpRoute> routes) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(routes));
  if (absl::Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
  if (impl_ != nullptr) impl_->Stop();
}

int HttpServer::port() const { return impl_->port(); }
bool HttpServer::tls() const { return impl_->tls(); }

}  // namespace http
}  // namespace vitals
