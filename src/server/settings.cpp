// settings: the table of serve settings, the YAML config file and the layering of sources.
#include "server/settings.h"

#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace paddock::server {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace((unsigned char)s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
  return s.substr(i);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    std::string part = trim(s.substr(p, q - p));
    // Ollama's OLLAMA_ORIGINS values are sometimes quoted.
    if (part.size() >= 2 && (part.front() == '"' || part.front() == '\'') && part.back() == part.front())
      part = part.substr(1, part.size() - 2);
    if (!part.empty()) out.push_back(part);
    p = q + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string r;
  for (auto& x : v) r += (r.empty() ? "" : ",") + x;
  return r;
}

Result<int64_t> parse_int(const std::string& raw, int64_t lo, int64_t hi) {
  std::string s = trim(raw);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || !end || *end || errno == ERANGE || x < lo || x > hi)
    return make_error(ErrorCode::kInvalidArgument, "'{}' is not an integer in [{}, {}]", raw, lo, hi);
  return int64_t(x);
}

Result<bool> parse_bool(const std::string& raw) {
  std::string s = trim(raw);
  for (char& c : s) c = char(std::tolower((unsigned char)c));
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off" || s.empty()) return false;
  return make_error(ErrorCode::kInvalidArgument, "'{}' is not a boolean (true/false)", raw);
}

std::string format_duration(int64_t ns) {
  if (ns < 0) return "-1";
  if (ns == 0) return "0";
  constexpr int64_t s = 1000000000, ms = 1000000;
  if (ns % (3600 * s) == 0) return fmt::format("{}h", ns / (3600 * s));
  if (ns % (60 * s) == 0) return fmt::format("{}m", ns / (60 * s));
  if (ns % s == 0) return fmt::format("{}s", ns / s);
  if (ns % ms == 0) return fmt::format("{}ms", ns / ms);
  return fmt::format("{}ns", ns);
}

std::string format_size(uint64_t b) {
  if (b == 0) return "0";
  const char* units[] = {"", "K", "M", "G", "T"};
  int u = 0;
  while (u < 4 && b % 1024 == 0) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{}{}", b, units[u]);
}

std::string format_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", int64_t(v));
  return fmt::format("{}", v);
}

