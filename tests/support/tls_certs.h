// tests/support/tls_certs.h: certificate authorities and certificates made for one test with
// the real `openssl` command (Debian's openssl package; scripts/bootstrap installs it).

#ifndef VITALS_TESTS_SUPPORT_TLS_CERTS_H_
#define VITALS_TESTS_SUPPORT_TLS_CERTS_H_

#include <string>

namespace vitals_test {

struct CertFiles {
  std::string cert;  // PEM
  std::string key;   // PEM
};

// A self-signed CA called `name` in `dir` (name.crt, name.key). Empty paths on failure, with
// openssl's output in `*error`.
CertFiles MakeCa(const std::string& dir, const std::string& name, std::string* error);

// A certificate called `name`, signed by `ca`, for 127.0.0.1 and localhost, usable by servers
// and clients.
CertFiles MakeCert(const std::string& dir, const CertFiles& ca, const std::string& name,
                   std::string* error);

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_TLS_CERTS_H_
