// tls: builds an OpenSSL server context from the configured files, with the protocol floor and
// cipher list fixed here (not configurable: the point is that nobody can turn them down).
#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>

#include "server/tls_context.h"

namespace paddock::server {

namespace {

// TLS 1.2: ECDHE key exchange with AEAD ciphers only (forward secrecy; no CBC, RSA key exchange,
// SHA-1 MACs or 3DES). TLS 1.3 uses OpenSSL's default suites, which are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<std::shared_ptr<TlsContext>> build(const TlsOptions& o, int64_t* not_after) {
  namespace ssl = boost::asio::ssl;
  if (o.cert_file.empty() || o.key_file.empty())
    return make_error(ErrorCode::kInvalidArgument, "TLS needs both --tls-cert and --tls-key");
  ERR_clear_error();
  auto t = std::make_shared<TlsContext>();
  SSL_CTX* c = t->ctx.native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 || SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") != 1)
    return make_error(ErrorCode::kInternal, "TLS: cannot set the cipher list: {}", openssl_errors());
  if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1)
    return make_error(ErrorCode::kInvalidArgument, "TLS certificate {}: {}", o.cert_file, openssl_errors());
  if (SSL_CTX_use_PrivateKey_file(c, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return make_error(ErrorCode::kInvalidArgument, "TLS key {}: {}", o.key_file, openssl_errors());
  if (SSL_CTX_check_private_key(c) != 1)
    return make_error(ErrorCode::kInvalidArgument, "TLS key {} does not match the certificate {}", o.key_file,
                      o.cert_file);
  if (!o.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, o.client_ca_file.c_str(), nullptr) != 1)
      return make_error(ErrorCode::kInvalidArgument, "TLS client CA {}: {}", o.client_ca_file, openssl_errors());
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str());
    if (!names) return make_error(ErrorCode::kInvalidArgument, "TLS client CA {}: no certificates", o.client_ca_file);
    SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Session resumption with client verification needs a context id.
    static const unsigned char kSid[] = "paddock";
    SSL_CTX_set_session_id_context(c, kSid, sizeof kSid - 1);
  }
  *not_after = 0;
  if (X509* x = SSL_CTX_get0_certificate(c)) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) *not_after = int64_t(timegm(&tm));
  }
  return t;
}

}  // namespace

Result<std::shared_ptr<TlsProvider>> TlsProvider::create(TlsOptions opts) {
  std::shared_ptr<TlsProvider> p(new TlsProvider(std::move(opts)));
  RETURN_IF_ERROR(p->reload());
  return p;
}

Status TlsProvider::reload() {
  int64_t na = 0;
  ASSIGN_OR_RETURN(auto ctx, build(opts_, &na));
  std::lock_guard lk(mu_);
  cur_ = std::move(ctx);
  not_after_ = na;
  return Status::Ok();
}

std::shared_ptr<TlsContext> TlsProvider::current() const {
  std::lock_guard lk(mu_);
  return cur_;
}

int64_t TlsProvider::not_after() const {
  std::lock_guard lk(mu_);
  return not_after_;
}

}  // namespace paddock::server
