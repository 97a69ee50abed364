// Access control without a server: the keys file (parse, write, bad entries), token hashing and
// verification (wrong secret, expiry, revocation, reload on change), the route → role table,
// model allow-lists, the token-bucket arithmetic, the in-memory limiter and the audit line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/audit.h"
#include "server/auth.h"
#include "server/ratelimit.h"
#include "server/settings.h"

namespace paddock::server {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/paddock-auth-XXXXXX";
  return mkdtemp(tmpl);
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(Keys, TokenVerifiesAndOnlyTheHashIsStored) {
  KeyEntry e;
  e.role = Role::kUser;
  std::string token = new_key(e);
  std::string_view id, secret;
  ASSERT_TRUE(split_token(token, &id, &secret));
  EXPECT_EQ(id, e.id);
  KeyFile f;
  f.keys.push_back(e);
  std::string text = format_key_file(f);
  EXPECT_EQ(text.find(secret), std::string::npos) << "the secret must never be written";
  auto back = parse_key_file(text, "t");
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->keys.size(), 1u);
  EXPECT_EQ(back->keys[0].hash, hash_secret(e.salt, secret));
  EXPECT_EQ(back->keys[0].role, Role::kUser);
}

TEST(Keys, MalformedTokensAreRejected) {
  std::string_view id, secret;
  EXPECT_FALSE(split_token("", &id, &secret));
  EXPECT_FALSE(split_token("sk-abc", &id, &secret));
  std::string good = "pdk_0123456789ab_" + std::string(64, 'a');
  EXPECT_TRUE(split_token(good, &id, &secret));
  std::string upper = good;
  upper[5] = 'A';
  EXPECT_FALSE(split_token(upper, &id, &secret));
  EXPECT_FALSE(split_token(good + "a", &id, &secret));
  std::string sep = good;
  sep[16] = '-';
  EXPECT_FALSE(split_token(sep, &id, &secret));
}

TEST(Keys, ParseRejectsBadEntries) {
  const std::string salt(32, 'a'), hash(64, 'b');
  auto entry = [&](const std::string& extra) {
    return "{\"keys\":[{\"id\":\"0123456789ab\",\"role\":\"user\",\"salt\":\"" + salt + "\",\"hash\":\"" + hash + "\"" +
           extra + "}]}";
  };
  EXPECT_TRUE(parse_key_file(entry(""), "t").ok());
  std::string root = entry("");
  root.replace(root.find("\"user\""), 6, "\"root\"");
  EXPECT_FALSE(parse_key_file(root, "t").ok());
  EXPECT_FALSE(parse_key_file(entry(",\"bogus\":1"), "t").ok());
  EXPECT_FALSE(parse_key_file(entry(",\"expires\":\"tomorrow\""), "t").ok());
  EXPECT_FALSE(parse_key_file(entry(",\"limits\":{\"requests_per_minute\":-1}"), "t").ok());
  EXPECT_FALSE(parse_key_file(entry(",\"limits\":{\"rpm\":1}"), "t").ok());
  EXPECT_FALSE(parse_key_file(entry(",\"models\":\"tiny\""), "t").ok());
  EXPECT_FALSE(parse_key_file("{\"keys\":[{\"id\":\"XYZ\",\"role\":\"user\"}]}", "t").ok());
  EXPECT_FALSE(parse_key_file("[1,2]", "t").ok());
  EXPECT_FALSE(parse_key_file("{\"keys\": [", "t").ok());
  // Two entries with one id.
  std::string one = "{\"id\":\"0123456789ab\",\"role\":\"user\",\"salt\":\"" + salt + "\",\"hash\":\"" + hash + "\"}";
  EXPECT_FALSE(parse_key_file("{\"keys\":[" + one + "," + one + "]}", "t").ok());
  // YAML works too, with limits and models.
  auto y = parse_key_file("keys:\n  - id: 0123456789ab\n    role: admin\n    salt: " + salt + "\n    hash: " + hash +
                              "\n    models: [tiny, other:q4]\n    expires: 2030-01-02T03:04:05Z\n"
                              "    limits: {requests_per_minute: 5, concurrent_streams: 2}\n",
                          "t");
  ASSERT_TRUE(y.ok()) << y.error().message();
  EXPECT_EQ(y->keys[0].role, Role::kAdmin);
  EXPECT_EQ(y->keys[0].models, (std::vector<std::string>{"tiny:latest", "other:q4"}));
  EXPECT_EQ(y->keys[0].expires, 1893553445);
  EXPECT_EQ(y->keys[0].limits.requests_per_minute, 5);
  EXPECT_EQ(y->keys[0].limits.concurrent_streams, 2);
  EXPECT_TRUE(parse_key_file("", "t").ok());  // empty: no keys, every request 401
}

