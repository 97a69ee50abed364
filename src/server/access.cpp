// access: the router's access control — API key and role on the I/O thread (a lookup and one
// HMAC), the model allow-list and rate limits in the request's work on the pool, and the audit
// entries for admin actions and refusals.
#include <chrono>

#include "server/app.h"
#include "util/log.h"

namespace paddock::server {

namespace {

constexpr size_t kPromptCap = 64u << 10;  // --log-prompts: bytes of a prompt or an output kept

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_openai(const HttpRequest& req) { return req.path.rfind("/v1/", 0) == 0; }

// 401/403/429 in the route's error shape. OpenAI's: a type and a code its SDKs and users know.
void send_access_error(Exchange& ex, bool openai, int status, const std::string& msg, const char* type,
                       const char* code, Headers extra = {}) {
  if (status == 401) extra.emplace_back("WWW-Authenticate", "Bearer");
  if (openai)
    send_json(ex, status, json{{"error", {{"message", msg}, {"type", type}, {"param", nullptr}, {"code", code}}}},
              std::move(extra));
  else send_json(ex, status, json{{"error", msg}}, std::move(extra));
}

AuditEntry entry_for(const HttpRequest& req, const KeyEntry* key) {
  AuditEntry e;
  e.method = req.method;
  e.route = req.path;
  e.client = req.remote;
  if (key) {
    e.key_id = key->id;
    e.role = role_name(key->role);
  }
  return e;
}

void audit_refusal(App& app, const HttpRequest& req, const KeyEntry* key, std::string claimed_id, int status,
                   const char* reason, const std::string& model = "") {
  if (!app.audit) return;
  AuditEntry e = entry_for(req, key);
  e.event = status == 401 ? "auth_failure" : "forbidden";
  if (e.key_id.empty()) e.key_id = std::move(claimed_id);
  e.status = status;
  e.reason = reason;
  e.model = model;
  app.audit->write(e);
}

// An audit entry once the request ends: status, the model it named, bytes and duration.
void audit_on_complete(App& app, const HttpRequest& req, const std::shared_ptr<Exchange>& ex, const char* event,
                       bool with_content) {
  RequestTrack* t = track_of(ex.get());
  if (!t || !app.audit) return;
  auto base = std::make_shared<AuditEntry>(entry_for(req, req.principal.get()));
  base->event = event;
  if (with_content) {
    base->prompt = req.body.substr(0, kPromptCap);
    base->with_content = true;
    t->capture_output(kPromptCap);
  }
  AuditLog* log = app.audit.get();
  t->on_complete([log, base](const RequestTrack& tr, int status) {
    AuditEntry e = *base;
    e.status = status;
    e.model = tr.subject();
    e.bytes = tr.bytes_out();
    e.duration_s = tr.elapsed_s();
    if (e.with_content) e.output = tr.captured();
    log->write(e);
  });
}

}  // namespace

Status init_access(App& app) {
  const ServerConfig& cfg = app.cfg;
  ASSIGN_OR_RETURN(app.audit, AuditLog::open(cfg.audit_log));
  if (!cfg.keys_file.empty()) {
    auto metrics = app.metrics;
    auto ks = KeyStore::open(cfg.keys_file, cfg.keys_poll_ms);
    if (!ks.ok()) return ks.error().wrap("keys-file");
    app.keys = std::move(*ks);
    app.keys->set_on_reload([metrics, path = cfg.keys_file](bool ok, const std::string& msg) {
      metrics->key_reloads.add({ok ? "ok" : "error"});
      if (ok) log::info("keys: loaded {} from {}", msg, path);
      else log::error("keys: {}; the keys in force stay", msg);
    });
    log::info("keys: {} key(s) from {}; every route but /livez and /readyz needs one", app.keys->size(), cfg.keys_file);
    app.keys->start_watching();
  }
  RateLimiter::Options o;
  o.global = {cfg.global_requests_per_minute, cfg.global_tokens_per_minute, cfg.global_concurrent_streams};
  o.redis_url = cfg.ratelimit_redis;
  o.fail_open = !cfg.ratelimit_fail_closed;
  auto metrics = app.metrics;
  const char* mode = o.fail_open ? "open" : "closed";
  o.on_store_error = [metrics, mode](const std::string&) { metrics->ratelimit_store_errors.add({mode}); };
  // Keys may carry their own limits: a limiter whenever keys or global limits or Redis are set.
  if (app.keys || o.global.any() || !o.redis_url.empty()) {
    auto rl = RateLimiter::create(std::move(o));
    if (!rl.ok()) return rl.error();
    app.limiter = std::move(*rl);
  }
  return Status::Ok();
}

bool check_access(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  Role need = required_role(req.path);
  bool openai = is_openai(req);
  if (need == Role::kNone) return true;
  if (app.keys) {
    std::shared_ptr<const KeyEntry> key;
    std::string auth = req.header("authorization");
    AuthResult r = app.keys->authenticate(auth, unix_now(), &key);
    if (r != AuthResult::kOk) {
      std::string_view id, secret;
      std::string_view tok = auth;
      if (auto sp = tok.rfind(' '); sp != std::string_view::npos) tok.remove_prefix(sp + 1);
      std::string claimed = split_token(tok, &id, &secret) ? std::string(id) : "";
      audit_refusal(app, req, nullptr, claimed, 401, auth_reason(r));
      const char* msg = r == AuthResult::kMissing   ? "missing API key: send the header Authorization: Bearer <key>"
                        : r == AuthResult::kExpired ? "API key expired"
                        : r == AuthResult::kRevoked ? "API key revoked"
                                                    : "invalid API key";
      send_access_error(*ex, openai, 401, msg, "invalid_request_error", "invalid_api_key");
      return false;
    }
    if (key->role < need) {
      audit_refusal(app, req, key.get(), "", 403, "role");
      send_access_error(*ex, openai, 403,
                        fmt::format("this API key (role {}) may not use {}: it needs role {}", role_name(key->role),
                                    req.path, role_name(need)),
                        "invalid_request_error", "insufficient_permissions");
      return false;
    }
    req.principal = std::move(key);
  }
  if (need == Role::kAdmin) audit_on_complete(app, req, ex, "admin", false);
  else if (need == Role::kUser && app.cfg.log_prompts) audit_on_complete(app, req, ex, "inference", true);
  return true;
}

int check_upload_access(App& app, const HttpRequest& req, std::string* msg) {
  if (!app.keys) return 0;
  std::shared_ptr<const KeyEntry> key;
  AuthResult r = app.keys->authenticate(req.header("authorization"), unix_now(), &key);
  if (r != AuthResult::kOk) {
    audit_refusal(app, req, nullptr, "", 401, auth_reason(r));
    *msg = r == AuthResult::kMissing ? "missing API key" : "invalid API key";
    return 401;
  }
  if (key->role < Role::kAdmin) {
    audit_refusal(app, req, key.get(), "", 403, "role");
    *msg = fmt::format("this API key (role {}) may not upload blobs: it needs role admin", role_name(key->role));
    return 403;
  }
  return 0;
}

bool check_model_access(App& app, const HttpRequest& req, const std::shared_ptr<Exchange>& ex,
                        const std::string& model) {
  if (auto* t = track_of(ex.get())) t->set_subject(model);
  if (!req.principal || model_allowed(*req.principal, model)) return true;
  audit_refusal(app, req, req.principal.get(), "", 403, "model", model);
  send_access_error(*ex, is_openai(req), 403, fmt::format("this API key may not use model \"{}\"", model),
                    "invalid_request_error", "model_not_allowed");
  return false;
}

bool admit_rate_limits(App& app, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  if (!app.limiter) return true;
  static const RateLimits kNone;
  const KeyEntry* k = req.principal.get();
  std::string key_id = k ? k->id : "";
  const RateLimits& lim = k ? k->limits : kNone;
  if (!lim.any() && !app.limiter->global().any()) return true;
  std::string lease;
  LimitDecision d = app.limiter->admit(key_id, lim, &lease);
  Headers h;
  if (d.headers) {
    h.emplace_back("X-RateLimit-Limit", std::to_string(d.limit));
    h.emplace_back("X-RateLimit-Remaining", std::to_string(d.remaining));
    h.emplace_back("X-RateLimit-Reset", std::to_string(d.reset_s));
  }
  if (!d.allowed) {
    if (d.status == 429) app.metrics->ratelimit_refusals.add({d.limit_name, d.scope});
    h.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, d.retry_after_s)));
    std::string msg = d.status == 503
                          ? "rate limit store unavailable, try again"
                          : fmt::format("rate limit reached: {} ({} limit of {}{}); try again in {} s", d.limit_name,
                                        d.scope, d.limit, d.limit_name == "streams" ? " at once" : " per minute",
                                        std::max<int64_t>(1, d.retry_after_s));
    if (is_openai(req))
      send_json(*ex, d.status,
                json{{"error",
                      {{"message", msg},
                       {"type", d.status == 503 ? "server_error" : d.limit_name},
                       {"param", nullptr},
                       {"code", d.status == 503 ? "rate_limit_store_unavailable" : "rate_limit_exceeded"}}}},
                std::move(h));
    else send_json(*ex, d.status, json{{"error", msg}}, std::move(h));
    return false;
  }
  if (!h.empty()) ex->add_default_headers(std::move(h));
  if (RequestTrack* t = track_of(ex.get())) {
    RateLimiter* rl = app.limiter.get();
    auto lim_copy = lim;
    t->on_complete([rl, key_id, lim_copy, lease](const RequestTrack& tr, int) {
      rl->release(key_id, lim_copy, lease, tr.generated());
    });
  } else {
    app.limiter->release(key_id, lim, lease, 0);
  }
  return true;
}

}  // namespace paddock::server
