// ratelimit: the bucket arithmetic, the in-memory limiter and the Redis limiter (hiredis, one
// EVAL per admission and per release; releases go through a thread of their own because a request
// may end on an I/O thread).
#include "server/ratelimit.h"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "util/log.h"

namespace paddock::server {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t ceil_s(int64_t ms) { return std::max<int64_t>(1, (ms + 999) / 1000); }

}  // namespace

BucketCheck bucket_refill_check(Bucket& b, int64_t cap, int64_t now, double need) {
  if (b.fresh) {
    b.fresh = false;
    b.level = double(cap);
  } else if (now > b.at_ms) {
    b.level = std::min(double(cap), b.level + double(now - b.at_ms) * double(cap) / 60000.0);
  }
  b.at_ms = std::max(b.at_ms, now);
  BucketCheck c;
  c.level = b.level;
  c.ok = b.level >= need;
  if (!c.ok) c.retry_ms = int64_t(std::ceil((need - b.level) * 60000.0 / double(cap)));
  c.reset_ms = int64_t(std::ceil((double(cap) - b.level) * 60000.0 / double(cap)));
  return c;
}

void bucket_take(Bucket& b, int64_t cap, double n) { b.level = std::max(-double(cap), b.level - n); }

namespace {

// ---- in memory -------------------------------------------------------------------------------

class MemoryLimiter : public RateLimiter {
 public:
  explicit MemoryLimiter(Options o) : o_(std::move(o)) {}

  LimitDecision admit(const std::string& key_id, const RateLimits& key, std::string*) override {
    std::lock_guard lk(mu_);
    int64_t now = now_ms();
    struct Scope {
      State* st;
      const RateLimits* lim;
      const char* name;
    };
    std::vector<Scope> scopes;
    if (!key_id.empty() && key.any()) scopes.push_back({&keys_[key_id], &key, "key"});
    if (o_.global.any()) scopes.push_back({&global_, &o_.global, "global"});
    LimitDecision d;
    // Check every bucket first, take only when all pass.
    for (auto& s : scopes) {
      if (s.lim->requests_per_minute > 0) {
        auto c = bucket_refill_check(s.st->req, s.lim->requests_per_minute, now, 1);
        if (!c.ok) return refuse("requests", s.name, s.lim->requests_per_minute, c);
      }
      if (s.lim->tokens_per_minute > 0) {
        auto c = bucket_refill_check(s.st->tok, s.lim->tokens_per_minute, now, 1);
        if (!c.ok) return refuse("tokens", s.name, s.lim->tokens_per_minute, c);
      }
      if (s.lim->concurrent_streams > 0 && s.st->streams >= s.lim->concurrent_streams) {
        LimitDecision r;
        r.allowed = false;
        r.status = 429;
        r.limit_name = "streams";
        r.scope = s.name;
        r.headers = true;
        r.limit = s.lim->concurrent_streams;
        r.remaining = 0;
        r.reset_s = r.retry_after_s = 1;
        return r;
      }
    }
    bool first = true;
    for (auto& s : scopes) {
      if (s.lim->requests_per_minute > 0) {
        bucket_take(s.st->req, s.lim->requests_per_minute, 1);
        if (first) {
          d.headers = true;
          d.limit = s.lim->requests_per_minute;
          d.remaining = std::max<int64_t>(0, int64_t(std::floor(s.st->req.level)));
          d.reset_s = ceil_s(int64_t(std::ceil((double(d.limit) - s.st->req.level) * 60000.0 / double(d.limit))));
          first = false;
        }
      }
      if (s.lim->concurrent_streams > 0) s.st->streams++;
    }
    return d;
  }

  void release(const std::string& key_id, const RateLimits& key, const std::string&, int64_t tokens) override {
    std::lock_guard lk(mu_);
    int64_t now = now_ms();
    auto one = [&](State& st, const RateLimits& lim) {
      if (lim.concurrent_streams > 0 && st.streams > 0) st.streams--;
      if (lim.tokens_per_minute > 0 && tokens > 0) {
        bucket_refill_check(st.tok, lim.tokens_per_minute, now, 0);
        bucket_take(st.tok, lim.tokens_per_minute, double(tokens));
      }
    };
    if (!key_id.empty() && key.any()) one(keys_[key_id], key);
    if (o_.global.any()) one(global_, o_.global);
  }
  const RateLimits& global() const override { return o_.global; }