TEST(Keys, AuthenticateChecksSecretExpiryAndRevocation) {
  std::string dir = temp_dir(), path = dir + "/keys.json";
  KeyEntry a, b, c;
  std::string ta = new_key(a), tb = new_key(b), tc = new_key(c);
  b.expires = now_s() - 10;
  c.revoked = true;
  KeyFile f;
  f.keys = {a, b, c};
  ASSERT_TRUE(write_key_file(path, f).ok());
  auto ks = KeyStore::open(path, 0);
  ASSERT_TRUE(ks.ok()) << ks.error().message();
  std::shared_ptr<const KeyEntry> k;
  int64_t now = now_s();
  EXPECT_EQ((*ks)->authenticate("Bearer " + ta, now, &k), AuthResult::kOk);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->id, a.id);
  EXPECT_EQ((*ks)->authenticate("bearer  " + ta + " ", now, &k), AuthResult::kOk);
  EXPECT_EQ((*ks)->authenticate("", now, &k), AuthResult::kMissing);
  EXPECT_EQ((*ks)->authenticate("Basic abc", now, &k), AuthResult::kInvalid);
  EXPECT_EQ((*ks)->authenticate("Bearer " + tb, now, &k), AuthResult::kExpired);
  EXPECT_EQ((*ks)->authenticate("Bearer " + tc, now, &k), AuthResult::kRevoked);
  // The right id with another secret: invalid (not expired or revoked: that is for holders only).
  std::string wrong = tb;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ((*ks)->authenticate("Bearer " + wrong, now, &k), AuthResult::kInvalid);
  std::string unknown = ta;
  unknown[4] = unknown[4] == 'a' ? 'b' : 'a';
  EXPECT_EQ((*ks)->authenticate("Bearer " + unknown, now, &k), AuthResult::kInvalid);
  // Expiry is a point in time: still good one second before.
  EXPECT_EQ((*ks)->authenticate("Bearer " + tb, b.expires - 1, &k), AuthResult::kOk);
  std::filesystem::remove_all(dir);
}