std::string host_port(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

// HOST:PORT for the metrics listener ("off" or "" = none). ":PORT" is every interface.
Status set_metrics_addr(ServerConfig& c, const std::string& raw) {
  std::string s = trim(raw);
  c.metrics_required = true;
  if (s.empty() || s == "off" || s == "none" || s == "false") {
    c.metrics_port = -1;
    return Status::Ok();
  }
  std::string host, port;
  if (s[0] == '[') {
    auto close = s.find("]:");
    if (close == std::string::npos) return make_error(ErrorCode::kInvalidArgument, "'{}' is not HOST:PORT", raw);
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto c2 = s.rfind(':');
    if (c2 == std::string::npos || s.find(':') != c2)
      return make_error(ErrorCode::kInvalidArgument, "'{}' is not HOST:PORT (e.g. 127.0.0.1:8080, or off)", raw);
    host = s.substr(0, c2);
    port = s.substr(c2 + 1);
  }
  ASSIGN_OR_RETURN(int64_t p, parse_int(port, 0, 65535));
  c.metrics_host = host.empty() ? "0.0.0.0" : host;
  c.metrics_port = int(p);
  return Status::Ok();
}

Status check_device(const std::string& d) {
  if (d == "auto" || d == "cpu" || d == "cuda") return Status::Ok();
  if (d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() <= 9 && d.find_first_not_of("0123456789", 5) == std::string::npos)
    return Status::Ok();
  return make_error(ErrorCode::kInvalidArgument, "'{}' is not auto, cpu, cuda or cuda:N", d);
}

Status file_readable(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return make_error(ErrorCode::kInvalidArgument, "'{}' is not a readable file", path);
  return Status::Ok();
}

using K = Setting::Kind;

// Integer setting bound to a ServerConfig member.
template <class T>
Setting int_setting(std::string key, std::vector<std::string> env, std::string help, T ServerConfig::*m, int64_t lo,
                    int64_t hi) {
  Setting s;
  s.key = std::move(key);
  s.env = std::move(env);
  s.help = std::move(help);
  s.set = [m, lo, hi](ServerConfig& c, const std::string& v) -> Status {
    ASSIGN_OR_RETURN(int64_t x, parse_int(v, lo, hi));
    c.*m = T(x);
    return Status::Ok();
  };
  s.get = [m](const ServerConfig& c) { return std::to_string(c.*m); };
  return s;
}

Setting duration_setting(std::string key, std::vector<std::string> env, std::string help,
                         std::function<void(ServerConfig&, int64_t)> put, std::function<int64_t(const ServerConfig&)> read) {
  Setting s;
  s.key = std::move(key);
  s.env = std::move(env);
  s.help = std::move(help);
  s.set = [put](ServerConfig& c, const std::string& v) -> Status {
    ASSIGN_OR_RETURN(int64_t ns, parse_duration_ns(v));
    put(c, ns);
    return Status::Ok();
  };
  s.get = [read](const ServerConfig& c) { return format_duration(read(c)); };
  return s;
}

Setting size_setting(std::string key, std::vector<std::string> env, std::string help, uint64_t lo,
                     std::function<void(ServerConfig&, uint64_t)> put, std::function<uint64_t(const ServerConfig&)> read) {
  Setting s;
  s.key = std::move(key);
  s.env = std::move(env);
  s.help = std::move(help);
  s.set = [put, lo](ServerConfig& c, const std::string& v) -> Status {
    ASSIGN_OR_RETURN(uint64_t b, parse_size(v));
    if (b < lo) return make_error(ErrorCode::kInvalidArgument, "'{}' is below the minimum {}", v, format_size(lo));
    put(c, b);
    return Status::Ok();
  };
  s.get = [read](const ServerConfig& c) { return format_size(read(c)); };
  return s;
}

Setting string_setting(std::string key, std::vector<std::string> env, std::string help, std::string ServerConfig::*m,
                       bool must_be_file = false) {
  Setting s;
  s.key = std::move(key);
  s.env = std::move(env);
  s.help = std::move(help);
  s.set = [m, must_be_file](ServerConfig& c, const std::string& v) -> Status {
    std::string x = trim(v);
    if (must_be_file && !x.empty()) RETURN_IF_ERROR(file_readable(x));
    c.*m = x;
    return Status::Ok();
  };
  s.get = [m](const ServerConfig& c) { return c.*m; };
  return s;
}

Setting bool_setting(std::string key, std::vector<std::string> env, std::string help, bool ServerConfig::*m) {
  Setting s;
  s.key = std::move(key);
  s.env = std::move(env);
  s.help = std::move(help);
  s.kind = K::kBool;
  s.set = [m](ServerConfig& c, const std::string& v) -> Status {
    ASSIGN_OR_RETURN(bool b, parse_bool(v));
    c.*m = b;
    return Status::Ok();
  };
  s.get = [m](const ServerConfig& c) { return std::string(c.*m ? "true" : "false"); };
  return s;
}

std::vector<Setting> make_settings() {
  std::vector<Setting> t;
  {
    Setting s;
    s.key = "host";
    s.env = {"PADDOCK_HOST", "OLLAMA_HOST"};
    s.help = "Address of the API listener, [scheme://]host[:port] (default 127.0.0.1:11434)";
    s.set = [](ServerConfig& c, const std::string& v) -> Status {
      ASSIGN_OR_RETURN(auto hp, parse_host(v));
      c.host = hp.first;
      c.port = hp.second;
      return Status::Ok();
    };
    s.get = [](const ServerConfig& c) { return host_port(c.host, c.port); };
    t.push_back(std::move(s));
  }
  {
    Setting s = string_setting("models", {"PADDOCK_MODELS", "OLLAMA_MODELS"}, "Model store directory",
                               &ServerConfig::models_dir);
    s.alias = {"model-dir"};
    t.push_back(std::move(s));
  }
  t.push_back(duration_setting(
      "keep-alive", {"PADDOCK_KEEP_ALIVE", "OLLAMA_KEEP_ALIVE"},
      "How long an idle model stays loaded, e.g. 5m, 1h, -1 forever (default 5m)",
      [](ServerConfig& c, int64_t ns) { c.keep_alive_ns = ns; }, [](const ServerConfig& c) { return c.keep_alive_ns; }));
  t.push_back(int_setting("max-queue", {"PADDOCK_MAX_QUEUE", "OLLAMA_MAX_QUEUE"},
                          "Requests waiting for a model before new ones get 503 (default 512)", &ServerConfig::max_queue,
                          0, 1 << 20));
  t.push_back(int_setting("num-parallel", {"PADDOCK_NUM_PARALLEL", "OLLAMA_NUM_PARALLEL"},
                          "Requests each loaded model serves at once (default 1)", &ServerConfig::num_parallel, 1, 1024));
  {
    Setting s = int_setting("max-loaded-models", {"PADDOCK_MAX_LOADED_MODELS", "OLLAMA_MAX_LOADED_MODELS"},
                            "Models loaded at once; 0 = the default 3 (as Ollama)", &ServerConfig::max_loaded, 0, 1024);
    auto inner = s.set;
    s.set = [inner](ServerConfig& c, const std::string& v) -> Status {
      RETURN_IF_ERROR(inner(c, v));
      if (c.max_loaded == 0) c.max_loaded = 3;
      return Status::Ok();
    };
    t.push_back(std::move(s));
  }
  {
    Setting s = int_setting("num-ctx", {"PADDOCK_CONTEXT_LENGTH", "OLLAMA_CONTEXT_LENGTH"},
                            "Default context length per sequence; 0 = 4096", &ServerConfig::num_ctx, 0, 1 << 20);
    auto inner = s.set;
    s.set = [inner](ServerConfig& c, const std::string& v) -> Status {
      RETURN_IF_ERROR(inner(c, v));
      if (c.num_ctx == 0) c.num_ctx = 4096;
      return Status::Ok();
    };
    t.push_back(std::move(s));
  }
  {
    Setting s;
    s.key = "origins";
    s.env = {"PADDOCK_ORIGINS", "OLLAMA_ORIGINS"};
    s.kind = K::kList;
    s.help = "Extra allowed CORS origins, comma-separated, '*' wildcards (localhost origins are always allowed)";
    s.set = [](ServerConfig& c, const std::string& v) -> Status {
      c.origins = split_list(v);
      return Status::Ok();
    };
    s.get = [](const ServerConfig& c) { return join(c.origins); };
    t.push_back(std::move(s));
  }
  t.push_back(duration_setting(
      "load-timeout", {"PADDOCK_LOAD_TIMEOUT", "OLLAMA_LOAD_TIMEOUT"},
      "How long a model may take to load before the request fails (default 5m; -1 or 0: no limit)",
      [](ServerConfig& c, int64_t ns) { c.load_timeout_ms = ns <= 0 ? (1 << 30) : int(std::min<int64_t>(ns / 1000000, 1 << 30)); },
      [](const ServerConfig& c) { return c.load_timeout_ms >= (1 << 30) ? int64_t(-1) : int64_t(c.load_timeout_ms) * 1000000; }));
  t.push_back(int_setting("threads", {"PADDOCK_THREADS"}, "CPU threads per runner (0 = all)", &ServerConfig::threads, 0, 4096));
  {
    Setting s = string_setting("device", {"PADDOCK_DEVICE"},
                               "Where runners compute: auto (a GPU when one is usable, else the CPU), cpu, cuda, cuda:N",
                               &ServerConfig::device);
    s.set = [](ServerConfig& c, const std::string& v) -> Status {
      RETURN_IF_ERROR(check_device(trim(v)));
      c.device = trim(v);
      return Status::Ok();
    };
    t.push_back(std::move(s));
  }
  {
    Setting s;
    s.key = "memory-gib";
    s.env = {"PADDOCK_MEMORY_GIB"};
    s.help = "Memory budget for loaded models in GiB (0 = 90% of available memory)";
    s.set = [](ServerConfig& c, const std::string& v) -> Status {
      char* end = nullptr;
      std::string x = trim(v);
      double g = std::strtod(x.c_str(), &end);
      if (x.empty() || !end || *end || !std::isfinite(g) || g < 0 || g > 1e6)
        return make_error(ErrorCode::kInvalidArgument, "'{}' is not a number of GiB", v);
      c.memory_budget = uint64_t(g * double(1ull << 30));
      return Status::Ok();
    };
    s.get = [](const ServerConfig& c) { return format_number(double(c.memory_budget) / double(1ull << 30)); };
    t.push_back(std::move(s));
  }
  t.push_back(duration_setting(
      "request-timeout", {"PADDOCK_REQUEST_TIMEOUT"}, "Time limit of one request, e.g. 10m (default none); over it: 504",
      [](ServerConfig& c, int64_t ns) { c.request_timeout_ms = ns <= 0 ? 0 : ns / 1000000; },
      [](const ServerConfig& c) { return c.request_timeout_ms * 1000000; }));
  t.push_back(int_setting("header-timeout-ms", {"PADDOCK_HEADER_TIMEOUT_MS"},
                          "Time allowed for a request's headers in ms (default 30000); over it: 408",
                          &ServerConfig::header_timeout_ms, 1, 3600000));
  t.push_back(size_setting("max-blob-size", {"PADDOCK_MAX_BLOB_SIZE"}, "Largest blob upload, e.g. 512G (default 512G)", 1,
                           [](ServerConfig& c, uint64_t b) { c.max_blob = b; }, [](const ServerConfig& c) { return c.max_blob; }));
  t.push_back(duration_setting(
      "drain-timeout", {"PADDOCK_DRAIN_TIMEOUT"},
      "On SIGTERM, how long requests in flight may finish before they are ended (default 30s)",
      [](ServerConfig& c, int64_t ns) { c.drain_timeout_ms = ns < 0 ? (1 << 30) : int(std::min<int64_t>(ns / 1000000, 1 << 30)); },
      [](const ServerConfig& c) { return c.drain_timeout_ms >= (1 << 30) ? int64_t(-1) : int64_t(c.drain_timeout_ms) * 1000000; }));
  t.push_back(int_setting("max-connections", {"PADDOCK_MAX_CONNECTIONS"}, "Open connections before 503 (default 512)",
                          &ServerConfig::max_connections, 1, 1 << 20));
  t.push_back(size_setting("max-body-memory", {"PADDOCK_MAX_BODY_MEMORY"},
                           "Request bodies held in memory at once before 503, e.g. 256M (default 256M)", 1 << 20,
                           [](ServerConfig& c, uint64_t b) { c.max_body_memory = size_t(b); },
                           [](const ServerConfig& c) { return uint64_t(c.max_body_memory); }));
  t.push_back(bool_setting("insecure-no-auth", {"PADDOCK_INSECURE_NO_AUTH"},
                           "Allow listening on a non-loopback address without authentication", &ServerConfig::insecure_no_auth));
  t.push_back(bool_setting("debug-endpoints", {"PADDOCK_DEBUG_ENDPOINTS"}, "Enable /api/debug/runners (runner KV statistics)",
                           &ServerConfig::debug_endpoints));
  {
    Setting s;
    s.key = "metrics-addr";
    s.env = {"PADDOCK_METRICS_ADDR"};
    s.help = "Address of the metrics listener (/metrics, /livez, /readyz), HOST:PORT or off (default 127.0.0.1:8080)";
    s.set = set_metrics_addr;
    s.get = [](const ServerConfig& c) { return c.metrics_port < 0 ? std::string("off") : host_port(c.metrics_host, c.metrics_port); };
    t.push_back(std::move(s));
  }
  {
    Setting s = string_setting("metrics-token", {"PADDOCK_METRICS_TOKEN"},
                               "Bearer token /metrics requires (default none; prefer metrics-token-file)",
                               &ServerConfig::metrics_token);
    s.secret = true;
    t.push_back(std::move(s));
  }
  t.push_back(string_setting("metrics-token-file", {"PADDOCK_METRICS_TOKEN_FILE"},
                             "File holding the bearer token /metrics requires (e.g. a Kubernetes Secret mount)",
                             &ServerConfig::metrics_token_file, true));
  t.push_back(string_setting("tls-cert", {"PADDOCK_TLS_CERT"}, "PEM certificate chain: the API listener speaks TLS only",
                             &ServerConfig::tls_cert, true));
  t.push_back(string_setting("tls-key", {"PADDOCK_TLS_KEY"}, "PEM private key of --tls-cert", &ServerConfig::tls_key, true));
  t.push_back(string_setting("tls-client-ca", {"PADDOCK_TLS_CLIENT_CA"},
                             "PEM CA bundle: clients must present a certificate it signed (mTLS)",
                             &ServerConfig::tls_client_ca, true));
  t.push_back(string_setting("keys-file", {"PADDOCK_KEYS_FILE"},
                             "API keys file (JSON or YAML, `paddock keys` writes it): every route but /livez and /readyz "
                             "then needs a key; reloaded when it changes and on SIGHUP",
                             &ServerConfig::keys_file, true));
  t.push_back(int_setting("keys-poll-ms", {"PADDOCK_KEYS_POLL_MS"}, "How often the keys file is checked for a change (ms)",
                          &ServerConfig::keys_poll_ms, 50, 3600000));
  {
    Setting s = string_setting("ratelimit-redis", {"PADDOCK_RATELIMIT_REDIS"},
                               "Keep rate-limit buckets in Redis, shared by every server using it: "
                               "redis://[:password@]host[:port][/db] or unix:///path (default: in memory)",
                               &ServerConfig::ratelimit_redis);
    s.secret = true;
    t.push_back(std::move(s));
  }
  t.push_back(bool_setting("ratelimit-fail-closed", {"PADDOCK_RATELIMIT_FAIL_CLOSED"},
                           "Refuse requests (503) while the Redis store is unreachable, instead of admitting them unlimited",
                           &ServerConfig::ratelimit_fail_closed));
  t.push_back(int_setting("global-requests-per-minute", {"PADDOCK_GLOBAL_REQUESTS_PER_MINUTE"},
                          "Inference requests per minute, all keys together (0 = no limit)",
                          &ServerConfig::global_requests_per_minute, 0, int64_t(1) << 40));
  t.push_back(int_setting("global-tokens-per-minute", {"PADDOCK_GLOBAL_TOKENS_PER_MINUTE"},
                          "Generated tokens per minute, all keys together (0 = no limit)",
                          &ServerConfig::global_tokens_per_minute, 0, int64_t(1) << 40));
  t.push_back(int_setting("global-concurrent-streams", {"PADDOCK_GLOBAL_CONCURRENT_STREAMS"},
                          "Inference requests running at once, all keys together (0 = no limit)",
                          &ServerConfig::global_concurrent_streams, 0, int64_t(1) << 30));
  t.push_back(string_setting("audit-log", {"PADDOCK_AUDIT_LOG"},
                             "Audit log file (JSON lines: admin actions and auth failures); default stderr",
                             &ServerConfig::audit_log));
  t.push_back(bool_setting("log-prompts", {"PADDOCK_LOG_PROMPTS"},
                           "Also audit inference requests with their prompts and outputs (off: never logged)",
                           &ServerConfig::log_prompts));
  {
    Setting s;
    s.key = "preload";
    s.env = {"PADDOCK_PRELOAD"};
    s.kind = K::kList;
    s.help = "Models to load at start and keep loaded; /readyz answers 503 until they are";
    s.set = [](ServerConfig& c, const std::string& v) -> Status {
      c.preload = split_list(v);
      return Status::Ok();
    };
    s.get = [](const ServerConfig& c) { return join(c.preload); };
    t.push_back(std::move(s));
  }
  return t;
}

std::string yaml_quote(const std::string& v) {
  std::string r = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') r += '\\';
    if (c == '\n') {
      r += "\\n";
      continue;
    }
    r += c;
  }
  return r + "\"";
}

