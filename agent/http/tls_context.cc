#include "agent/http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace vitals {
namespace http {
namespace {

namespace ssl = boost::asio::ssl;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// OpenSSL's most recent error, for a message.
std::string OpenSslReason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

absl::Status Readable(absl::string_view what, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", path, "\" cannot be read: ", std::strerror(errno)));
  }
  std::fclose(f);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> TlsContext::Load(const TlsFiles& files) {
  if (absl::Status s = Readable("VITALS_TLS_CERT_FILE", files.cert_file); !s.ok()) return s;
  if (files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "VITALS_TLS_CERT_FILE is set but VITALS_TLS_KEY_FILE is not: both are needed for TLS");
  }
  if (absl::Status s = Readable("VITALS_TLS_KEY_FILE", files.key_file); !s.ok()) return s;
  if (!files.client_ca_file.empty()) {
    if (absl::Status s = Readable("VITALS_TLS_CLIENT_CA_FILE", files.client_ca_file); !s.ok()) {
      return s;
    }
  }
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(native, files.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("VITALS_TLS_CERT_FILE \"", files.cert_file,
                     "\" is not a PEM certificate chain: ", OpenSslReason()));
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string reason = OpenSslReason();
    return absl::InvalidArgumentError(absl::StrCat(
        "VITALS_TLS_KEY_FILE \"", files.key_file, "\"",
        reason.find("mismatch") != std::string::npos
            ? absl::StrCat(" does not match the certificate in \"", files.cert_file, "\"")
            : " is not a PEM private key",
        ": ", reason));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("VITALS_TLS_KEY_FILE \"", files.key_file,
                                                   "\" does not match the certificate in \"",
                                                   files.cert_file, "\": ", OpenSslReason()));
  }
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, files.client_ca_file.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("VITALS_TLS_CLIENT_CA_FILE \"", files.client_ca_file,
                       "\" is not a PEM CA bundle: ", OpenSslReason()));
    }
    // Name the acceptable CAs in the handshake, as Go's servers do.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(native, names);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  ERR_clear_error();
  return ctx;
}

std::string TlsContext::Stamp() const {
  std::string stamp;
  for (const std::string* path : {&files_.cert_file, &files_.key_file, &files_.client_ca_file}) {
    struct stat st {};
    if (!path->empty() && stat(path->c_str(), &st) == 0) {
      absl::StrAppend(&stamp, st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "/", st.st_size, ";");
    } else {
      stamp += "-;";
    }
  }
  return stamp;
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(const TlsFiles& files,
                                                               internal::RateLimitedLog* log) {
  std::unique_ptr<TlsContext> tls(new TlsContext(files, log));
  tls->stamp_ = tls->Stamp();
  auto ctx = Load(files);
  if (!ctx.ok()) return ctx.status();
  tls->context_ = *std::move(ctx);
  tls->next_check_nanos_ = NowNanos() + 1000000000;
  return tls;
}

TlsContext::~TlsContext() = default;

std::shared_ptr<ssl::context> TlsContext::Current() {
  internal::MutexLock lock(&mu_);
  const int64_t now = NowNanos();
  if (now < next_check_nanos_) return context_;
  next_check_nanos_ = now + 1000000000;
  std::string stamp = Stamp();
  if (stamp == stamp_) return context_;
  stamp_ = std::move(stamp);
  auto fresh = Load(files_);
  if (fresh.ok()) {
    context_ = *std::move(fresh);
    if (log_ != nullptr) log_->Log(LogSeverity::kInfo, "TLS certificate files changed: reloaded");
  } else if (log_ != nullptr) {
    log_->Log(LogSeverity::kWarning,
              absl::StrCat("TLS certificate files changed but cannot be loaded (keeping the "
                           "previous certificate): ",
                           fresh.status().message()));
  }
  return context_;
}

}  // namespace http
}  // namespace vitals
