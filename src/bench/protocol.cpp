// bench/protocol: URLs, request bytes and response decoding for the four routes.
#include "bench/protocol.h"

#include <charconv>

namespace paddock::bench {

using nlohmann::json;

Result<Api> parse_api(const std::string& t) {
  if (t == "generate" || t == "/api/generate") return Api::kGenerate;
  if (t == "chat" || t == "/api/chat") return Api::kChat;
  if (t == "openai-chat" || t == "openai" || t == "/v1/chat/completions") return Api::kOpenAIChat;
  if (t == "openai-completions" || t == "/v1/completions") return Api::kOpenAICompletions;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown API '{}': expected generate, chat, openai-chat or openai-completions", t);
}

const char* api_path(Api api) {
  switch (api) {
    case Api::kGenerate: return "/api/generate";
    case Api::kChat: return "/api/chat";
    case Api::kOpenAIChat: return "/v1/chat/completions";
    case Api::kOpenAICompletions: return "/v1/completions";
  }
  return "";
}

std::string Endpoint::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  const std::string h = v6 ? "[" + host + "]" : host;
  return (port == (tls ? 443 : 80)) ? h : h + ":" + std::to_string(port);
}

std::string Endpoint::str() const { return std::string(tls ? "https://" : "http://") + authority() + path_prefix; }

Result<Endpoint> parse_url(const std::string& url) {
  auto bad = [&](const char* why) { return make_error(ErrorCode::kInvalidArgument, "invalid URL '{}': {}", url, why); };
  Endpoint ep;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    ep.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return bad("only http:// and https:// are supported");
  }
  const size_t slash = rest.find('/');
  std::string_view auth = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (path.find_first_of("?# \r\n") != std::string_view::npos) return bad("the path may not hold a query or spaces");
    ep.path_prefix = path;
  }
  if (auth.find('@') != std::string_view::npos) return bad("credentials in the URL are not supported (use --api-key)");
  std::string_view port;
  if (auth.starts_with("[")) {
    const size_t close = auth.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    ep.host = auth.substr(1, close - 1);
    auth.remove_prefix(close + 1);
    if (!auth.empty()) {
      if (auth[0] != ':') return bad("junk after ']'");
      port = auth.substr(1);
    }
  } else {
    const size_t colon = auth.rfind(':');
    ep.host = auth.substr(0, colon);
    if (colon != std::string_view::npos) port = auth.substr(colon + 1);
  }
  if (ep.host.empty()) return bad("no host");
  if (ep.host.find_first_of(" \r\n/") != std::string::npos) return bad("bad host");
  ep.port = ep.tls ? 443 : (url.find("://") == std::string::npos ? 11434 : 80);
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) return bad("bad port");
    ep.port = static_cast<uint16_t>(v);
  }
  return ep;
}

