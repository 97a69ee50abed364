// auth: the keys file (parse, write), key hashing and the KeyStore the router checks tokens with.
#include "server/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "util/log.h"

namespace paddock::server {

namespace {

constexpr std::string_view kTokenPrefix = "pdk_";
constexpr size_t kIdHex = 12, kSecretHex = 64, kSaltBytes = 16, kHashBytes = 32;

std::string to_hex(std::string_view b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (unsigned char c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string from_hex(std::string_view s) {
  std::string b(s.size() / 2, '\0');
  auto v = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i < b.size(); ++i) b[i] = char(v(s[2 * i]) << 4 | v(s[2 * i + 1]));
  return b;
}

std::string random_bytes(size_t n) {
  std::string b(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(b.data()), int(n)) != 1) std::abort();  // no entropy: never go on
  return b;
}

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* role_name(Role r) {
  switch (r) {
    case Role::kViewer: return "viewer";
    case Role::kUser: return "user";
    case Role::kAdmin: return "admin";
    default: return "none";
  }
}

Result<Role> parse_role(std::string_view s) {
  if (s == "viewer") return Role::kViewer;
  if (s == "user") return Role::kUser;
  if (s == "admin") return Role::kAdmin;
  return make_error(ErrorCode::kInvalidArgument, "unknown role '{}' (viewer, user or admin)", s);
}

Role required_role(std::string_view p) {
  if (p == "/livez" || p == "/readyz") return Role::kNone;
  for (std::string_view u : {"/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/v1/chat/completions",
                             "/v1/completions", "/v1/embeddings"})
    if (p == u) return Role::kUser;
  for (std::string_view a : {"/api/create", "/api/copy", "/api/delete", "/api/pull", "/api/push", "/api/debug/runners"})
    if (p == a) return Role::kAdmin;
  if (p.rfind("/api/blobs/", 0) == 0) return Role::kAdmin;
  return Role::kViewer;  // "/", version, tags, show, ps, status, /v1/models; unknown paths (404 after auth)
}

const char* auth_reason(AuthResult r) {
  switch (r) {
    case AuthResult::kOk: return "ok";
    case AuthResult::kMissing: return "missing_key";
    case AuthResult::kInvalid: return "invalid_key";
    case AuthResult::kExpired: return "expired_key";
    case AuthResult::kRevoked: return "revoked_key";
  }
  return "invalid_key";
}

std::string hash_secret(std::string_view salt, std::string_view secret) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), salt.data(), int(salt.size()), reinterpret_cast<const unsigned char*>(secret.data()),
       secret.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string new_key(KeyEntry& e) {
  e.id = to_hex(random_bytes(kIdHex / 2));
  e.salt = random_bytes(kSaltBytes);
  std::string secret = to_hex(random_bytes(kSecretHex / 2));
  e.hash = hash_secret(e.salt, secret);
  if (e.created == 0) e.created = now_unix();
  return std::string(kTokenPrefix) + e.id + "_" + secret;
}

bool split_token(std::string_view t, std::string_view* id, std::string_view* secret) {
  if (t.size() != kTokenPrefix.size() + kIdHex + 1 + kSecretHex || t.substr(0, kTokenPrefix.size()) != kTokenPrefix)
    return false;
  t.remove_prefix(kTokenPrefix.size());
  if (t[kIdHex] != '_') return false;
  *id = t.substr(0, kIdHex);
  *secret = t.substr(kIdHex + 1);
  return is_hex(*id) && is_hex(*secret);
}

std::string normalize_model(std::string_view name) {
  std::string s(name);
  size_t slash = s.rfind('/');
  if (s.find(':', slash == std::string::npos ? 0 : slash) == std::string::npos) s += ":latest";
  return s;
}

bool model_allowed(const KeyEntry& k, std::string_view model) {
  if (k.models.empty()) return true;
  std::string m = normalize_model(model);
  for (auto& a : k.models)
    if (a == m) return true;
  return false;
}

Result<int64_t> parse_time(std::string_view s) {
  if (s.empty() || s == "0" || s == "never") return int64_t(0);
  bool digits = true;
  for (char c : s) digits = digits && std::isdigit((unsigned char)c);
  if (digits && s.size() <= 12) return int64_t(std::stoll(std::string(s)));
  std::tm tm{};
  std::string str(s);
  const char* end = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) {
    tm = {};
    end = strptime(str.c_str(), "%Y-%m-%d", &tm);
  }
  if (!end || *end)
    return make_error(ErrorCode::kInvalidArgument,
                      "'{}' is not a time (YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or unix seconds)", s);
  return int64_t(timegm(&tm));
}

