// audit: the audit log — one JSON line per admin action and per authentication or authorization
// failure (key id, never the secret; role, route, model, status, bytes, client address,
// duration), appended to a file or written to stderr by a thread of its own, so no request
// thread waits on the disk. Prompts and outputs are never in it.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "util/status.h"

namespace paddock::server {

struct AuditEntry {
  std::string event;   // "admin", "auth_failure", "forbidden"
  std::string key_id;  // "" without a (valid) key
  std::string role;
  std::string method, route, model;
  int status = 0;
  std::string reason;  // why it failed: missing_key, invalid_key, role, model, ...
  std::string client;
  uint64_t bytes = 0;  // response bytes
  double duration_s = 0;
  // --log-prompts only: the request body and the response (each cut at 64 KiB).
  bool with_content = false;
  std::string prompt, output;
};

// One JSON object (no newline). The time is UTC with milliseconds.
std::string format_audit(const AuditEntry& e, int64_t unix_ms);

class AuditLog {
 public:
  // path "" or "-" = stderr; a file is opened for appending (O_APPEND, 0600) now.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();
  // Never blocks on I/O: queues the line (at most kMaxQueued; more are counted as dropped).
  void write(const AuditEntry& e);
  uint64_t dropped() const;
  // Waits until what was queued is written (tests, shutdown).
  void flush();
  static constexpr size_t kMaxQueued = 65536;

 private:
  AuditLog() = default;
  void run();
  int fd_ = 2;
  bool own_fd_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::string> q_;
  bool writing_ = false, stop_ = false;
  uint64_t dropped_ = 0;
  std::thread thread_;
};

}  // namespace paddock::server
