#include "agent/base/gzip.h"

#include <zlib.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vitals {
namespace internal {

bool GzipCompress(absl::string_view in, std::string& out, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&zs, in.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return false;
  out.resize(produced);
  return true;
}

bool GzipDecompress(absl::string_view in, std::string& out, size_t max_out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out.clear();
  char buf[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_out || (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)) break;
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END && out.size() <= max_out;
}

bool AcceptsGzip(absl::string_view accept_encoding) {
  // RFC 9110 12.5.3: gzip's own weight when it is listed, else the weight of "*" when that is;
  // a weight of 0 refuses. Codings and the "q" parameter are case-insensitive.
  std::optional<double> gzip_q, any_q;
  for (absl::string_view part : absl::StrSplit(accept_encoding, ',')) {
    std::vector<absl::string_view> params = absl::StrSplit(part, ';');
    absl::string_view coding = absl::StripAsciiWhitespace(params[0]);
    const bool gzip = absl::EqualsIgnoreCase(coding, "gzip");
    if (!gzip && coding != "*") continue;
    double q = 1;
    for (size_t i = 1; i < params.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(params[i]);
      if ((absl::ConsumePrefix(&p, "q=") || absl::ConsumePrefix(&p, "Q=")) &&
          !absl::SimpleAtod(p, &q)) {
        q = 0;
      }
    }
    std::optional<double>& slot = gzip ? gzip_q : any_q;
    if (!slot.has_value()) slot = q;  // the first mention counts
  }
  if (gzip_q.has_value()) return *gzip_q > 0;
  return any_q.has_value() && *any_q > 0;
}

}  // namespace internal
}  // namespace vitals
