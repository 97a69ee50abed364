// ratelimit: token buckets per key and global — requests per minute, generated tokens per minute —
// and caps on concurrent generation requests ("streams"). In memory by default; in Redis
// (--ratelimit-redis) one Lua script per check keeps every bucket of a request consistent across
// server processes sharing it. Checks run on the request pool (a Redis round trip), never on an
// I/O thread.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/auth.h"
#include "util/status.h"

namespace paddock::server {

// One bucket's state: `level` tokens at `at_ms` (level < 0 after a debit past zero).
struct Bucket {
  double level = 0;
  int64_t at_ms = 0;
  bool fresh = true;  // never used: full
};
struct BucketCheck {
  bool ok = true;
  double level = 0;      // after the refill (before the take)
  int64_t retry_ms = 0;  // when `need` tokens will be there (not ok)
  int64_t reset_ms = 0;  // when the bucket will be full again
};
// Refills `b` at capacity per minute up to capacity, then checks that `need` tokens are there.
BucketCheck bucket_refill_check(Bucket& b, int64_t capacity, int64_t now_ms, double need);
// Takes `n` from a refilled bucket; it may go below zero down to -capacity (tokens counted after
// the request that spent them).
void bucket_take(Bucket& b, int64_t capacity, double n);

struct LimitDecision {
  bool allowed = true;
  int status = 0;          // 429 (a limit) or 503 (the Redis store is down and fail-closed)
  std::string limit_name;  // "requests", "tokens", "streams", "store"
  std::string scope;       // "key" or "global"
  // X-RateLimit-*: the limit that refused, or (allowed) the requests bucket in force.
  bool headers = false;
  int64_t limit = 0, remaining = 0, reset_s = 0, retry_after_s = 0;
};

class RateLimiter {
 public:
  struct Options {
    RateLimits global;
    std::string redis_url;  // "" = in memory
    bool fail_open = true;  // Redis unreachable: admit (true) or refuse with 503
    int redis_timeout_ms = 500;
    int64_t stream_ttl_ms = 3600 * 1000;  // a stream slot a crashed process left is freed after this
    // Redis errors (metrics, logs): called with a short reason.
    std::function<void(const std::string&)> on_store_error;
  };
  virtual ~RateLimiter() = default;
  static Result<std::unique_ptr<RateLimiter>> create(Options o);
  // Checks and takes: one request from the request buckets, a stream slot, and the token buckets
  // must not be empty. Allowed → `lease` names the stream slot for release(). Blocking (Redis).
  virtual LimitDecision admit(const std::string& key_id, const RateLimits& key, std::string* lease) = 0;
  // The request ended: frees its stream slot, takes its generated tokens. Never blocks.
  virtual void release(const std::string& key_id, const RateLimits& key, const std::string& lease,
                       int64_t generated_tokens) = 0;
  // Limits apply at all (global ones configured, or keys may carry their own).
  virtual const RateLimits& global() const = 0;
};

}  // namespace paddock::server