Result<std::string> request_body(const RequestSpec& spec, const Prompt& prompt) {
  const bool chat = spec.api == Api::kChat || spec.api == Api::kOpenAIChat;
  json b{{"model", spec.model}};
  if (chat) {
    b["messages"] =
        prompt.messages.is_null() ? json::array({{{"role", "user"}, {"content", prompt.text}}}) : prompt.messages;
  } else {
    if (!prompt.messages.is_null())
      return make_error(ErrorCode::kInvalidArgument,
                        "a prompt with 'messages' needs a chat API (--api chat or openai-chat)");
    b["prompt"] = prompt.text;
  }
  b["stream"] = spec.stream;
  if (spec.api == Api::kGenerate || spec.api == Api::kChat) {
    json o{{"num_predict", prompt.output_tokens}};
    if (spec.ignore_eos) o["ignore_eos"] = true;  // known to llama.cpp-style servers; Ollama ignores it
    o.update(spec.extra);
    b["options"] = o;
  } else {
    b["max_tokens"] = prompt.output_tokens;
    if (spec.stream) b["stream_options"] = {{"include_usage", true}};
    if (spec.ignore_eos) b["ignore_eos"] = true;  // vLLM, llama.cpp's server
    b.update(spec.extra);
  }
  return b.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string http_request(const Endpoint& ep, const RequestSpec& spec, const std::string& body) {
  std::string r = fmt::format("POST {}{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: paddock-bench/" PADDOCK_VERSION
                              "\r\nContent-Type: application/json\r\nAccept: {}\r\nContent-Length: {}\r\n",
                              ep.path_prefix, api_path(spec.api), ep.authority(),
                              !spec.stream                                             ? "application/json"
                              : (spec.api == Api::kGenerate || spec.api == Api::kChat) ? "application/x-ndjson"
                                                                                       : "text/event-stream",
                              body.size());
  if (!spec.api_key.empty()) r += "Authorization: Bearer " + spec.api_key + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

namespace {
bool nonempty_string(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}
bool nonempty_array(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_array() && !it->empty();
}
int count_of(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() && it->get<int64_t>() >= 0 && it->get<int64_t>() <= (1 << 30)
             ? it->get<int>()
             : -1;
}
std::string error_text(const json& e) {
  if (e.is_string()) return e.get<std::string>();
  if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  return e.dump();
}
}  // namespace

void ResponseDecoder::fail(std::string msg, bool from_server) {
  if (!failed()) {
    error_ = std::move(msg);
    stream_error_ = from_server;
  }
}

int ResponseDecoder::object(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    fail("malformed JSON in the response", false);
    return 0;
  }
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    fail(error_text(*e), true);
    return 0;
  }
  bool token = false;
  if (api_ == Api::kGenerate || api_ == Api::kChat) {
    token = nonempty_string(j, "response") || nonempty_string(j, "thinking");
    if (auto m = j.find("message"); m != j.end() && m->is_object())
      token = token || nonempty_string(*m, "content") || nonempty_string(*m, "thinking") ||
              nonempty_array(*m, "tool_calls");
    if (j.value("done", false) == true) {
      done_ = true;
      in_tokens_ = count_of(j, "prompt_eval_count");
      out_tokens_ = count_of(j, "eval_count");
    }
  } else {
    if (auto c = j.find("choices"); c != j.end() && c->is_array() && !c->empty() && (*c)[0].is_object()) {
      const json& ch = (*c)[0];
      token = nonempty_string(ch, "text");
      for (const char* k : {"delta", "message"})
        if (auto d = ch.find(k); d != ch.end() && d->is_object())
          token = token || nonempty_string(*d, "content") || nonempty_string(*d, "reasoning_content") ||
                  nonempty_string(*d, "reasoning") || nonempty_array(*d, "tool_calls");
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      in_tokens_ = count_of(*u, "prompt_tokens");
      out_tokens_ = count_of(*u, "completion_tokens");
    }
    if (!stream_) done_ = true;
  }
  return token ? 1 : 0;
}

void ResponseDecoder::line(std::string_view l) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.empty()) return;
  if (api_ == Api::kGenerate || api_ == Api::kChat) {
    new_events_ += object(l);
    return;
  }
  // SSE: only data lines matter here ("event:", "id:", ":comment" are skipped); every server
  // this targets sends one JSON object per data line.
  if (!l.starts_with("data:")) return;
  l.remove_prefix(5);
  if (!l.empty() && l[0] == ' ') l.remove_prefix(1);
  if (l == "[DONE]") {
    done_ = true;
    return;
  }
  new_events_ += object(l);
}

int ResponseDecoder::feed(std::string_view bytes) {
  if (failed()) return 0;
  new_events_ = 0;
  if (!stream_) {
    if (pending_.size() + bytes.size() > kMaxPending) fail("response body over 16 MiB", false);
    else pending_.append(bytes);
    return 0;
  }
  size_t start = 0;
  if (!pending_.empty()) {  // complete the line carried over from the last read
    const size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (pending_.size() + bytes.size() > kMaxPending) fail("a stream line over 16 MiB", false);
      else pending_.append(bytes);
      return 0;
    }
    pending_.append(bytes.substr(0, nl));
    line(pending_);
    pending_.clear();
    start = nl + 1;
  }
  while (start < bytes.size() && !failed()) {
    const size_t nl = bytes.find('\n', start);
    if (nl == std::string_view::npos) {
      if (bytes.size() - start > kMaxPending) fail("a stream line over 16 MiB", false);
      else pending_.assign(bytes.substr(start));
      break;
    }
    line(bytes.substr(start, nl - start));
    start = nl + 1;
  }
  events_ += new_events_;
  return failed() ? 0 : new_events_;
}

void ResponseDecoder::finish() {
  if (failed()) return;
  if (!stream_) {
    events_ += object(pending_);
  } else if (!pending_.empty()) {
    new_events_ = 0;
    line(pending_);
    events_ += new_events_;
  }
  pending_.clear();
  if (!failed() && !done_) fail(stream_ ? "the stream ended without its final message" : "empty response", false);
}

}  // namespace paddock::bench
