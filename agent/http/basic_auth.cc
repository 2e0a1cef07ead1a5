#include "agent/http/basic_auth.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vitals {
namespace http {
namespace {

// Compares without an early exit, so timing does not reveal how much of a guess was right.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  size_t diff = a.size() ^ b.size();
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char ca = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char cb = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= ca ^ cb;
  }
  return diff == 0;
}

}  // namespace

bool BasicAuthMatches(absl::string_view authorization, absl::string_view credentials) {
  absl::string_view auth = absl::StripAsciiWhitespace(authorization);
  std::string decoded;
  return absl::ConsumePrefix(&auth, "Basic ") &&
         absl::Base64Unescape(absl::StripAsciiWhitespace(auth), &decoded) &&
         ConstantTimeEquals(decoded, credentials);
}

bool CheckBasicAuth(const HttpRequest& req, absl::string_view credentials, absl::string_view realm,
                    HttpResponse& resp) {
  if (credentials.empty() || BasicAuthMatches(req.header("Authorization"), credentials)) {
    return true;
  }
  HttpFail(resp, 401, "this path needs the configured basic-auth credentials");
  resp.headers.emplace_back("WWW-Authenticate", absl::StrCat("Basic realm=\"", realm, "\""));
  return false;
}

}  // namespace http
}  // namespace vitals
