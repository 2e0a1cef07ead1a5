#include "agent/base/web_escape.h"

#include <catch2/catch.hpp>
#include <string>

namespace {

std::string Json(absl::string_view s) {
  std::string out;
  vitals::internal::AppendJsonString(out, s);
  return out;
}

std::string Html(absl::string_view s) {
  std::string out;
  vitals::internal::AppendHtmlEscaped(out, s);
  return out;
}

TEST_CASE("JSON strings escape quotes, backslashes, controls and bad UTF-8", "[escape]") {
  CHECK(Json("/users/:id") == "\"/users/:id\"");
  CHECK(Json("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(Json("line\nnext\ttab\r") == "\"line\\nnext\\ttab\\r\"");
  CHECK(Json(absl::string_view("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\\u007f\"");
  CHECK(Json("</script>") == "\"\\u003c/script>\"");
  CHECK(Json("caf\xc3\xa9 \xe2\x82\xac") == "\"caf\xc3\xa9 \xe2\x82\xac\"");  // valid: kept
  CHECK(Json("bad \xff\xc3") == "\"bad \\ufffd\\ufffd\"");
  CHECK(Json(absl::string_view("nul\0", 4)) == "\"nul\\u0000\"");
}

TEST_CASE("HTML text escapes the five special characters", "[escape]") {
  CHECK(Html("<a href=\"x\">O'Neil & co</a>") ==
        "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;");
  CHECK(Html("plain /users/:id") == "plain /users/:id");
}

}  // namespace
