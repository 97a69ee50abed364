// api_common: request parsing and response helpers shared by the Ollama and OpenAI adapters —
// strict JSON field access with Ollama's error texts, the options map (types and ranges),
// keep_alive, timestamps, and the mapping from errors to HTTP status codes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/stop.h"
#include "util/status.h"

namespace paddock::server {

using json = nlohmann::json;

// Caps on request contents (SECURITY.md "Limits").
inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxStopStrings = grammar::kMaxStops;     // what the runner accepts,
inline constexpr size_t kMaxStopLength = grammar::kMaxStopBytes;  // so a request is refused up front
inline constexpr int32_t kMaxNumCtx = 1 << 20;
inline constexpr int32_t kMaxNumPredict = 1 << 20;
inline constexpr size_t kMaxMessages = 10000;
inline constexpr int kMaxTopLogprobs = 20;

// Parses a request body: a JSON object, at most kMaxJsonDepth deep, valid UTF-8.
Result<json> parse_body(const std::string& body);
// The member at `path` of an already validated JSON body, re-serialized with its object members in
// the order the client wrote them ("" when absent). parse_body's json sorts keys; a JSON schema's
// property order matters to what a model writes, so structured output forwards this text.
std::string ordered_member_text(const std::string& body, std::initializer_list<const char*> path);
// Structured output: compiles `format` ("json" or a JSON schema; null or "" = none) with the
// engine's JSON schema front end exactly as the runner will — from `format_text` (the schema with
// its member order, see ordered_member_text) when that is not empty — so a schema the runner would
// refuse is refused before a model is loaded for it, with the runner's message (kInvalidArgument).
Status check_format(const json& format, const std::string& format_text);
// Nesting depth of JSON text (brackets outside strings), stopping early past `limit`.
int json_depth(const std::string& text, int limit);

// Typed field access: absent or null -> nullopt; wrong type -> kInvalidArgument naming the field.
Result<std::optional<std::string>> opt_string(const json& o, const char* key);
Result<std::optional<bool>> opt_bool(const json& o, const char* key);
Result<std::optional<int64_t>> opt_int(const json& o, const char* key, int64_t lo, int64_t hi);
Result<std::optional<double>> opt_number(const json& o, const char* key, double lo, double hi);

// Generation options after validation (Ollama's names; defaults = "unset" so the model's params
// layer and then the engine's defaults apply).
struct GenOptions {
  json values = json::object();  // only keys that were set, already type-checked
  // Merge: keys in `over` replace ours.
  void merge(const GenOptions& over);
};
// Checks Ollama's `options` map: known keys with the right types and ranges; unknown and legacy
// keys are ignored (logged at debug); NaN/inf and out-of-range values are errors.
Result<GenOptions> parse_options(const json& options);

// keep_alive: number = seconds, string = Go duration or integer seconds; negative = forever.
Result<std::optional<int64_t>> parse_keep_alive(const json& o);

// "2024-05-01T12:34:56.123456789Z"
std::string rfc3339_ns(int64_t unix_ns);
int64_t now_unix_ns();

// HTTP status for an error from a lower layer.
int http_status(const Error& e);
// "invalid model name: <why>" for a name the validator refused, said once (the store's own
// messages may already carry the prefix).
std::string name_error(const Error& e);

}  // namespace paddock::server
