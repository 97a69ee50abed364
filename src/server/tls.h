// tls: the server's TLS settings (OpenSSL through Asio) — certificate and key, TLS 1.2 at least
// (1.3 preferred), forward-secret AEAD ciphers only, optional client certificates (mTLS) — and
// the holder that swaps in a new certificate on reload while open connections keep the old one.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "util/status.h"

namespace paddock::server {

struct TlsOptions {
  std::string cert_file;       // PEM chain, leaf first
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CA bundle: when set, clients must present a certificate it signed
};

// One loaded configuration; what a connection holds on to (opaque outside tls.cpp and http.cpp).
class TlsContext;

class TlsProvider {
 public:
  // Loads the files; an error names the file and what is wrong with it.
  static Result<std::shared_ptr<TlsProvider>> create(TlsOptions opts);
  // Reads the files again; on success new connections use them, on failure the current ones stay.
  Status reload();
  std::shared_ptr<TlsContext> current() const;
  // notAfter of the current certificate (Unix seconds; 0 if unknown).
  int64_t not_after() const;
  const TlsOptions& options() const { return opts_; }

 private:
  explicit TlsProvider(TlsOptions opts) : opts_(std::move(opts)) {}
  TlsOptions opts_;
  mutable std::mutex mu_;
  std::shared_ptr<TlsContext> cur_;
  int64_t not_after_ = 0;
};

}  // namespace paddock::server
