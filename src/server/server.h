// server: the public header — `paddock serve`: the HTTP listener with Ollama's and OpenAI's
// APIs, the model manager and runner supervision. Configuration follows Ollama's environment
// variables (OLLAMA_HOST, OLLAMA_KEEP_ALIVE, ...) with PADDOCK_* names taking precedence.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace paddock::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 11434;
  std::string models_dir;
  bool insecure_no_auth = false;      // allow a non-loopback bind without authentication
  std::vector<std::string> origins;   // extra CORS origins (OLLAMA_ORIGINS), may use '*' wildcards
  int64_t keep_alive_ns = 5ll * 60 * 1000000000;  // default keep_alive; negative = forever
  int max_queue = 512;
  int num_parallel = 1;
  int max_loaded = 3;
  int num_ctx = 4096;
  int threads = 0;                    // runner CPU threads (0 = all)
  std::string device = "auto";        // runner device: auto, cpu, cuda, cuda:N
  int io_threads = 2;
  uint64_t memory_budget = 0;         // 0 = 90% of available memory
  int64_t request_timeout_ms = 0;     // 0 = none
  int load_timeout_ms = 300000;
  size_t max_body = 8u << 20;
  uint64_t max_blob = 512ull << 30;   // largest blob upload (PADDOCK_MAX_BLOB_SIZE); 413 over it
  size_t max_header_bytes = 16u << 10;
  size_t max_header_count = 100;
  int header_timeout_ms = 30000;
  int body_timeout_ms = 120000;
  size_t max_connections = 512;         // open connections; more get 503
  size_t max_body_memory = 256u << 20;  // request bodies buffered at once; more get 503
  int drain_timeout_ms = 30000;         // SIGTERM: how long in-flight requests may still run
  std::string runner_exe;             // defaults to /proc/self/exe
  bool debug_endpoints = false;       // /api/debug/runners (KV block counts) for tests
  // The metrics listener (GET /metrics, /livez, /readyz); metrics_port -1 = none.
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 8080;
  bool metrics_required = false;      // the address was configured: failing to bind it is an error
  std::string metrics_token;          // bearer token /metrics requires ("" = none)
  std::string metrics_token_file;     // or read it from this file at start (a Secret mount)
  std::string tls_cert, tls_key;      // PEM files: the API listener speaks TLS only
  std::string tls_client_ca;          // PEM CA bundle: clients must present a certificate it signed
  std::vector<std::string> preload;   // models loaded at start; /readyz is 503 until they are
  // Access control (auth.h, ratelimit.h, audit.h).
  std::string keys_file;              // API keys file (JSON or YAML); "" = no authentication
  int keys_poll_ms = 1000;            // how often the keys file is checked for a change
  std::string ratelimit_redis;        // redis://[:password@]host[:port][/db]; "" = buckets in memory
  bool ratelimit_fail_closed = false; // Redis unreachable: refuse with 503 instead of admitting
  int64_t global_requests_per_minute = 0;  // 0 = no limit
  int64_t global_tokens_per_minute = 0;
  int64_t global_concurrent_streams = 0;
  std::string audit_log;              // audit log file (JSON lines); "" or "-" = stderr
  bool log_prompts = false;           // audit inference requests with their prompts and outputs
};

// Ollama's OLLAMA_HOST parsing: "[scheme://]host[:port][/path]"; default port 11434 unless a scheme
// is given without a port (http 80, https 443). IPv6 in brackets.
Result<std::pair<std::string, uint16_t>> parse_host(const std::string& s);
// Durations this long or longer are "forever" (-1): a deadline that far ahead would overflow a
// 64-bit nanosecond clock, and Ollama treats them as never expiring too.
inline constexpr int64_t kForeverNs = 100ll * 365 * 24 * 3600 * 1000000000;
// Go-style durations and integer seconds ("5m", "1h30m", "300", "-1"); negative = forever.
Result<int64_t> parse_duration_ns(const std::string& s);
// Byte sizes: "1048576", "512G", "64MiB" (binary units K M G T, optional "i"/"B").
Result<uint64_t> parse_size(const std::string& s);
// Fills a config from the environment alone (PADDOCK_* before OLLAMA_*); `paddock serve` layers
// a config file under it and flags over it (settings.h).
Result<ServerConfig> config_from_env();
bool is_loopback_host(const std::string& host);

class Server {
 public:
  virtual ~Server() = default;
  static Result<std::unique_ptr<Server>> create(const ServerConfig& cfg);
  // Binds (port 0 = any free port) and starts serving.
  virtual Status start() = 0;
  virtual uint16_t port() const = 0;
  // Graceful stop (SIGTERM): drain — /readyz answers 503 and new requests get 503 + Retry-After
  // while the requests in flight run on for up to drain_timeout_ms; then whatever still runs is
  // ended cleanly (a streamed response gets a final error line, or an error event and [DONE]);
  // then the listener closes and the runners are stopped.
  virtual void stop() = 0;
  // SIGHUP: reads the TLS certificate and key again (connections already open keep theirs), and
  // the API keys file.
  virtual Status reload() = 0;
  // The metrics listener's port (0 when there is none).
  virtual uint16_t metrics_port() const = 0;
};

}  // namespace paddock::server
