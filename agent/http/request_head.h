// agent/http/request_head.h: what the server decides about the bytes a client sent, apart from
// the socket. The parser's limits, the verdict on a head that parsed or did not (refuse with a
// status, read a body up to a limit, or dispatch to the route), the request a handler is
// handed, and the response head written back. The server's connections use exactly these
// functions, so tests/fuzz/http_request_fuzz.cc can drive the same decisions with hostile
// bytes and no socket.
//
// Thread-safety: pure functions of their arguments. Internal to agent/http and its tests: this
// header includes Boost.Beast, which http_server.h keeps from its includers.

#ifndef VITALS_AGENT_HTTP_REQUEST_HEAD_H_
#define VITALS_AGENT_HTTP_REQUEST_HEAD_H_

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/http/http_route.h"
#include "agent/http/http_server.h"

namespace vitals {
namespace http {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// A fresh parser for the next request head: at most kMaxHeaderBytes of head, no body limit yet.
// JudgeHead's verdict carries the route's limit (Verdict::body_limit), which the server sets on
// the parser before it reads a body.
void PrepareParser(RequestParser& parser);

// What to do with a request, decided from its head (or from why it did not parse).
struct Verdict {
  enum class Action {
    kClose,     // the client left (between requests, or halfway): close without an answer
    kIgnore,    // the read was cancelled (the connection is closing already)
    kRefuse,    // answer `status` with `why`, then close; `reason` is counted when set
    kReadBody,  // read a body of at most `body_limit` bytes (after "100 Continue" if asked)
    kDispatch,  // hand the request to its route
  };
  // A kRefuse verdict.
  static Verdict Refuse(int status, std::string why, std::optional<CloseReason> reason);

  Action action = Action::kClose;
  int status = 0;
  std::string why;
  std::optional<CloseReason> reason;
  size_t body_limit = 0;
  bool expect_continue = false;
};

// A head that did not parse: the client left, the head is over the limit (431), or it is not
// HTTP/1.x (400).
Verdict JudgeHeadError(const boost::system::error_code& ec);

// The path of a request target: up to the first '?', not decoded.
absl::string_view TargetPath(absl::string_view target);

// A parsed head whose path resolved to `route` (nullptr: no such path). Refuses other versions
// than HTTP/1.0 and 1.1 (505), methods other than GET and HEAD (POST on routes that take a
// body; 404 or 405), bodies where none is taken or over the route's limit (413), and paths
// nothing serves (404). kReadBody and kDispatch always come with a route.
Verdict JudgeHead(const RequestParser& parser, const HttpRoute* route);

// Whether the connection may stay open after this request's answer.
bool KeepAlive(const RequestParser& parser);

// A body that did not read completely: over the limit (413), the client left, or malformed.
Verdict JudgeBodyError(const boost::system::error_code& ec, const HttpRoute& route);

// The request a handler sees, from a complete message; the parser's body is moved out. Network
// fields (remote address, loopback, TLS, cancel token) are the caller's.
void FillRequest(RequestParser& parser, std::string path, HttpRequest* out);

// The answer to a refused request: `verdict.status` with its reason, and the Allow header on a
// 405.
HttpResponse Refusal(const Verdict& verdict, const HttpRoute* route);

// The status line and headers of `resp` with a body of `body_size` bytes, up to and including
// the blank line. CR and LF in the content type and in header names and values a handler set
// become spaces: nothing a handler writes can end a header line, or the head, early.
std::string ResponseHead(const HttpResponse& resp, size_t body_size, bool keep_alive);

}  // namespace http
}  // namespace vitals

#endif  // VITALS_AGENT_HTTP_REQUEST_HEAD_H_
