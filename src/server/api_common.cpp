// api_common: strict request parsing shared by both API adapters.
#include "server/api_common.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <set>

#include "grammar/json_schema.h"
#include "server/server.h"
#include "util/log.h"

namespace paddock::server {

int json_depth(const std::string& t, int limit) {
  int depth = 0, max_depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
      if (max_depth > limit) return max_depth;
    } else if (c == ']' || c == '}') --depth;
  }
  return max_depth;
}

std::string ordered_member_text(const std::string& body, std::initializer_list<const char*> path) {
  const auto doc = nlohmann::ordered_json::parse(body, nullptr, false);
  const nlohmann::ordered_json* cur = &doc;
  for (const char* key : path) {
    if (!cur->is_object()) return {};
    auto it = cur->find(key);
    if (it == cur->end()) return {};
    cur = &*it;
  }
  return cur->dump();
}

Status check_format(const json& format, const std::string& format_text) {
  if (format.is_null() || format == "") return Status::Ok();
  // The same input the runner compiles (runner.cpp, generate): the ordered text when there is one.
  auto g = format_text.empty() ? grammar::compile_format(format)
                               : grammar::compile_format(nlohmann::ordered_json::parse(format_text, nullptr, false));
  if (!g.ok()) return make_error(ErrorCode::kInvalidArgument, "{}", g.error().message());
  return Status::Ok();
}

Result<json> parse_body(const std::string& body) {
  if (body.empty()) return make_error(ErrorCode::kInvalidArgument, "missing request body");
  if (json_depth(body, kMaxJsonDepth) > kMaxJsonDepth)
    return make_error(ErrorCode::kInvalidArgument, "request JSON is nested more than {} levels", kMaxJsonDepth);
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    std::string what = e.what();
    auto p = what.find("parse error");
    return make_error(ErrorCode::kInvalidArgument, "invalid JSON: {}", p == std::string::npos ? what : what.substr(p));
  }
  if (!j.is_object()) return make_error(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  return j;
}

static const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "number";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "null";
  }
}

Result<std::optional<std::string>> opt_string(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string())
    return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': expected string, got {}", key, type_name(*it));
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<bool>> opt_bool(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean())
    return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': expected bool, got {}", key, type_name(*it));
  return std::optional<bool>(it->get<bool>());
}

static Result<int64_t> as_int(const json& v, const std::string& key, int64_t lo, int64_t hi) {
  int64_t x;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max()))
      return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': {} is out of range [{}, {}]", key, u, lo, hi);
    x = int64_t(u);
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    // Go clients send integers as float64 JSON numbers; accept whole values only.
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.2e18 || d > 9.2e18)
      return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': expected an integer, got {}", key, v.dump());
    x = int64_t(d);
  } else {
    return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': expected integer, got {}", key, type_name(v));
  }
  if (x < lo || x > hi)
    return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': {} is out of range [{}, {}]", key, x, lo, hi);
  return x;
}

static Result<double> as_number(const json& v, const std::string& key, double lo, double hi) {
  if (!v.is_number())
    return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': expected number, got {}", key, type_name(v));
  double d = v.get<double>();
  if (!std::isfinite(d)) return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': must be finite", key);
  if (d < lo || d > hi)
    return make_error(ErrorCode::kInvalidArgument, "invalid value for '{}': {} is out of range [{}, {}]", key, d, lo, hi);
  return d;
}

Result<std::optional<int64_t>> opt_int(const json& o, const char* key, int64_t lo, int64_t hi) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t v, as_int(*it, key, lo, hi));
  return std::optional<int64_t>(v);
}

Result<std::optional<double>> opt_number(const json& o, const char* key, double lo, double hi) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<double>();
  ASSIGN_OR_RETURN(double v, as_number(*it, key, lo, hi));
  return std::optional<double>(v);
}

void GenOptions::merge(const GenOptions& over) {
  for (auto& [k, v] : over.values.items()) values[k] = v;
}