std::string format_time(int64_t t) {
  if (t == 0) return "";
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<KeyFile> parse_key_file(std::string_view text, const std::string& origin) {
  if (text.size() > kMaxKeysFile)
    return make_error(ErrorCode::kInvalidArgument, "keys file {}: larger than {} bytes", origin, kMaxKeysFile);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "keys file {}: not JSON or YAML: {}", origin, e.msg);
  }
  KeyFile f;
  if (root.IsNull()) return f;  // an empty file: no key is valid
  if (!root.IsMap() || (root["keys"] && !root["keys"].IsNull() && !root["keys"].IsSequence()))
    return make_error(ErrorCode::kInvalidArgument, "keys file {}: expected {{\"keys\": [...]}}", origin);
  YAML::Node keys = root["keys"];
  if (!keys || keys.IsNull()) return f;
  if (keys.size() > kMaxKeys)
    return make_error(ErrorCode::kInvalidArgument, "keys file {}: more than {} keys", origin, kMaxKeys);
  std::unordered_map<std::string, bool> ids;
  size_t i = 0;
  for (const auto& k : keys) {
    auto bad = [&](const std::string& what) {
      return make_error(ErrorCode::kInvalidArgument, "keys file {}: key #{}: {}", origin, i + 1, what);
    };
    if (!k.IsMap()) return bad("not a map");
    auto str = [&](const char* name) -> std::string {
      auto n = k[name];
      return n && n.IsScalar() ? n.Scalar() : std::string();
    };
    KeyEntry e;
    for (const auto& kv : k) {
      std::string key = kv.first.Scalar();
      static const char* known[] = {"id",     "name",    "role",    "salt",    "hash",
                                    "models", "expires", "created", "revoked", "limits"};
      bool ok = false;
      for (auto* x : known) ok = ok || key == x;
      if (!ok) return bad("unknown field '" + key + "'");
    }
    e.id = str("id");
    if (e.id.size() != kIdHex || !is_hex(e.id)) return bad("id must be 12 lower-case hex characters");
    if (ids.count(e.id)) return bad("duplicate id " + e.id);
    ids[e.id] = true;
    e.name = str("name");
    auto role = parse_role(str("role"));
    if (!role.ok()) return bad(role.error().message());
    e.role = *role;
    std::string salt = str("salt"), hash = str("hash");
    if (salt.size() != 2 * kSaltBytes || !is_hex(salt)) return bad("salt must be 32 hex characters");
    if (hash.size() != 2 * kHashBytes || !is_hex(hash)) return bad("hash must be 64 hex characters");
    e.salt = from_hex(salt);
    e.hash = from_hex(hash);
    if (auto m = k["models"]; m && !m.IsNull()) {
      if (!m.IsSequence()) return bad("models must be a list");
      for (const auto& x : m) {
        if (!x.IsScalar() || x.Scalar().empty()) return bad("models must be a list of names");
        e.models.push_back(normalize_model(x.Scalar()));
      }
    }
    auto exp = parse_time(str("expires"));
    if (!exp.ok()) return bad("expires: " + exp.error().message());
    e.expires = *exp;
    auto cr = parse_time(str("created"));
    if (!cr.ok()) return bad("created: " + cr.error().message());
    e.created = *cr;
    std::string rv = str("revoked");
    if (!rv.empty() && rv != "true" && rv != "false") return bad("revoked must be true or false");
    e.revoked = rv == "true";
    if (auto l = k["limits"]; l && !l.IsNull()) {
      if (!l.IsMap()) return bad("limits must be a map");
      for (const auto& kv : l) {
        std::string key = kv.first.Scalar();
        int64_t* dst = key == "requests_per_minute"  ? &e.limits.requests_per_minute
                       : key == "tokens_per_minute"  ? &e.limits.tokens_per_minute
                       : key == "concurrent_streams" ? &e.limits.concurrent_streams
                                                     : nullptr;
        if (!dst) return bad("unknown limit '" + key + "'");
        try {
          *dst = kv.second.as<int64_t>();
        } catch (const YAML::Exception&) {
          return bad("limit '" + key + "' must be an integer");
        }
        if (*dst < 0) return bad("limit '" + key + "' must be >= 0");
      }
    }
    f.keys.push_back(std::move(e));
    ++i;
  }
  return f;
}

Result<KeyFile> read_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "keys file {}: cannot be read", path);
  std::string text(kMaxKeysFile + 1, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  return parse_key_file(text, path);
}

