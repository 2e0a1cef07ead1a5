#include "agent/http/request_head.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vitals {
namespace http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

Verdict Verdict::Refuse(int status, std::string why, std::optional<CloseReason> reason) {
  Verdict v;
  v.action = Verdict::Action::kRefuse;
  v.status = status;
  v.why = std::move(why);
  v.reason = reason;
  return v;
}

namespace {

Verdict Act(Verdict::Action action) {
  Verdict v;
  v.action = action;
  return v;
}

Verdict NotFound() { return Verdict::Refuse(404, "see / for what this agent serves", {}); }

bool ClientLeft(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::ssl::error::stream_truncated;
}

// Appends `s` with CR and LF replaced by spaces: nothing a handler sets can end a header line.
void AppendHeaderText(std::string* out, absl::string_view s) {
  for (char c : s) out->push_back(c == '\r' || c == '\n' ? ' ' : c);
}

}  // namespace

void PrepareParser(RequestParser& parser) {
  parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
  // The body limit is the route's, set once the head names the route; Beast checks a
  // Content-Length against it already while reading the head.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
}

Verdict JudgeHeadError(const error_code& ec) {
  if (ClientLeft(ec)) return Act(Verdict::Action::kClose);
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return Verdict::Refuse(431,
                           absl::StrCat("the request head is over ", kMaxHeaderBytes, " bytes"),
                           CloseReason::kMalformed);
  }
  if (ec == asio::error::operation_aborted) return Act(Verdict::Action::kIgnore);
  return Verdict::Refuse(400, absl::StrCat("not an HTTP/1.x request (", ec.message(), ")"),
                         CloseReason::kMalformed);
}

absl::string_view TargetPath(absl::string_view target) {
  return target.substr(0, target.find('?'));
}

Verdict JudgeHead(const RequestParser& parser, const HttpRoute* route) {
  const auto& req = parser.get();
  if (req.version() != 11 && req.version() != 10) {
    return Verdict::Refuse(505, "only HTTP/1.0 and HTTP/1.1 are served", CloseReason::kMalformed);
  }
  const bool is_post = req.method() == bhttp::verb::post;
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head &&
      !(is_post && route != nullptr && route->max_body > 0)) {
    if (route == nullptr) return NotFound();
    return Verdict::Refuse(
        405, absl::StrCat("this path answers GET and HEAD", route->max_body > 0 ? " and POST" : ""),
        {});
  }
  const bool has_body =
      parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
  if (!has_body) return route == nullptr ? NotFound() : Act(Verdict::Action::kDispatch);
  const size_t limit = (is_post && route != nullptr) ? route->max_body : 0;
  if (limit == 0)
    return Verdict::Refuse(413, "this path takes no request body", CloseReason::kMalformed);
  if (parser.content_length() && *parser.content_length() > limit) {
    return Verdict::Refuse(413, absl::StrCat("the request body is over ", limit, " bytes"),
                           CloseReason::kMalformed);
  }
  Verdict v = Act(Verdict::Action::kReadBody);
  v.body_limit = limit;
  v.expect_continue = absl::EqualsIgnoreCase(
      absl::string_view(req[bhttp::field::expect].data(), req[bhttp::field::expect].size()),
      "100-continue");
  return v;
}

bool KeepAlive(const RequestParser& parser) {
  return parser.get().version() == 11 && parser.get().keep_alive();
}

Verdict JudgeBodyError(const error_code& ec, const HttpRoute& route) {
  if (ec == bhttp::error::body_limit) {
    return Verdict::Refuse(413, absl::StrCat("the request body is over ", route.max_body, " bytes"),
                           CloseReason::kMalformed);
  }
  if (ec == asio::error::operation_aborted) return Act(Verdict::Action::kIgnore);
  if (ClientLeft(ec)) return Act(Verdict::Action::kClose);
  return Verdict::Refuse(400, absl::StrCat("bad request body (", ec.message(), ")"),
                         CloseReason::kMalformed);
}

void FillRequest(RequestParser& parser, std::string path, HttpRequest* out) {
  auto& req = parser.get();
  out->method = std::string(req.method_string());
  const beast::string_view target = req.target();
  const size_t q = target.find('?');
  out->path = std::move(path);
  out->query.clear();
  if (q != beast::string_view::npos) out->query = std::string(target.substr(q + 1));
  out->headers.clear();
  for (const auto& field : req) {
    out->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out->body = std::move(req.body());
}

HttpResponse Refusal(const Verdict& verdict, const HttpRoute* route) {
  HttpResponse resp;
  HttpFail(resp, verdict.status, verdict.why);
  if (verdict.status == 405 && route != nullptr) {
    resp.headers.emplace_back("Allow", route->max_body > 0 ? "GET, HEAD, POST" : "GET, HEAD");
  }
  return resp;
}

std::string ResponseHead(const HttpResponse& resp, size_t body_size, bool keep_alive) {
  std::string head =
      absl::StrCat("HTTP/1.1 ", resp.status, " ", HttpReason(resp.status), "\r\nContent-Type: ");
  AppendHeaderText(&head, resp.content_type);
  absl::StrAppend(&head, "\r\nCache-Control: no-store\r\nContent-Length: ", body_size, "\r\n");
  for (const auto& [name, value] : resp.headers) {
    AppendHeaderText(&head, name);
    head += ": ";
    AppendHeaderText(&head, value);
    head += "\r\n";
  }
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

}  // namespace http
}  // namespace vitals