namespace {
struct IntRange { const char* key; int64_t lo, hi; };
struct FloatRange { const char* key; double lo, hi; };
constexpr int64_t kI32 = std::numeric_limits<int32_t>::max();
const IntRange kIntOptions[] = {
    {"num_keep", -1, kMaxNumCtx},      {"seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()},
    {"num_predict", -2, kMaxNumPredict}, {"top_k", 0, kI32},
    {"repeat_last_n", -1, kMaxNumCtx}, {"num_ctx", 1, kMaxNumCtx},
    {"num_batch", 1, 1 << 16},         {"num_gpu", -1, 1 << 16},
    {"main_gpu", 0, 1 << 10},          {"num_thread", 0, 1 << 12},
    {"draft_num_predict", 0, 64},      {"mirostat", 0, 2},
};
const FloatRange kFloatOptions[] = {
    {"temperature", 0, 100},       {"top_p", 0, 1},           {"min_p", 0, 1},
    {"typical_p", 0, 1},           {"repeat_penalty", 0, 100}, {"presence_penalty", -100, 100},
    {"frequency_penalty", -100, 100}, {"tfs_z", 0, 1e9},       {"mirostat_tau", 0, 1e9},
    {"mirostat_eta", 0, 1e9},
};
const char* kBoolOptions[] = {"use_mmap", "numa", "penalize_newline", "low_vram", "f16_kv", "logits_all",
                              "vocab_only", "use_mlock", "embedding_only"};
}  // namespace

Result<GenOptions> parse_options(const json& options) {
  GenOptions out;
  if (options.is_null()) return out;
  if (!options.is_object())
    return make_error(ErrorCode::kInvalidArgument, "invalid value for 'options': expected object, got {}", type_name(options));
  for (auto& [k, v] : options.items()) {
    if (v.is_null()) continue;
    bool known = false;
    for (auto& r : kIntOptions) {
      if (k == r.key) {
        ASSIGN_OR_RETURN(int64_t x, as_int(v, "options." + k, r.lo, r.hi));
        out.values[k] = x;
        known = true;
      }
    }
    for (auto& r : kFloatOptions) {
      if (k == r.key) {
        ASSIGN_OR_RETURN(double x, as_number(v, "options." + k, r.lo, r.hi));
        out.values[k] = x;
        known = true;
      }
    }
    for (auto* b : kBoolOptions) {
      if (k == b) {
        if (!v.is_boolean())
          return make_error(ErrorCode::kInvalidArgument, "invalid value for 'options.{}': expected bool, got {}", k, type_name(v));
        known = true;  // accepted, no effect here
      }
    }
    if (k == "stop") {
      known = true;
      json arr = json::array();
      if (v.is_string()) arr.push_back(v);
      else if (v.is_array()) arr = v;
      else return make_error(ErrorCode::kInvalidArgument, "invalid value for 'options.stop': expected array of strings");
      if (arr.size() > kMaxStopStrings)
        return make_error(ErrorCode::kInvalidArgument, "too many stop sequences ({}; at most {})", arr.size(), kMaxStopStrings);
      for (auto& s : arr) {
        if (!s.is_string()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'options.stop': expected array of strings");
        if (s.get_ref<const std::string&>().size() > kMaxStopLength)
          return make_error(ErrorCode::kInvalidArgument, "stop sequence longer than {} bytes", kMaxStopLength);
        if (s.get_ref<const std::string&>().empty())
          return make_error(ErrorCode::kInvalidArgument, "stop sequences must not be empty");
      }
      out.values["stop"] = arr;
    }
    if (!known) log::debug("invalid option provided: {}", k);
  }
  return out;
}

Result<std::optional<int64_t>> parse_keep_alive(const json& o) {
  auto it = o.find("keep_alive");
  if (it == o.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number()) {
    double d = it->get<double>();
    if (!std::isfinite(d)) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'keep_alive'");
    if (d < 0 || !(d * 1e9 < double(kForeverNs))) return std::optional<int64_t>(-1);  // forever, as Ollama
    return std::optional<int64_t>(int64_t(d * 1e9));
  }
  if (it->is_string()) {
    auto r = parse_duration_ns(it->get<std::string>());
    if (!r.ok()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'keep_alive': {}", r.error().message());
    return std::optional<int64_t>(*r < 0 ? -1 : *r);
  }
  return make_error(ErrorCode::kInvalidArgument, "invalid value for 'keep_alive': expected duration string or number");
}

int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339_ns(int64_t ns) {
  time_t s = time_t(ns / 1000000000);
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    s -= 1;
  }
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

int http_status(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kResourceExhausted: return 503;
    case ErrorCode::kCancelled: return 499;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kUnsupported: return 501;
    case ErrorCode::kCorrupt: return 400;
    default: return 500;
  }
}

std::string name_error(const Error& e) {
  static constexpr std::string_view kPrefix = "invalid model name";
  const std::string& m = e.message();
  return m.rfind(kPrefix, 0) == 0 ? m : std::string(kPrefix) + ": " + m;
}

}  // namespace paddock::server
