// agent/base/gzip.h: gzip compression of response bodies (zlib).

#ifndef VITALS_AGENT_BASE_GZIP_H_
#define VITALS_AGENT_BASE_GZIP_H_

#include <string>

#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// Replaces `out` with the gzip encoding of `in`. `out`'s capacity is reused. False on a zlib
// failure (then `out` is unspecified).
bool GzipCompress(absl::string_view in, std::string& out, int level = 1);

// Replaces `out` with the data of the gzip stream `in`. False when `in` is not gzip, is cut
// short, or would inflate past `max_out` bytes.
bool GzipDecompress(absl::string_view in, std::string& out, size_t max_out = size_t{1} << 30);

// True when an Accept-Encoding header value allows gzip (and does not give it q=0).
bool AcceptsGzip(absl::string_view accept_encoding);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_GZIP_H_