std::string format_key_file(const KeyFile& f) {
  nlohmann::ordered_json keys = nlohmann::ordered_json::array();
  for (auto& k : f.keys) {
    nlohmann::ordered_json j;
    j["id"] = k.id;
    j["name"] = k.name;
    j["role"] = role_name(k.role);
    j["salt"] = to_hex(k.salt);
    j["hash"] = to_hex(k.hash);
    if (!k.models.empty()) j["models"] = k.models;
    if (k.created) j["created"] = format_time(k.created);
    if (k.expires) j["expires"] = format_time(k.expires);
    if (k.revoked) j["revoked"] = true;
    if (k.limits.any()) {
      nlohmann::ordered_json l;
      if (k.limits.requests_per_minute) l["requests_per_minute"] = k.limits.requests_per_minute;
      if (k.limits.tokens_per_minute) l["tokens_per_minute"] = k.limits.tokens_per_minute;
      if (k.limits.concurrent_streams) l["concurrent_streams"] = k.limits.concurrent_streams;
      j["limits"] = l;
    }
    keys.push_back(std::move(j));
  }
  nlohmann::ordered_json root;
  root["keys"] = keys;
  return root.dump(2) + "\n";
}

Status write_key_file(const std::string& path, const KeyFile& f) {
  std::string text = format_key_file(f);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::kIo, "keys file {}: cannot write {}: {}", path, tmp, std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(ErrorCode::kIo, "keys file {}: write failed: {}", path, std::strerror(err));
    }
    off += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kIo, "keys file {}: fsync failed", path);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kIo, "keys file {}: rename failed: {}", path, std::strerror(err));
  }
  // The rename is durable once the directory is.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<std::unique_ptr<KeyStore>> KeyStore::open(const std::string& path, int poll_ms) {
  std::unique_ptr<KeyStore> ks(new KeyStore(path, poll_ms));
  RETURN_IF_ERROR(ks->reload());
  return ks;
}

KeyStore::~KeyStore() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void KeyStore::set_on_reload(std::function<void(bool, const std::string&)> fn) {
  std::lock_guard lk(mu_);
  on_reload_ = std::move(fn);
}

void KeyStore::start_watching() {
  if (poll_ms_ > 0 && !watcher_.joinable()) watcher_ = std::thread([this] { watch(); });
}

// What identifies the file's current content without reading it (a Secret mount swaps a symlink:
// a new inode; an edit in place: a new size or mtime); all zero when it is missing.
KeyStore::FileId KeyStore::file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {uint64_t(st.st_dev), uint64_t(st.st_ino), uint64_t(st.st_size),
          int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
}

Status KeyStore::reload() {
  std::unique_lock lk(mu_);
  seen_ = file_id(path_);  // a bad file is not retried until it changes again
  auto f = read_key_file(path_);
  auto cb = on_reload_;
  if (!f.ok()) {
    lk.unlock();
    if (cb) cb(false, f.error().message());
    return f.error();
  }
  auto t = std::make_shared<KeyTable>();
  for (auto& k : f->keys) {
    std::string id = k.id;
    t->by_id[id] = std::make_shared<const KeyEntry>(std::move(k));
  }
  size_t n = t->by_id.size();
  table_.store(std::move(t));
  lk.unlock();
  if (cb) cb(true, fmt::format("{} key(s)", n));
  return Status::Ok();
}

void KeyStore::watch() {
  std::unique_lock lk(mu_);
  while (!cv_.wait_for(lk, std::chrono::milliseconds(poll_ms_), [this] { return stop_; })) {
    if (file_id(path_) == seen_) continue;
    lk.unlock();
    auto s = reload();
    if (!s.ok()) log::error("keys: reload failed, keeping the keys in force: {}", s.error().message());
    lk.lock();
  }
}

size_t KeyStore::size() const {
  auto t = table_.load();
  return t ? t->by_id.size() : 0;
}

AuthResult KeyStore::authenticate(std::string_view h, int64_t now, std::shared_ptr<const KeyEntry>* out) const {
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  if (h.empty()) return AuthResult::kMissing;
  constexpr std::string_view kBearer = "bearer ";
  if (h.size() < kBearer.size()) return AuthResult::kInvalid;
  for (size_t i = 0; i < kBearer.size(); ++i)
    if (std::tolower((unsigned char)h[i]) != kBearer[i]) return AuthResult::kInvalid;
  h.remove_prefix(kBearer.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  std::string_view id, secret;
  if (!split_token(h, &id, &secret)) return AuthResult::kInvalid;
  auto t = table_.load();
  if (!t) return AuthResult::kInvalid;
  auto it = t->by_id.find(std::string(id));
  if (it == t->by_id.end()) return AuthResult::kInvalid;
  const KeyEntry& k = *it->second;
  std::string got = hash_secret(k.salt, secret);
  if (got.size() != k.hash.size() || CRYPTO_memcmp(got.data(), k.hash.data(), got.size()) != 0)
    return AuthResult::kInvalid;
  // Only a caller holding the secret learns that the key was revoked or has expired.
  if (k.revoked) return AuthResult::kRevoked;
  if (k.expires != 0 && now >= k.expires) return AuthResult::kExpired;
  *out = it->second;
  return AuthResult::kOk;
}

}  // namespace paddock::server
