// Fuzz target: listen-address parsing (VITALS_LISTEN, agent/base/listen_address.h). Invariants:
// an accepted address has a port in 0..65535 and a numeric host of its family; printed back
// as HOST:PORT or [HOST]:PORT it parses to the same address; a refusal is InvalidArgument whose
// message quotes at most 200 bytes of the input.

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/base/listen_address.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = vitals::internal::ParseListenAddress(text);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               parsed.status().ToString().c_str());
    FUZZ_CHECK(parsed.status().message().size() <= 200 + 160, "a message of %zu bytes",
               parsed.status().message().size());
    return 0;
  }
  FUZZ_CHECK(parsed->port >= 0 && parsed->port <= 65535, "port %d", parsed->port);
  unsigned char buf[16];
  FUZZ_CHECK(inet_pton(parsed->ipv6 ? AF_INET6 : AF_INET, parsed->host.c_str(), buf) == 1,
             "host %s", vitals_fuzz::Show(parsed->host).c_str());
  const std::string again = parsed->ipv6 ? absl::StrCat("[", parsed->host, "]:", parsed->port)
                                         : absl::StrCat(parsed->host, ":", parsed->port);
  auto reparsed = vitals::internal::ParseListenAddress(again);
  FUZZ_CHECK(reparsed.ok() && reparsed->host == parsed->host && reparsed->port == parsed->port &&
                 reparsed->ipv6 == parsed->ipv6,
             "%s does not parse back the same", vitals_fuzz::Show(again).c_str());
  return 0;
}