std::string normalize_key(std::string k) {
  for (char& c : k)
    if (c == '_') c = '-';
  return k;
}

constexpr uint64_t kMaxConfigFile = 1 << 20;

}  // namespace

const std::vector<Setting>& serve_settings() {
  static const std::vector<Setting> t = make_settings();
  return t;
}

Result<std::map<std::string, std::string>> read_config_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::kInvalidArgument, "config file {}: cannot be read", path);
  std::string text;
  text.resize(kMaxConfigFile + 1);
  f.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(f.gcount()));
  if (text.size() > kMaxConfigFile)
    return make_error(ErrorCode::kInvalidArgument, "config file {}: larger than {} bytes", path, kMaxConfigFile);
  std::map<std::string, Setting::Kind> known;
  for (auto& st : serve_settings()) known[st.key] = st.kind;
  std::map<std::string, std::string> out;
  auto scalar_or_list = [&](const std::string& key, const YAML::Node& v) -> Status {
    auto it = known.find(key);
    if (it == known.end()) return make_error(ErrorCode::kInvalidArgument, "config file {}: unknown key '{}'", path, key);
    if (out.count(key)) return make_error(ErrorCode::kInvalidArgument, "config file {}: '{}' is given twice", path, key);
    if (v.IsNull()) return Status::Ok();
    if (v.IsScalar()) {
      out[key] = v.Scalar();
      return Status::Ok();
    }
    if (v.IsSequence() && it->second == Setting::Kind::kList) {
      std::vector<std::string> items;
      for (const auto& x : v) {
        if (!x.IsScalar())
          return make_error(ErrorCode::kInvalidArgument, "config file {}: '{}' must be a list of strings", path, key);
        if (x.Scalar().find(',') != std::string::npos)
          return make_error(ErrorCode::kInvalidArgument, "config file {}: an item of '{}' contains a comma", path, key);
        items.push_back(x.Scalar());
      }
      out[key] = join(items);
      return Status::Ok();
    }
    return make_error(ErrorCode::kInvalidArgument, "config file {}: '{}' must be a {}", path, key,
                      it->second == Setting::Kind::kList ? "list or a comma-separated string" : "single value");
  };
  try {
    YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return out;  // an empty file
    if (!root.IsMap()) return make_error(ErrorCode::kInvalidArgument, "config file {}: expected a mapping of settings", path);
    for (const auto& kv : root) {
      if (!kv.first.IsScalar()) return make_error(ErrorCode::kInvalidArgument, "config file {}: a key is not a string", path);
      std::string key = normalize_key(kv.first.Scalar());
      if (kv.second.IsMap()) {  // one level: tls: {cert: …} is tls-cert
        for (const auto& sub : kv.second) {
          if (!sub.first.IsScalar())
            return make_error(ErrorCode::kInvalidArgument, "config file {}: a key under '{}' is not a string", path, key);
          RETURN_IF_ERROR(scalar_or_list(key + "-" + normalize_key(sub.first.Scalar()), sub.second));
        }
        continue;
      }
      RETURN_IF_ERROR(scalar_or_list(key, kv.second));
    }
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "config file {}: line {}, column {}: {}", path, e.mark.line + 1,
                      e.mark.column + 1, e.msg);
  }
  return out;
}

