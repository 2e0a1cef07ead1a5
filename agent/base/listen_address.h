// agent/base/listen_address.h: parsing `Options::listen`.

#ifndef VITALS_AGENT_BASE_LISTEN_ADDRESS_H_
#define VITALS_AGENT_BASE_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// Addresses of this host's loopback interface: 127.0.0.0/8, ::1, and 127.x mapped into IPv6
// (::ffff:127.0.0.1), as 4 or 16 bytes in network order. The one test of "is loopback": the
// HTTP server's for a peer (profiling without credentials), the agent's for its own address.
bool IsLoopbackBytes(const unsigned char* bytes, size_t size);
// The same for a host as text: a numeric address, or "localhost". False for anything else.
bool IsLoopbackHost(absl::string_view host);

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6 address, without brackets
  bool ipv6 = false;
  int port = 0;
  bool loopback() const { return IsLoopbackHost(host); }
};

// Accepts `A.B.C.D:PORT`, `[IPV6]:PORT`, `localhost:PORT`, and `:PORT` or a bare `PORT` (all
// IPv4 interfaces, as Prometheus exporters read `:9100`).
// Returns InvalidArgument naming the address and what is wrong with it.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_LISTEN_ADDRESS_H_
