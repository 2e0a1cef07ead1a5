// agent/http/basic_auth.h: HTTP basic authentication against one configured "user:password".
//
// Used by /metrics (VITALS_METRICS_BASIC_AUTH) and /debug/pprof (VITALS_PROFILING_BASIC_AUTH).
// The comparison takes the same time however much of a guess is right.

#ifndef VITALS_AGENT_HTTP_BASIC_AUTH_H_
#define VITALS_AGENT_HTTP_BASIC_AUTH_H_

#include <string>

#include "absl/strings/string_view.h"
#include "agent/http/http_route.h"

namespace vitals {
namespace http {

// True when `authorization` (an Authorization header value) carries `credentials`
// ("user:password") as basic auth.
bool BasicAuthMatches(absl::string_view authorization, absl::string_view credentials);

// When `credentials` is empty, or the request carries them: true. Otherwise false, with `resp`
// set to 401 and a WWW-Authenticate challenge for `realm`.
bool CheckBasicAuth(const HttpRequest& req, absl::string_view credentials, absl::string_view realm,
                    HttpResponse& resp);

}  // namespace http
}  // namespace vitals

#endif  // VITALS_AGENT_HTTP_BASIC_AUTH_H_
