// What the server decides about a request's bytes (agent/http/request_head.h), apart from the
// socket: the verdicts on heads and bodies, and the response head it writes.

#include "agent/http/request_head.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <catch2/catch.hpp>
#include <string>

namespace {

namespace http = vitals::http;
using Action = http::Verdict::Action;

// Parses the head at the start of `bytes`; fails the test when it does not parse.
void ParseHead(http::RequestParser& parser, const std::string& bytes) {
  http::PrepareParser(parser);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(bytes), ec);
  INFO(ec.message());
  REQUIRE(!ec);
  REQUIRE(parser.is_header_done());
}

http::HttpRoute Route(const std::string& path, size_t max_body) {
  return http::HttpRoute{path, "", [](const http::HttpRequest&, http::HttpResponse&) {},
                         http::HttpLane::kScrape, max_body};
}

TEST_CASE("heads: what is dispatched, what is refused with which status", "[http]") {
  const http::HttpRoute metrics = Route("/metrics", 0);
  const http::HttpRoute symbol = Route("/debug/pprof/symbol", 1024);
  struct Case {
    std::string head;
    const http::HttpRoute* route;
    Action action;
    int status;
  };
  const Case cases[] = {
      {"GET /metrics?x=1 HTTP/1.1\r\n\r\n", &metrics, Action::kDispatch, 0},
      {"HEAD /metrics HTTP/1.0\r\n\r\n", &metrics, Action::kDispatch, 0},
      {"POST /metrics HTTP/1.1\r\n\r\n", &metrics, Action::kRefuse, 405},
      {"DELETE /nowhere HTTP/1.1\r\n\r\n", nullptr, Action::kRefuse, 404},
      {"GET /nowhere HTTP/1.1\r\n\r\n", nullptr, Action::kRefuse, 404},
      {"GET /nowhere HTTP/1.1\r\nContent-Length: 3\r\n\r\n", nullptr, Action::kRefuse, 413},
      {"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &metrics, Action::kRefuse, 413},
      {"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &metrics, Action::kRefuse,
       413},
      {"POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 1025\r\n\r\n", &symbol,
       Action::kRefuse, 413},
      {"POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 1024\r\n\r\n", &symbol,
       Action::kReadBody, 0},
      {"POST /debug/pprof/symbol HTTP/1.1\r\n\r\n", &symbol, Action::kDispatch, 0},
  };
  for (const Case& c : cases) {
    INFO(c.head);
    http::RequestParser parser;
    ParseHead(parser, c.head);
    const http::Verdict v = http::JudgeHead(parser, c.route);
    CHECK(v.action == c.action);
    CHECK(v.status == c.status);
    if (v.action == Action::kRefuse) CHECK(!v.why.empty());
    if (v.action == Action::kReadBody) CHECK(v.body_limit == 1024);
  }
}

TEST_CASE("heads: a 405 names the methods the path answers", "[http]") {
  const http::HttpRoute metrics = Route("/metrics", 0);
  const http::HttpRoute symbol = Route("/debug/pprof/symbol", 1024);
  http::RequestParser parser;
  ParseHead(parser, "PUT /metrics HTTP/1.1\r\n\r\n");
  http::HttpResponse resp = http::Refusal(http::JudgeHead(parser, &metrics), &metrics);
  CHECK(resp.status == 405);
  REQUIRE(resp.headers.size() == 1);
  CHECK(resp.headers[0] == std::make_pair(std::string("Allow"), std::string("GET, HEAD")));
  http::RequestParser put_symbol;
  ParseHead(put_symbol, "PUT /debug/pprof/symbol HTTP/1.1\r\n\r\n");
  resp = http::Refusal(http::JudgeHead(put_symbol, &symbol), &symbol);
  CHECK(resp.headers.at(0).second == "GET, HEAD, POST");
}

TEST_CASE("heads: 100-continue is honoured only for a body the route takes", "[http]") {
  const http::HttpRoute symbol = Route("/debug/pprof/symbol", 1024);
  http::RequestParser parser;
  ParseHead(
      parser,
      "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 8\r\nExpect: 100-Continue\r\n\r\n");
  const http::Verdict v = http::JudgeHead(parser, &symbol);
  CHECK(v.action == Action::kReadBody);
  CHECK(v.expect_continue);
}

TEST_CASE("heads that do not parse: the client left, too long, or not HTTP/1.x", "[http]") {
  namespace beast_http = boost::beast::http;
  CHECK(http::JudgeHeadError(beast_http::error::end_of_stream).action == Action::kClose);
  CHECK(http::JudgeHeadError(beast_http::error::partial_message).action == Action::kClose);
  CHECK(http::JudgeHeadError(beast_http::error::header_limit).status == 431);
  CHECK(http::JudgeHeadError(beast_http::error::buffer_overflow).status == 431);
  CHECK(http::JudgeHeadError(beast_http::error::bad_method).status == 400);
  const http::HttpRoute symbol = Route("/debug/pprof/symbol", 1024);
  CHECK(http::JudgeBodyError(beast_http::error::body_limit, symbol).status == 413);
  CHECK(http::JudgeBodyError(beast_http::error::partial_message, symbol).action == Action::kClose);
  CHECK(http::JudgeBodyError(beast_http::error::bad_chunk, symbol).status == 400);
}

TEST_CASE("the request a handler sees: path, query, headers and body as sent", "[http]") {
  http::RequestParser parser;
  ParseHead(parser, "GET /vitals.json?refresh=5&x HTTP/1.1\r\nX-One: a b\r\nx-two: \r\n\r\n");
  http::HttpRequest req;
  http::FillRequest(parser, "/vitals.json", &req);
  CHECK(req.method == "GET");
  CHECK(req.path == "/vitals.json");
  CHECK(req.query == "refresh=5&x");
  CHECK(req.header("x-one") == "a b");
  REQUIRE(req.headers.size() == 2);
  CHECK(req.headers[1].first == "x-two");
  CHECK(http::TargetPath("/a?b?c") == "/a");
  CHECK(http::TargetPath("/a") == "/a");
}

TEST_CASE("a header a handler sets cannot end the response head early", "[http]") {
  http::HttpResponse resp;
  resp.content_type = "text/plain\r\nX-Injected: 1";
  resp.headers.emplace_back("X-Name\r\n", "v1\r\nSet-Cookie: stolen=1");
  const std::string head = http::ResponseHead(resp, 12, false);
  CHECK(head ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain  X-Injected: 1\r\nCache-Control: "
        "no-store\r\nContent-Length: 12\r\nX-Name  : v1  Set-Cookie: stolen=1\r\nConnection: "
        "close\r\n\r\n");
  CHECK(http::ResponseHead(http::HttpResponse(), 0, true).find("Connection") == std::string::npos);
}

}  // namespace