TEST(Keys, WatcherReloadsOnChangeAndKeepsKeysOnABadFile) {
  std::string dir = temp_dir(), path = dir + "/keys.json";
  KeyEntry a, b;
  std::string ta = new_key(a), tb = new_key(b);
  KeyFile f;
  f.keys = {a};
  ASSERT_TRUE(write_key_file(path, f).ok());
  auto ks = KeyStore::open(path, 20);
  ASSERT_TRUE(ks.ok());
  int oks = 0, errors = 0;
  (*ks)->set_on_reload([&](bool ok, const std::string&) { (ok ? oks : errors)++; });
  (*ks)->start_watching();
  std::shared_ptr<const KeyEntry> k;
  auto wait_for = [&](const std::string& tok, AuthResult want) {
    for (int i = 0; i < 200; ++i) {
      if ((*ks)->authenticate("Bearer " + tok, now_s(), &k) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  EXPECT_EQ((*ks)->authenticate("Bearer " + tb, now_s(), &k), AuthResult::kInvalid);
  f.keys = {a, b};
  ASSERT_TRUE(write_key_file(path, f).ok());
  EXPECT_TRUE(wait_for(tb, AuthResult::kOk));
  // A broken file: the keys in force stay, the error is reported.
  { std::ofstream(path) << "{\"keys\": [}"; }
  for (int i = 0; i < 200 && errors == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(errors, 1);
  EXPECT_EQ((*ks)->authenticate("Bearer " + tb, now_s(), &k), AuthResult::kOk);
  // A Kubernetes Secret update: the file is a symlink whose target is swapped.
  std::string v1 = dir + "/v1.json", link = dir + "/link.json";
  f.keys = {a};
  ASSERT_TRUE(write_key_file(v1, f).ok());
  std::filesystem::create_symlink(v1, link);
  auto ls = KeyStore::open(link, 20);
  ASSERT_TRUE(ls.ok());
  (*ls)->start_watching();
  std::string v2 = dir + "/v2.json";
  f.keys = {b};
  ASSERT_TRUE(write_key_file(v2, f).ok());
  std::filesystem::create_symlink(v2, dir + "/link.tmp");
  std::filesystem::rename(dir + "/link.tmp", link);
  bool swapped = false;
  for (int i = 0; i < 200 && !swapped; ++i) {
    swapped = (*ls)->authenticate("Bearer " + tb, now_s(), &k) == AuthResult::kOk;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(swapped);
  EXPECT_EQ((*ls)->authenticate("Bearer " + ta, now_s(), &k), AuthResult::kInvalid);
  std::filesystem::remove_all(dir);
}

TEST(Keys, RolesPerRoute) {
  EXPECT_EQ(required_role("/livez"), Role::kNone);
  EXPECT_EQ(required_role("/readyz"), Role::kNone);
  for (auto p : {"/api/tags", "/api/show", "/api/ps", "/api/version", "/v1/models", "/v1/models/tiny", "/"})
    EXPECT_EQ(required_role(p), Role::kViewer) << p;
  for (auto p : {"/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/v1/chat/completions",
                 "/v1/completions", "/v1/embeddings"})
    EXPECT_EQ(required_role(p), Role::kUser) << p;
  for (auto p : {"/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete", "/api/blobs/sha256:00"})
    EXPECT_EQ(required_role(p), Role::kAdmin) << p;
  EXPECT_EQ(required_role("/nope"), Role::kViewer);
}

TEST(Keys, ModelAllowList) {
  KeyEntry k;
  EXPECT_TRUE(model_allowed(k, "anything"));
  k.models = {"tiny:latest", "ns/other:q4"};
  EXPECT_TRUE(model_allowed(k, "tiny"));
  EXPECT_TRUE(model_allowed(k, "tiny:latest"));
  EXPECT_TRUE(model_allowed(k, "ns/other:q4"));
  EXPECT_FALSE(model_allowed(k, "ns/other"));
  EXPECT_FALSE(model_allowed(k, "tiny:q8"));
  EXPECT_EQ(normalize_model("host:5000/ns/m"), "host:5000/ns/m:latest");
}

TEST(RateLimit, BucketRefillsAtCapacityPerMinute) {
  Bucket b;
  // Fresh bucket: full.
  auto c = bucket_refill_check(b, 60, 1000, 1);
  EXPECT_TRUE(c.ok);
  EXPECT_DOUBLE_EQ(c.level, 60);
  EXPECT_EQ(c.reset_ms, 0);
  bucket_take(b, 60, 60);
  c = bucket_refill_check(b, 60, 1000, 1);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.retry_ms, 1000);  // 60 per minute: one per second
  EXPECT_EQ(c.reset_ms, 60000);
  c = bucket_refill_check(b, 60, 1500, 1);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.retry_ms, 500);
  c = bucket_refill_check(b, 60, 2000, 1);
  EXPECT_TRUE(c.ok);
  // Never above capacity.
  c = bucket_refill_check(b, 60, 1000000, 1);
  EXPECT_DOUBLE_EQ(c.level, 60);
  // Debits may go below zero down to -capacity; the wait grows with the debt.
  bucket_take(b, 60, 1000);
  EXPECT_DOUBLE_EQ(b.level, -60);
  c = bucket_refill_check(b, 60, 1000000, 1);
  EXPECT_EQ(c.retry_ms, 61000);
  // Time going backwards (another clock) adds nothing.
  c = bucket_refill_check(b, 60, 10, 1);
  EXPECT_DOUBLE_EQ(c.level, -60);
}

TEST(RateLimit, MemoryLimiterKeyAndGlobal) {
  RateLimiter::Options o;
  o.global.requests_per_minute = 5;
  auto rl = RateLimiter::create(o);
  ASSERT_TRUE(rl.ok());
  RateLimits key{2, 0, 0};
  std::string lease;
  auto d = (*rl)->admit("k1", key, &lease);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, 2);
  EXPECT_EQ(d.remaining, 1);
  d = (*rl)->admit("k1", key, &lease);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  d = (*rl)->admit("k1", key, &lease);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.limit_name, "requests");
  EXPECT_EQ(d.scope, "key");
  EXPECT_GE(d.retry_after_s, 1);
  // Another key is not affected by k1's bucket, only by the global one (2 of 5 used).
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*rl)->admit("k2", RateLimits{}, &lease).allowed) << i;
  d = (*rl)->admit("k2", RateLimits{}, &lease);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.scope, "global");
  EXPECT_EQ(d.limit, 5);
}

