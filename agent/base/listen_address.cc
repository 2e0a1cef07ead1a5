#include "agent/base/listen_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {

bool IsLoopbackBytes(const unsigned char* bytes, size_t size) {
  if (size == 4) return bytes[0] == 127;
  if (size != 16) return false;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes, kMapped, 12) == 0) return bytes[12] == 127;
  for (size_t i = 0; i < 15; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[15] == 1;  // ::1
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost") return true;
  const std::string text(host);
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return IsLoopbackBytes(buf, 4);
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return IsLoopbackBytes(buf, 16);
  return false;
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", text.substr(0, 200), "\": ", why,
                     " (want HOST:PORT, [IPV6]:PORT, :PORT or PORT)"));
  };
  ListenAddress out;
  absl::string_view host, port;
  if (!text.empty() && text.find_first_not_of("0123456789") == absl::string_view::npos) {
    port = text;  // a bare port, as `--web.listen-address=9100` is often written: all interfaces
  } else if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("missing ':PORT' after ']'");
    port = rest.substr(1);
    out.ipv6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return bad("missing ':PORT'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) return bad("IPv6 addresses need brackets");
  }
  int port_number = -1;
  if (port.empty() || !absl::SimpleAtoi(port, &port_number) || port_number < 0 ||
      port_number > 65535 || port.find_first_not_of("0123456789") != absl::string_view::npos) {
    return bad("port must be a number from 0 to 65535");
  }
  out.port = port_number;
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  std::string host_str(host);
  unsigned char buf[16];
  if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, host_str.c_str(), buf) != 1) {
    return bad(out.ipv6 ? "not a numeric IPv6 address" : "not a numeric IPv4 address");
  }
  out.host = std::move(host_str);
  return out;
}

}  // namespace internal
}  // namespace vitals
