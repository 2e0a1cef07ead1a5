// Fuzz target: the bytes a client sends the agent's endpoint, through what the server does with
// them (agent/http/request_head.h: Beast's parser under the server's limits and the server's
// verdicts) to the agent's real routes (/metrics with its content negotiation and basic auth,
// /debug/pprof with its access rules and the symbol POST, /vitals.json, the page), without a
// socket. The first byte says how the client connected (bit 0: from loopback, bit 1: over TLS)
// and to which agent (bit 2: the one with basic auth on /metrics and profiling); the rest is the
// byte stream, up to 8 pipelined requests, read the way a connection reads it.
//
// Invariants: every refusal is one of the server's statuses with a reason; a dispatched request
// has a served method, the route's exact path, a body only where the route takes one and
// within its limit, and a head within the limit; every handler answers with a known status, a
// content type, header names that are tokens and values without CR, LF or NUL; /metrics
// answers in one of its three formats, gzipped when asked; the response head the server would
// write is well formed and its Content-Length is the body's size.
//
// Not run: the CPU profile handlers (they would profile for `seconds`); their requests still go
// through the parser and the verdicts.

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/http/request_head.h"
#include "agent/root/agent_access.h"
#include "tests/fuzz/fuzz_check.h"
#include "vitals/agent.h"

namespace {

namespace http = vitals::http;
using boost::system::error_code;
using vitals_fuzz::Show;

constexpr int kMaxRequests = 8;

struct Endpoint {
  std::unique_ptr<vitals::Agent> agent;
  std::vector<http::HttpRoute> routes;
  absl::flat_hash_map<std::string, const http::HttpRoute*> by_path;
};

// An agent with profiling on and every route: without credentials (profiling answers loopback
// clients only), or with basic auth on /metrics and on profiling.
Endpoint* MakeEndpoint(bool with_auth) {
  auto* e = new Endpoint;
  vitals::Options o;
  o.read_environment = false;
  o.profiling = true;
  o.process_metrics = false;  // no sampler thread: the target stays single-threaded
  if (with_auth) {
    o.metrics_basic_auth = "scraper:s3cret";
    o.profiling_basic_auth = "ops:pr0file";
  }
  e->agent = std::make_unique<vitals::Agent>(o);
  // A request series, so /metrics and /vitals.json have more than the agent's own to write.
  e->agent->Route("GET", "/users/:id").Record(200, absl::Milliseconds(3));
  e->routes = vitals::internal::AgentAccess::Impl(*e->agent).HttpRoutes();
  for (const http::HttpRoute& r : e->routes) e->by_path.emplace(r.path, &r);
  return e;
}

Endpoint& TheEndpoint(bool with_auth) {
  static Endpoint* open = MakeEndpoint(false);
  static Endpoint* guarded = MakeEndpoint(true);
  return with_auth ? *guarded : *open;
}

// FUZZ_TRACE=1: one line per exchange on stderr, to read where a seed goes.
const bool g_trace = std::getenv("FUZZ_TRACE") != nullptr;

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string("!#$%&'*+-.^_`|~").find(c) == std::string::npos) {
      return false;
    }
  }
  return true;
}

bool HasLineBreakOrNul(absl::string_view s) {
  return s.find_first_of(absl::string_view("\r\n\0", 3)) != absl::string_view::npos;
}

// Reads one head from `input` as a connection does: at most kMaxHeaderBytes are in its buffer
// at once, and the end of `input` is the client closing its end. Returns the bytes consumed.
size_t ReadHead(http::RequestParser& parser, absl::string_view input, error_code& ec) {
  const absl::string_view window = input.substr(0, http::kMaxHeaderBytes);
  size_t used = 0;
  while (!parser.is_header_done()) {
    used += parser.put(boost::asio::buffer(window.data() + used, window.size() - used), ec);
    if (ec != boost::beast::http::error::need_more) return used;
    ec = {};
    if (window.size() < input.size()) {  // the buffer is full and the head is not
      ec = boost::beast::http::error::buffer_overflow;
      return used;
    }
    parser.put_eof(ec);
    if (!ec) ec = boost::beast::http::error::partial_message;
    return used;
  }
  return used;
}

// Reads the body that follows, to the end of the message or of `input` (the client closing).
size_t ReadBody(http::RequestParser& parser, absl::string_view input, error_code& ec) {
  size_t used = 0;
  while (!parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
    used += n;
    if (ec == boost::beast::http::error::need_more) {
      ec = {};
    } else if (ec) {
      return used;
    }
    if (n == 0 && !parser.is_done()) {  // what is left cannot complete the message
      parser.put_eof(ec);
      if (!ec) ec = boost::beast::http::error::partial_message;
      return used;
    }
  }
  return used;
}