 private:
  struct State {
    Bucket req, tok;
    int64_t streams = 0;
  };
  static LimitDecision refuse(const char* what, const char* scope, int64_t limit, const BucketCheck& c) {
    LimitDecision r;
    r.allowed = false;
    r.status = 429;
    r.limit_name = what;
    r.scope = scope;
    r.headers = true;
    r.limit = limit;
    r.remaining = std::max<int64_t>(0, int64_t(std::floor(c.level)));
    r.retry_after_s = ceil_s(c.retry_ms);
    r.reset_s = ceil_s(c.reset_ms);
    return r;
  }
  Options o_;
  std::mutex mu_;
  std::map<std::string, State> keys_;  // one entry per key id seen (bounded by the keys file)
  State global_;
};

// ---- Redis -----------------------------------------------------------------------------------

// KEYS: key req, key tok, key streams, global req, global tok, global streams.
// ARGV: key rpm, key tpm, key streams, global rpm, global tpm, global streams, lease, stream ttl ms.
// Returns {allowed, limit name, scope (0 key, 1 global), limit, remaining, retry ms, reset ms}.
// Redis' clock (TIME) is the one clock every process shares.
constexpr const char* kAdmitScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[8])
local function level(key, cap)
  local v = redis.call('HMGET', key, 'l', 't')
  local l, at = tonumber(v[1]), tonumber(v[2])
  if not l then return cap end
  if now > at then l = l + (now - at) * cap / 60000 end
  if l > cap then l = cap end
  return l
end
local caps = {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])}
local keys = {KEYS[1], KEYS[2], KEYS[4], KEYS[5]}
local names = {'requests', 'tokens', 'requests', 'tokens'}
local lv = {}
for i = 1, 4 do
  if caps[i] > 0 then
    lv[i] = level(keys[i], caps[i])
    if lv[i] < 1 then
      return {0, names[i], i > 2 and 1 or 0, caps[i], math.max(0, math.floor(lv[i])),
              math.ceil((1 - lv[i]) * 60000 / caps[i]), math.ceil((caps[i] - lv[i]) * 60000 / caps[i])}
    end
  end
end
local sc = {tonumber(ARGV[3]), tonumber(ARGV[6])}
local sk = {KEYS[3], KEYS[6]}
for i = 1, 2 do
  if sc[i] > 0 then
    redis.call('ZREMRANGEBYSCORE', sk[i], '-inf', now - ttl)
    if redis.call('ZCARD', sk[i]) >= sc[i] then return {0, 'streams', i - 1, sc[i], 0, 1000, 1000} end
  end
end
for i = 1, 2 do
  if sc[i] > 0 then
    redis.call('ZADD', sk[i], now, ARGV[7])
    redis.call('PEXPIRE', sk[i], ttl)
  end
end
local hl, hr, hreset = 0, 0, 0
for i = 1, 4 do
  if caps[i] > 0 then
    local left = lv[i]
    if names[i] == 'requests' then
      left = left - 1
      if hl == 0 then
        hl, hr = caps[i], math.max(0, math.floor(left))
        hreset = math.ceil((caps[i] - left) * 60000 / caps[i])
      end
    end
    redis.call('HSET', keys[i], 'l', tostring(left), 't', now)
    redis.call('PEXPIRE', keys[i], 120000)
  end
end
return {1, '', 0, hl, hr, 0, hreset}
)lua";

// KEYS: key tok, key streams, global tok, global streams. ARGV: key tpm, global tpm, tokens, lease.
constexpr const char* kReleaseScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[3])
local caps = {tonumber(ARGV[1]), tonumber(ARGV[2])}
local tk = {KEYS[1], KEYS[3]}
local sk = {KEYS[2], KEYS[4]}
for i = 1, 2 do
  redis.call('ZREM', sk[i], ARGV[4])
  if caps[i] > 0 and n > 0 then
    local v = redis.call('HMGET', tk[i], 'l', 't')
    local l, at = tonumber(v[1]), tonumber(v[2])
    if not l then l, at = caps[i], now end
    if now > at then l = l + (now - at) * caps[i] / 60000 end
    if l > caps[i] then l = caps[i] end
    l = math.max(-caps[i], l - n)
    redis.call('HSET', tk[i], 'l', tostring(l), 't', now)
    redis.call('PEXPIRE', tk[i], 120000)
  end
end
return 1
)lua";

struct RedisTarget {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_path, password;
  int db = 0;
};

