// audit: formats entries as JSON lines and appends them on the log's own thread.
#include "server/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

namespace paddock::server {

std::string format_audit(const AuditEntry& e, int64_t unix_ms) {
  std::time_t t = std::time_t(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[40];
  size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(ts + n, sizeof ts - n, ".%03dZ", int(unix_ms % 1000));
  nlohmann::ordered_json j;
  j["time"] = ts;
  j["event"] = e.event;
  j["key_id"] = e.key_id.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.key_id);
  j["role"] = e.role.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.role);
  j["method"] = e.method;
  j["route"] = e.route;
  j["model"] = e.model.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.model);
  j["status"] = e.status;
  if (!e.reason.empty()) j["reason"] = e.reason;
  j["client"] = e.client;
  j["bytes"] = e.bytes;
  j["duration_s"] = std::round(e.duration_s * 1e6) / 1e6;
  if (e.with_content) {
    j["prompt"] = e.prompt;
    j["output"] = e.output;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
  std::unique_ptr<AuditLog> a(new AuditLog());
  if (!path.empty() && path != "-") {
    a->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (a->fd_ < 0) return make_error(ErrorCode::kIo, "audit log {}: cannot open: {}", path, std::strerror(errno));
    a->own_fd_ = true;
  }
  a->thread_ = std::thread([p = a.get()] { p->run(); });
  return a;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (own_fd_) ::close(fd_);
}

void AuditLog::write(const AuditEntry& e) {
  int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::string line = format_audit(e, ms) + "\n";
  {
    std::lock_guard lk(mu_);
    if (q_.size() >= kMaxQueued) {
      dropped_++;
      return;
    }
    q_.push_back(std::move(line));
  }
  cv_.notify_one();
}

uint64_t AuditLog::dropped() const {
  std::lock_guard lk(mu_);
  return dropped_;
}

void AuditLog::flush() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [this] { return q_.empty() && !writing_; });
}

void AuditLog::run() {
  for (;;) {
    std::string batch;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;
      while (!q_.empty() && batch.size() < (1u << 20)) {
        batch += q_.front();
        q_.pop_front();
      }
      writing_ = true;
    }
    // One write per batch of whole lines: O_APPEND keeps lines whole among several writers.
    size_t off = 0;
    while (off < batch.size()) {
      ssize_t n = ::write(fd_, batch.data() + off, batch.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += size_t(n);
    }
    std::lock_guard lk(mu_);
    writing_ = false;
    if (q_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace paddock::server