void CheckRefusal(const http::Verdict& v, const http::HttpRoute* route) {
  FUZZ_CHECK(v.status == 400 || v.status == 404 || v.status == 405 || v.status == 413 ||
                 v.status == 431 || v.status == 505,
             "refused with %d (%s)", v.status, v.why.c_str());
  FUZZ_CHECK(!v.why.empty(), "refused with %d and no reason", v.status);
  const http::HttpResponse resp = http::Refusal(v, route);
  FUZZ_CHECK(resp.status == v.status, "refusal %d answered %d", v.status, resp.status);
}

void CheckResponse(const http::HttpRequest& req, const http::HttpResponse& resp) {
  const std::string where = req.method + " " + Show(req.path);
  FUZZ_CHECK(resp.status >= 100 && resp.status <= 599 && http::HttpReason(resp.status) != "Unknown",
             "%s answered %d", where.c_str(), resp.status);
  FUZZ_CHECK(!resp.content_type.empty() && !HasLineBreakOrNul(resp.content_type),
             "%s: content type %s", where.c_str(), Show(resp.content_type).c_str());
  for (const auto& [name, value] : resp.headers) {
    FUZZ_CHECK(IsToken(name), "%s: header name %s", where.c_str(), Show(name).c_str());
    FUZZ_CHECK(!HasLineBreakOrNul(value), "%s: header %s: %s", where.c_str(), name.c_str(),
               Show(value).c_str());
  }
  const absl::string_view body = resp.body_view.data() != nullptr ? resp.body_view : resp.body;
  if (req.path == "/metrics" && resp.status == 200) {
    const absl::string_view type = resp.content_type;
    FUZZ_CHECK(absl::StartsWith(type, "text/plain; version=0.0.4") ||
                   absl::StartsWith(type, "application/openmetrics-text; version=1.0.0") ||
                   absl::StartsWith(type, "application/vnd.google.protobuf"),
               "/metrics answered %s", Show(type).c_str());
    bool gzipped = false;
    for (const auto& [name, value] : resp.headers) {
      gzipped |= absl::EqualsIgnoreCase(name, "Content-Encoding") && value == "gzip";
    }
    // gzip is allowed by naming it or "*" (any coding); never without either.
    const std::string accept = absl::AsciiStrToLower(req.header("Accept-Encoding"));
    const bool asked = absl::StrContains(accept, "gzip") || absl::StrContains(accept, "*");
    if (gzipped) {
      FUZZ_CHECK(body.size() >= 2 && body[0] == '\x1f' && body[1] == '\x8b',
                 "/metrics says gzip but its body is not");
    }
    if (!asked) FUZZ_CHECK(!gzipped, "/metrics gzipped for a client that did not ask");
  }
  if (resp.done) resp.done();

  // The head the server writes: status line, headers, blank line; Content-Length = body size.
  const std::string head = http::ResponseHead(resp, body.size(), false);
  FUZZ_CHECK(absl::StartsWith(head, "HTTP/1.1 ") && absl::EndsWith(head, "\r\n\r\n"), "head %s",
             Show(head).c_str());
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(head).substr(0, head.size() - 4), "\r\n");
  size_t length = ~size_t{0};
  for (size_t i = 0; i < lines.size(); ++i) {
    FUZZ_CHECK(!HasLineBreakOrNul(lines[i]), "head line %s", Show(lines[i]).c_str());
    if (i == 0) continue;
    const size_t colon = lines[i].find(':');
    FUZZ_CHECK(colon != absl::string_view::npos && IsToken(lines[i].substr(0, colon)),
               "head line %s", Show(lines[i]).c_str());
    if (lines[i].substr(0, colon) == "Content-Length") {
      FUZZ_CHECK(absl::SimpleAtoi(lines[i].substr(colon + 1), &length), "%s",
                 Show(lines[i]).c_str());
    }
  }
  FUZZ_CHECK(length == body.size(), "Content-Length %zu for a body of %zu", length, body.size());
}

