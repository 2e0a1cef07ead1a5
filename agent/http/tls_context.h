// agent/http/tls_context.h: the endpoint's TLS settings, loaded with OpenSSL and reloaded when
// the files change.
//
// The same three settings as the Prometheus exporter toolkit's web config: a certificate chain
// and its private key (PEM), and optionally a client CA bundle; when that is set, every client
// must present a certificate signed by it (the toolkit's RequireAndVerifyClientCert). TLS 1.2
// is the lowest version offered. Certificates are re-read when a file's modification time
// changes (checked at most once a second, on new connections), so a rotated certificate is
// served without a restart; a reload that fails keeps the previous certificate and logs why.
//
// Thread-safety: `Current()` may be called from any thread.

#ifndef VITALS_AGENT_HTTP_TLS_CONTEXT_H_
#define VITALS_AGENT_HTTP_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "agent/base/mutex.h"
#include "agent/base/rate_limited_log.h"

namespace boost {
namespace asio {
namespace ssl {
class context;
}  // namespace ssl
}  // namespace asio
}  // namespace boost

namespace vitals {
namespace http {

struct TlsFiles {
  std::string cert_file;       // PEM certificate chain, leaf first
  std::string key_file;        // PEM private key of the leaf
  std::string client_ca_file;  // PEM CA bundle; empty = no client certificates asked for
  bool enabled() const { return !cert_file.empty(); }
};

class TlsContext {
 public:
  // Loads and checks the files (readable, PEM, the key matches the certificate). Errors:
  // InvalidArgument naming the file and OpenSSL's reason.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(const TlsFiles& files,
                                                            internal::RateLimitedLog* log);
  ~TlsContext();

  // The context to give the next connection: reloaded first if a file changed.
  std::shared_ptr<boost::asio::ssl::context> Current();

 private:
  TlsContext(TlsFiles files, internal::RateLimitedLog* log) : files_(std::move(files)), log_(log) {}
  // A new context from the files, or why not.
  static absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> Load(const TlsFiles& files);
  // The files' modification times, as one comparable string.
  std::string Stamp() const;

  const TlsFiles files_;
  internal::RateLimitedLog* log_;
  internal::Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_ ABSL_GUARDED_BY(mu_);
  std::string stamp_ ABSL_GUARDED_BY(mu_);
  int64_t next_check_nanos_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace http
}  // namespace vitals

#endif  // VITALS_AGENT_HTTP_TLS_CONTEXT_H_