TEST(RateLimit, StreamsAndTokens) {
  RateLimiter::Options o;
  auto rl = RateLimiter::create(o);
  ASSERT_TRUE(rl.ok());
  RateLimits key{0, 100, 2};
  std::string lease;
  EXPECT_TRUE((*rl)->admit("k", key, &lease).allowed);
  EXPECT_TRUE((*rl)->admit("k", key, &lease).allowed);
  auto d = (*rl)->admit("k", key, &lease);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit_name, "streams");
  (*rl)->release("k", key, lease, 10);
  EXPECT_TRUE((*rl)->admit("k", key, &lease).allowed);
  // Spending the whole token bucket blocks the next request until it refills.
  (*rl)->release("k", key, lease, 200);
  (*rl)->release("k", key, lease, 0);
  d = (*rl)->admit("k", key, &lease);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit_name, "tokens");
  EXPECT_GT(d.retry_after_s, 30);  // the debt is capped at one bucket: ~60 s to get back to 1
}

TEST(Audit, LineHasTheFieldsAndNoContentUnlessAsked) {
  AuditEntry e;
  e.event = "auth_failure";
  e.method = "POST";
  e.route = "/api/chat";
  e.status = 401;
  e.reason = "invalid_key";
  e.client = "127.0.0.1";
  e.prompt = "secret prompt";
  std::string line = format_audit(e, 1767225600123);
  EXPECT_NE(line.find("\"time\":\"2026-01-01T00:00:00.123Z\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"key_id\":null"), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":401"), std::string::npos) << line;
  EXPECT_EQ(line.find("secret prompt"), std::string::npos) << line;
  e.with_content = true;
  EXPECT_NE(format_audit(e, 0).find("secret prompt"), std::string::npos);
}

TEST(Settings, AccessSettingsParseAndTheRedisUrlIsMasked) {
  ConfigInputs in;
  in.getenv = [](const char*) -> const char* { return nullptr; };
  in.flags = {{"ratelimit-redis", "redis://:hunter2@10.0.0.5:6380/2"},
              {"global-requests-per-minute", "120"},
              {"ratelimit-fail-closed", "true"},
              {"log-prompts", "true"}};
  auto eff = resolve_config(in);
  ASSERT_TRUE(eff.ok()) << eff.error().message();
  EXPECT_EQ(eff->cfg.ratelimit_redis, "redis://:hunter2@10.0.0.5:6380/2");
  EXPECT_EQ(eff->cfg.global_requests_per_minute, 120);
  EXPECT_TRUE(eff->cfg.ratelimit_fail_closed);
  EXPECT_TRUE(eff->cfg.log_prompts);
  std::string out = print_config(*eff);
  EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
  EXPECT_NE(out.find("# ratelimit-redis: \"********\""), std::string::npos) << out;
  in.flags = {{"keys-file", "/nonexistent/keys.json"}};
  EXPECT_FALSE(resolve_config(in).ok());
  in.flags = {{"global-tokens-per-minute", "-1"}};
  EXPECT_FALSE(resolve_config(in).ok());
}

}  // namespace
}  // namespace paddock::server
