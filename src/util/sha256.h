// SHA-256 (OpenSSL EVP): incremental hashing for blobs and digests in Ollama's "sha256:<hex>" form.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace paddock {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> finish();
  std::string finish_hex();  // 64 lowercase hex characters

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
// Hashes a whole file by streaming it (no mmap, works for any size).
Result<std::string> sha256_file_hex(const std::string& path);

}  // namespace paddock
