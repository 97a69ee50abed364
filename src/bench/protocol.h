// bench/protocol: the wire side of one request — the target URL, the HTTP request bytes for each
// API (built once per prompt, reused for every request that sends it), and a decoder that turns
// a response body (NDJSON, SSE or one JSON object) into token events and the server's counts.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bench/bench.h"
#include "bench/workload.h"

namespace paddock::bench {

struct Endpoint {
  bool tls = false;
  std::string host;  // name or address, without brackets
  uint16_t port = 0;
  std::string path_prefix;        // "" or "/prefix" (no trailing slash)
  std::string authority() const;  // Host header value
  std::string str() const;
};

// "http://host[:port][/prefix]", "https://...", or "host:port" (http). Errors name the problem.
Result<Endpoint> parse_url(const std::string& url);

struct RequestSpec {
  Api api = Api::kGenerate;
  bool stream = true;
  std::string model;
  std::string api_key;
  bool ignore_eos = false;
  nlohmann::json extra = nlohmann::json::object();  // merged into options (Ollama) or the body (OpenAI)
};

// The JSON body for `prompt`; an error when the prompt's shape does not fit the API (messages
// for a prompt-only route).
Result<std::string> request_body(const RequestSpec& spec, const Prompt& prompt);
// The whole HTTP/1.1 request (keep-alive) carrying `body`.
std::string http_request(const Endpoint& ep, const RequestSpec& spec, const std::string& body);

// Decodes one response body as it arrives. Every non-empty piece of generated text (a chunk's
// response / message content or thinking / delta / text, or a tool call) is one token event.
class ResponseDecoder {
 public:
  static constexpr size_t kMaxPending = 16u << 20;  // a line or a whole non-streamed body

  ResponseDecoder(Api api, bool stream) : api_(api), stream_(stream) {}
  // Feeds body bytes; returns the number of token events they completed (0 once failed()).
  int feed(std::string_view bytes);
  // At the end of the body: parses what is left (a non-streamed answer, an unterminated line).
  void finish();

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  bool stream_error() const { return stream_error_; }  // the server reported an error in the body
  int events() const { return events_; }
  int in_tokens() const { return in_tokens_; }    // -1 when the server did not say
  int out_tokens() const { return out_tokens_; }  // -1 when the server did not say
  bool done() const { return done_; }             // the server's end marker was seen

 private:
  void line(std::string_view l);
  int object(std::string_view text);  // one JSON object; returns its token events
  void fail(std::string msg, bool from_server);

  Api api_;
  bool stream_;
  std::string pending_;
  std::string error_;
  bool stream_error_ = false;
  int new_events_ = 0, events_ = 0;
  int in_tokens_ = -1, out_tokens_ = -1;
  bool done_ = false;
};

}  // namespace paddock::bench