Result<EffectiveConfig> resolve_config(const ConfigInputs& in, ServerConfig defaults) {
  EffectiveConfig eff;
  eff.cfg = std::move(defaults);
  for (auto& st : serve_settings()) eff.source[st.key] = "default";
  if (!in.file.empty()) {
    ASSIGN_OR_RETURN(auto file, read_config_file(in.file));
    for (auto& st : serve_settings()) {
      auto it = file.find(st.key);
      if (it == file.end()) continue;
      auto r = st.set(eff.cfg, it->second);
      if (!r.ok()) return r.error().wrap(fmt::format("config file {}: {}", in.file, st.key));
      eff.source[st.key] = "file " + in.file;
    }
  }
  for (auto& st : serve_settings()) {
    for (auto& name : st.env) {
      const char* v = in.getenv(name.c_str());
      if (!v || !*v) continue;
      auto r = st.set(eff.cfg, v);
      if (!r.ok()) return r.error().wrap(name);
      eff.source[st.key] = "env " + name;
      break;  // PADDOCK_* is listed first and wins
    }
  }
  for (auto& st : serve_settings()) {
    auto it = in.flags.find(st.key);
    if (it == in.flags.end()) continue;
    auto r = st.set(eff.cfg, it->second);
    if (!r.ok()) return r.error().wrap("--" + st.key);
    eff.source[st.key] = "flag --" + st.key;
  }
  if (eff.cfg.tls_cert.empty() != eff.cfg.tls_key.empty())
    return make_error(ErrorCode::kInvalidArgument, "TLS needs both tls-cert and tls-key");
  if (!eff.cfg.tls_client_ca.empty() && eff.cfg.tls_cert.empty())
    return make_error(ErrorCode::kInvalidArgument, "tls-client-ca needs tls-cert and tls-key");
  if (!eff.cfg.metrics_token.empty() && !eff.cfg.metrics_token_file.empty())
    return make_error(ErrorCode::kInvalidArgument, "give metrics-token or metrics-token-file, not both");
  return eff;
}