Result<RedisTarget> parse_redis_url(const std::string& url) {
  RedisTarget t;
  std::string rest;
  if (url.rfind("redis://", 0) == 0) rest = url.substr(8);
  else if (url.rfind("unix://", 0) == 0) {
    t.unix_path = url.substr(7);
    if (t.unix_path.empty()) return make_error(ErrorCode::kInvalidArgument, "ratelimit-redis: unix:// needs a path");
    return t;
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "ratelimit-redis: expected redis://[:password@]host[:port][/db] or unix:///path");
  }
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = cred.find(':');
    t.password = colon == std::string::npos ? cred : cred.substr(colon + 1);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      char* end = nullptr;
      long v = std::strtol(db.c_str(), &end, 10);
      if (*end || v < 0 || v > 10000)
        return make_error(ErrorCode::kInvalidArgument, "ratelimit-redis: bad database number");
      t.db = int(v);
    }
  }
  std::string host = rest;
  if (!host.empty() && host[0] == '[') {
    auto c = host.find(']');
    if (c == std::string::npos) return make_error(ErrorCode::kInvalidArgument, "ratelimit-redis: bad address");
    t.host = host.substr(1, c - 1);
    host = host.substr(c + 1);
    if (!host.empty() && host[0] == ':') host = host.substr(1);
    else host.clear();
    if (!host.empty()) t.port = std::atoi(host.c_str());
  } else if (auto c = host.rfind(':'); c != std::string::npos) {
    t.host = host.substr(0, c);
    t.port = std::atoi(host.c_str() + c + 1);
  } else if (!host.empty()) {
    t.host = host;
  }
  if (t.host.empty() || t.port <= 0 || t.port > 65535)
    return make_error(ErrorCode::kInvalidArgument, "ratelimit-redis: bad host or port");
  return t;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

class RedisLimiter : public RateLimiter {
 public:
  RedisLimiter(Options o, RedisTarget t) : o_(std::move(o)), t_(std::move(t)) {
    releaser_ = std::thread([this] { release_loop(); });
  }
  ~RedisLimiter() override {
    {
      std::lock_guard lk(rmu_);
      stop_ = true;
    }
    rcv_.notify_all();
    releaser_.join();
  }