// What a connection does with one request; false when it closes after it.
bool Exchange(Endpoint& endpoint, absl::string_view& input, uint8_t how) {
  http::RequestParser parser;
  http::PrepareParser(parser);
  error_code ec;
  const size_t head_bytes = ReadHead(parser, input, ec);
  FUZZ_CHECK(head_bytes <= input.size(), "consumed %zu of %zu", head_bytes, input.size());
  if (ec) {
    const http::Verdict v = http::JudgeHeadError(ec);
    FUZZ_CHECK(
        v.action == http::Verdict::Action::kClose || v.action == http::Verdict::Action::kRefuse,
        "head error %s gave action %d", ec.message().c_str(), static_cast<int>(v.action));
    if (v.action == http::Verdict::Action::kRefuse) CheckRefusal(v, nullptr);
    if (g_trace) std::fprintf(stderr, "head: %s -> %d\n", ec.message().c_str(), v.status);
    return false;
  }
  FUZZ_CHECK(head_bytes <= http::kMaxHeaderBytes, "a head of %zu bytes was accepted", head_bytes);
  input.remove_prefix(head_bytes);
  const auto target = parser.get().target();
  std::string path(http::TargetPath(absl::string_view(target.data(), target.size())));
  auto it = endpoint.by_path.find(path);
  const http::HttpRoute* route = it == endpoint.by_path.end() ? nullptr : it->second;
  const bool keep_alive = http::KeepAlive(parser);
  http::Verdict v = http::JudgeHead(parser, route);
  if (v.action == http::Verdict::Action::kRefuse) {
    CheckRefusal(v, route);
    if (g_trace) std::fprintf(stderr, "%s -> %d\n", Show(path).c_str(), v.status);
    return false;
  }
  if (v.action == http::Verdict::Action::kReadBody) {
    FUZZ_CHECK(route != nullptr && v.body_limit == route->max_body && v.body_limit > 0,
               "a body of up to %zu bytes for %s", v.body_limit, Show(path).c_str());
    parser.body_limit(v.body_limit);
    const size_t body_bytes = ReadBody(parser, input, ec);
    input.remove_prefix(std::min(body_bytes, input.size()));
    if (ec) {
      v = http::JudgeBodyError(ec, *route);
      if (v.action == http::Verdict::Action::kRefuse) CheckRefusal(v, route);
      if (g_trace) std::fprintf(stderr, "body: %s -> %d\n", ec.message().c_str(), v.status);
      return false;
    }
  } else {
    FUZZ_CHECK(v.action == http::Verdict::Action::kDispatch, "head verdict %d",
               static_cast<int>(v.action));
  }
  FUZZ_CHECK(route != nullptr, "dispatched %s, which no route serves", Show(path).c_str());

  http::HttpRequest req;
  http::FillRequest(parser, path, &req);
  req.from_loopback = (how & 1) != 0;
  req.tls = (how & 2) != 0;
  req.remote_address = req.from_loopback ? "127.0.0.1" : "192.0.2.7";
  FUZZ_CHECK(req.method == "GET" || req.method == "HEAD" || req.method == "POST",
             "dispatched method %s", Show(req.method).c_str());
  FUZZ_CHECK(req.method != "POST" || route->max_body > 0, "POST to %s", route->path.c_str());
  FUZZ_CHECK(req.path == route->path && req.path.find('?') == std::string::npos, "path %s",
             Show(req.path).c_str());
  FUZZ_CHECK(req.body.size() <= route->max_body, "a body of %zu bytes for %s", req.body.size(),
             route->path.c_str());
  size_t header_bytes = 0;
  for (const auto& [name, value] : req.headers) header_bytes += name.size() + value.size();
  FUZZ_CHECK(header_bytes <= http::kMaxHeaderBytes, "headers of %zu bytes", header_bytes);

  if (!absl::EndsWith(route->path, "pprof/profile")) {
    http::HttpResponse resp;
    route->handler(req, resp);
    if (g_trace) {
      std::fprintf(stderr, "%s %s -> %d %s (%zu bytes)\n", req.method.c_str(), req.path.c_str(),
                   resp.status, resp.content_type.c_str(),
                   resp.body_view.data() != nullptr ? resp.body_view.size() : resp.body.size());
    }
    CheckResponse(req, resp);
  }
  return keep_alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitals_fuzz::FuzzInput in(data, size);
  const uint8_t how = in.Byte();
  Endpoint& endpoint = TheEndpoint((how & 4) != 0);
  absl::string_view stream = in.Rest();
  for (int i = 0; i < kMaxRequests && !stream.empty(); ++i) {
    const size_t before = stream.size();
    if (!Exchange(endpoint, stream, how)) break;
    FUZZ_CHECK(stream.size() < before, "a kept-alive exchange consumed nothing");
  }
  return 0;
}
