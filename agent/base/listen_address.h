// agent/base/listen_address.h: parsing `Options::listen`.

#ifndef VITALS_AGENT_BASE_LISTEN_ADDRESS_H_
#define VITALS_AGENT_BASE_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6 address, without brackets
  bool ipv6 = false;
  int port = 0;
};

// Accepts `A.B.C.D:PORT`, `[IPV6]:PORT`, `localhost:PORT`, and `:PORT` or a bare `PORT` (all
// IPv4 interfaces, as Prometheus exporters read `:9100`).
// Returns InvalidArgument naming the address and what is wrong with it.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_LISTEN_ADDRESS_H_