  LimitDecision admit(const std::string& key_id, const RateLimits& key, std::string* lease) override {
    *lease = fmt::format("{:016x}{:08x}", uint64_t(now_ms()) ^ (uint64_t(::getpid()) << 40), ++lease_seq_);
    RateLimits k = key_id.empty() ? RateLimits{} : key;
    std::string kp = "paddock:rl:key:" + key_id, gp = "paddock:rl:global";
    std::vector<std::string> args = {"EVAL",
                                     kAdmitScript,
                                     "6",
                                     kp + ":req",
                                     kp + ":tok",
                                     kp + ":streams",
                                     gp + ":req",
                                     gp + ":tok",
                                     gp + ":streams",
                                     std::to_string(k.requests_per_minute),
                                     std::to_string(k.tokens_per_minute),
                                     std::to_string(k.concurrent_streams),
                                     std::to_string(o_.global.requests_per_minute),
                                     std::to_string(o_.global.tokens_per_minute),
                                     std::to_string(o_.global.concurrent_streams),
                                     *lease,
                                     std::to_string(o_.stream_ttl_ms)};
    std::string err;
    Reply r = command(args, &err);
    LimitDecision d;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
      if (err.empty()) err = r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply";
      store_error(err);
      lease->clear();
      if (o_.fail_open) return d;
      d.allowed = false;
      d.status = 503;
      d.limit_name = "store";
      d.retry_after_s = 1;
      return d;
    }
    auto num = [&](size_t i) {
      return r->element[i]->type == REDIS_REPLY_INTEGER ? int64_t(r->element[i]->integer) : 0;
    };
    d.allowed = num(0) == 1;
    if (!d.allowed) {
      d.status = 429;
      d.limit_name =
          r->element[1]->type == REDIS_REPLY_STRING ? std::string(r->element[1]->str, r->element[1]->len) : "";
      d.scope = num(2) ? "global" : "key";
      lease->clear();
    }
    d.limit = num(3);
    d.remaining = num(4);
    d.retry_after_s = ceil_s(num(5));
    d.reset_s = ceil_s(num(6));
    d.headers = d.limit > 0;
    return d;
  }

  void release(const std::string& key_id, const RateLimits& key, const std::string& lease, int64_t tokens) override {
    if (lease.empty() && tokens <= 0) return;
    {
      std::lock_guard lk(rmu_);
      if (releases_.size() > 100000) return;  // Redis gone for long: the slots expire by their TTL
      releases_.push_back({key_id, key_id.empty() ? RateLimits{} : key, lease, tokens});
    }
    rcv_.notify_one();
  }
  const RateLimits& global() const override { return o_.global; }

 private:
  struct Pending {
    std::string key_id;
    RateLimits key;
    std::string lease;
    int64_t tokens;
  };
  void release_loop() {
    for (;;) {
      Pending p;
      {
        std::unique_lock lk(rmu_);
        rcv_.wait(lk, [this] { return stop_ || !releases_.empty(); });
        if (releases_.empty()) return;
        p = std::move(releases_.front());
        releases_.pop_front();
      }
      std::string kp = "paddock:rl:key:" + p.key_id, gp = "paddock:rl:global";
      std::vector<std::string> args = {"EVAL",
                                       kReleaseScript,
                                       "4",
                                       kp + ":tok",
                                       kp + ":streams",
                                       gp + ":tok",
                                       gp + ":streams",
                                       std::to_string(p.key.tokens_per_minute),
                                       std::to_string(o_.global.tokens_per_minute),
                                       std::to_string(p.tokens),
                                       p.lease.empty() ? "-" : p.lease};
      std::string err;
      Reply r = command(args, &err);
      if (!r || r->type == REDIS_REPLY_ERROR) store_error(err.empty() && r ? std::string(r->str, r->len) : err);
    }
  }

  // One command on a pooled connection; a connection that failed is dropped (the next command
  // connects again, within the timeout).
  Reply command(const std::vector<std::string>& args, std::string* err) {
    Context c;
    {
      std::lock_guard lk(mu_);
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!c) {
      c = connect(err);
      if (!c) return nullptr;
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(redisCommandArgv(c.get(), int(argv.size()), argv.data(), lens.data())));
    if (!r || c->err) {
      *err = c->err ? c->errstr : "no reply";
      return nullptr;  // the connection is dropped
    }
    std::lock_guard lk(mu_);
    if (idle_.size() < 16) idle_.push_back(std::move(c));
    return r;
  }

  Context connect(std::string* err) {
    timeval tv{o_.redis_timeout_ms / 1000, (o_.redis_timeout_ms % 1000) * 1000};
    Context c(t_.unix_path.empty() ? redisConnectWithTimeout(t_.host.c_str(), t_.port, tv)
                                   : redisConnectUnixWithTimeout(t_.unix_path.c_str(), tv));
    if (!c || c->err) {
      *err = c ? std::string("connect: ") + c->errstr : "connect: out of memory";
      return nullptr;
    }
    redisSetTimeout(c.get(), tv);
    auto simple = [&](std::vector<std::string> a) -> bool {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (auto& x : a) {
        argv.push_back(x.data());
        lens.push_back(x.size());
      }
      Reply r(static_cast<redisReply*>(redisCommandArgv(c.get(), int(argv.size()), argv.data(), lens.data())));
      if (!r || c->err || r->type == REDIS_REPLY_ERROR) {
        *err = c->err ? c->errstr : r ? std::string(r->str, r->len) : "no reply";
        return false;
      }
      return true;
    };
    if (!t_.password.empty() && !simple({"AUTH", t_.password})) return nullptr;
    if (t_.db != 0 && !simple({"SELECT", std::to_string(t_.db)})) return nullptr;
    return c;
  }

  void store_error(const std::string& why) {
    if (o_.on_store_error) o_.on_store_error(why);
    int64_t now = now_ms();
    int64_t last = last_log_.load();
    if (now - last >= 10000 && last_log_.compare_exchange_strong(last, now))
      log::error("rate limit store (Redis) error: {}; requests are {} while it lasts", why,
                 o_.fail_open ? "admitted without limits (fail-open)" : "refused with 503 (fail-closed)");
  }

  Options o_;
  RedisTarget t_;
  std::mutex mu_;
  std::vector<Context> idle_;
  std::atomic<uint32_t> lease_seq_{0};
  std::atomic<int64_t> last_log_{-1000000};
  std::mutex rmu_;
  std::condition_variable rcv_;
  std::deque<Pending> releases_;
  bool stop_ = false;
  std::thread releaser_;
};

}  // namespace

Result<std::unique_ptr<RateLimiter>> RateLimiter::create(Options o) {
  if (o.redis_url.empty()) return std::unique_ptr<RateLimiter>(new MemoryLimiter(std::move(o)));
  ASSIGN_OR_RETURN(RedisTarget t, parse_redis_url(o.redis_url));
  return std::unique_ptr<RateLimiter>(new RedisLimiter(std::move(o), std::move(t)));
}

}  // namespace paddock::server