std::string print_config(const EffectiveConfig& eff) {
  std::string out =
      "# paddock serve: effective configuration.\n"
      "# Precedence: flags > PADDOCK_* > OLLAMA_* > config file (--config) > defaults.\n"
      "# This output is a valid config file; secrets are masked and commented out.\n";
  for (auto& st : serve_settings()) {
    std::string v = st.get(eff.cfg);
    std::string shown;
    if (st.secret) shown = v.empty() ? "\"\"" : "\"********\"";
    else if (st.kind == Setting::Kind::kBool) shown = v;
    else if (st.kind == Setting::Kind::kList) {
      shown = "[";
      for (auto& x : split_list(v)) shown += (shown.size() > 1 ? ", " : "") + yaml_quote(x);
      shown += "]";
    } else shown = yaml_quote(v);
    auto src = eff.source.find(st.key);
    // A set secret is shown commented out, so the output read back never sets it to the mask.
    out += fmt::format("{}{}: {}  # {}\n", st.secret && !v.empty() ? "# " : "", st.key, shown,
                       src == eff.source.end() ? "default" : src->second);
  }
  return out;
}

Result<ServerConfig> config_from_env() {
  ConfigInputs in;
  ASSIGN_OR_RETURN(auto eff, resolve_config(in));
  return eff.cfg;
}

}  // namespace paddock::server
