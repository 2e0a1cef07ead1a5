// exporters/gzip.h: gzip compression of response bodies (zlib).

#ifndef VITALS_EXPORTERS_GZIP_H_
#define VITALS_EXPORTERS_GZIP_H_

#include <string>

#include "absl/strings/string_view.h"

namespace vitals {
namespace exporters {

// Replaces `out` with the gzip encoding of `in`. `out`'s capacity is reused. False on a zlib
// failure (then `out` is unspecified).
bool GzipCompress(absl::string_view in, std::string& out, int level = 1);

// True when an Accept-Encoding header value allows gzip (and does not give it q=0).
bool AcceptsGzip(absl::string_view accept_encoding);

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_GZIP_H_
