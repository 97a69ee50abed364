// auth: API keys and roles. The keys file (JSON or YAML, a Kubernetes Secret mount works) holds
// one entry per key: id, role, salt and HMAC-SHA256(salt, secret) — never the secret — plus a
// model allow-list, expiry, revocation and the key's own rate limits. A token is
// "pdk_<id>_<secret>": the id finds the entry in O(1), one HMAC and a constant-time compare
// check it, so authentication may run on an I/O thread. The file is read only by KeyStore's
// watcher thread (or reload(), SIGHUP): never on an I/O thread.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "util/status.h"

namespace paddock::server {

enum class Role { kNone = 0, kViewer = 1, kUser = 2, kAdmin = 3 };
const char* role_name(Role r);
Result<Role> parse_role(std::string_view s);

// The role a request needs: none for the probes, viewer for reading the catalogue, user for
// inference, admin for changing the store. Unknown paths need viewer (then 404).
Role required_role(std::string_view path);

// Per-minute limits and a cap on concurrent generation requests; 0 = no limit.
struct RateLimits {
  int64_t requests_per_minute = 0;
  int64_t tokens_per_minute = 0;
  int64_t concurrent_streams = 0;
  bool any() const { return requests_per_minute > 0 || tokens_per_minute > 0 || concurrent_streams > 0; }
};

// One key as the file holds it. `hash` and `salt` are raw bytes (hex in the file).
struct KeyEntry {
  std::string id;    // 12 lower-case hex characters, public (logs, audit, metrics)
  std::string name;  // a label for people
  Role role = Role::kUser;
  std::string salt, hash;           // 16 bytes, 32 bytes
  std::vector<std::string> models;  // allowed models (normalized "name:tag"); empty = all
  int64_t expires = 0;              // unix seconds; 0 = never
  int64_t created = 0;
  bool revoked = false;
  RateLimits limits;
};

// The authenticated caller of a request (shared with the request's work on the pool).
using Principal = KeyEntry;

struct KeyFile {
  std::vector<KeyEntry> keys;
};

inline constexpr size_t kMaxKeysFile = 4u << 20;
inline constexpr size_t kMaxKeys = 100000;

// Parses a keys file's text (JSON or YAML); every field is checked, an error names the entry.
Result<KeyFile> parse_key_file(std::string_view text, const std::string& origin);
Result<KeyFile> read_key_file(const std::string& path);
// JSON, keys in file order; what `paddock keys` writes (atomically, mode 0600).
std::string format_key_file(const KeyFile& f);
Status write_key_file(const std::string& path, const KeyFile& f);

// A new key: random id, salt and secret. Returns the token ("pdk_<id>_<secret>"), shown once.
std::string new_key(KeyEntry& e);
// The entry's hash for `secret`.
std::string hash_secret(std::string_view salt, std::string_view secret);
// Splits a token into id and secret; false if it is not of our form.
bool split_token(std::string_view token, std::string_view* id, std::string_view* secret);
// "tiny" -> "tiny:latest"; a name with a tag is kept.
std::string normalize_model(std::string_view name);
bool model_allowed(const KeyEntry& k, std::string_view model);
// "2027-01-31T00:00:00Z" or unix seconds; 0 and "" = never.
Result<int64_t> parse_time(std::string_view s);
std::string format_time(int64_t unix_s);

enum class AuthResult { kOk, kMissing, kInvalid, kExpired, kRevoked };
const char* auth_reason(AuthResult r);  // "missing_key", "invalid_key", "expired_key", "revoked_key"

struct KeyTable {
  std::unordered_map<std::string, std::shared_ptr<const KeyEntry>> by_id;
};

// The keys in force: an immutable table swapped whole on reload. A watcher thread checks the
// file (stat: device, inode, size, mtime — a Secret mount's symlink swap changes the inode)
// every poll_ms and reloads it when it changed; a bad file keeps the keys in force.
class KeyStore {
 public:
  // Reads the file now: an error (missing, malformed) stops the server from starting.
  static Result<std::unique_ptr<KeyStore>> open(const std::string& path, int poll_ms = 1000);
  ~KeyStore();
  // `on_reload(ok, message)` after every reload attempt (metrics, logs).
  void set_on_reload(std::function<void(bool, const std::string&)> fn);
  void start_watching();
  // Reads the file again (SIGHUP). Thread: any but an I/O thread.
  Status reload();
  // The I/O thread's check: `authorization` is the header's value. O(1): a lookup and one HMAC.
  AuthResult authenticate(std::string_view authorization, int64_t now_unix, std::shared_ptr<const KeyEntry>* out) const;
  size_t size() const;
  const std::string& path() const { return path_; }

 private:
  KeyStore(std::string path, int poll_ms) : path_(std::move(path)), poll_ms_(poll_ms) {}
  void watch();
  std::string path_;
  int poll_ms_;
  std::atomic<std::shared_ptr<const KeyTable>> table_;
  std::mutex mu_;  // reloads, one at a time; and the watcher's stop
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread watcher_;
  struct FileId {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileId&) const = default;
  } seen_;
  static FileId file_id(const std::string& path);
  std::function<void(bool, const std::string&)> on_reload_;
};

}  // namespace paddock::server
