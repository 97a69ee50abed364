// paddock_fake_llm: a trivial LLM endpoint with scripted delays, for testing and benchmarking
// `paddock bench` (the generator's statistics are checked against what this server was told to
// do, and its ceiling is measured against it). Speaks the four routes the generator drives —
// /api/generate, /api/chat (NDJSON), /v1/chat/completions, /v1/completions (SSE) — streaming or
// not, over HTTP/1.1 keep-alive, optionally TLS and a Bearer key.
//
//   paddock_fake_llm [--port 0] [--threads 1] [--ttft-ms 10,20,...] [--itl-ms 5] [--tokens N]
//                    [--fail-every K] [--fail-status 503] [--api-key KEY] [--tls-cert F --tls-key F]
//
// Request k (in arrival order) waits ttft[k % n] ms before its first token and itl[k % m] ms
// between tokens, on an absolute schedule (token j at arrival + ttft + j·itl), so delays do not
// drift. Tokens: --tokens, else the request's num_predict / max_tokens (16 without). The prompt's
// token count is its number of whitespace-separated words. Every K-th request fails with the
// status given. GET /stats answers {"requests": n, "arrivals_ms": [...]} (ms since the first).
// Prints "listening on http[s]://127.0.0.1:PORT" once ready.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

struct Config {
  std::vector<double> ttft_ms{0}, itl_ms{0};
  int tokens = 0;
  int fail_every = 0, fail_status = 500;
  std::string api_key;
};

struct State {
  Config cfg;
  std::atomic<uint64_t> count{0};
  std::mutex mu;
  std::vector<Clock::time_point> arrivals;
};

std::vector<double> parse_list(const char* s) {
  std::vector<double> v;
  std::string t = s;
  for (size_t b = 0; b <= t.size();) {
    size_t e = t.find(',', b);
    if (e == std::string::npos) e = t.size();
    v.push_back(std::stod(t.substr(b, e - b)));
    b = e + 1;
  }
  return v;
}

int count_words(const std::string& s) {
  int n = 0;
  bool in = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

enum class Route { kGenerate, kChat, kOpenAIChat, kOpenAICompletions, kStats, kUnknown };

Route route_of(const std::string& target) {
  if (target == "/api/generate") return Route::kGenerate;
  if (target == "/api/chat") return Route::kChat;
  if (target == "/v1/chat/completions") return Route::kOpenAIChat;
  if (target == "/v1/completions") return Route::kOpenAICompletions;
  if (target == "/stats") return Route::kStats;
  return Route::kUnknown;
}

std::string chunk(const std::string& data) {
  char h[24];
  std::snprintf(h, sizeof h, "%zx\r\n", data.size());
  return h + data + "\r\n";
}

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... A>
  Session(State& st, A&&... a) : s_(std::forward<A>(a)...), st_(st), timer_(s_.get_executor()) {}
  void start() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      read();
    } else {
      s_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        if (!ec) self->read();
      });
    }
  }

 private:
  void read() {
    req_.emplace();
    req_->body_limit(64u << 20);
    http::async_read(s_, buf_, *req_, [self = this->shared_from_this()](error_code ec, size_t) {
      if (!ec) self->handle();
    });
  }

  void respond(int status, const std::string& type, const std::string& body) {
    out_ = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + (keep_ ? "" : "Connection: close\r\n") +
           "\r\n" + body;
    asio::async_write(s_, asio::buffer(out_), [self = this->shared_from_this()](error_code ec, size_t) {
      if (!ec && self->keep_) self->read();
    });
  }

  void handle() {
    const auto arrival = Clock::now();
    auto& req = req_->get();
    keep_ = req.keep_alive();
    route_ = route_of(std::string(req.target()));
    if (route_ == Route::kStats) {
      std::lock_guard<std::mutex> l(st_.mu);
      json a = json::array();
      for (auto t : st_.arrivals)
        a.push_back(std::chrono::duration<double, std::milli>(t - st_.arrivals.front()).count());
      return respond(200, "application/json", json{{"requests", st_.arrivals.size()}, {"arrivals_ms", a}}.dump());
    }
    const uint64_t k = st_.count.fetch_add(1);
    {
      std::lock_guard<std::mutex> l(st_.mu);
      st_.arrivals.push_back(arrival);
    }
    const Config& c = st_.cfg;
    if (!c.api_key.empty() && std::string(req[http::field::authorization]) != "Bearer " + c.api_key)
      return respond(401, "application/json", R"({"error":"unauthorized"})");
    if (route_ == Route::kUnknown) return respond(404, "application/json", R"({"error":"not found"})");
    if (c.fail_every > 0 && k % static_cast<uint64_t>(c.fail_every) == static_cast<uint64_t>(c.fail_every) - 1)
      return respond(c.fail_status, "application/json", R"({"error":"scripted failure"})");
    json b = json::parse(req.body(), nullptr, false);
    if (!b.is_object()) return respond(400, "application/json", R"({"error":"invalid JSON"})");
    stream_ = b.value("stream", route_ == Route::kGenerate || route_ == Route::kChat);
    const bool ollama = route_ == Route::kGenerate || route_ == Route::kChat;
    int n = c.tokens;
    if (n <= 0) {
      json lim = ollama ? (b.contains("options") && b["options"].is_object() ? b["options"].value("num_predict", json())
                                                                             : json())
                        : b.value("max_tokens", json());
      n = lim.is_number_integer() ? lim.get<int>() : 16;
    }
    n_ = std::clamp(n, 1, 100000);
    prompt_tokens_ = 0;
    if (b.contains("prompt") && b["prompt"].is_string()) prompt_tokens_ = count_words(b["prompt"].get<std::string>());
    if (b.contains("messages") && b["messages"].is_array())
      for (auto& m : b["messages"])
        if (m.is_object() && m.contains("content") && m["content"].is_string())
          prompt_tokens_ += count_words(m["content"].get<std::string>());
    usage_ = b.contains("stream_options") && b["stream_options"].value("include_usage", false);
    const auto ms = [](double v) {
      return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(v));
    };
    first_ = arrival + ms(c.ttft_ms[k % c.ttft_ms.size()]);
    itl_ = ms(c.itl_ms[k % c.itl_ms.size()]);
    sent_ = 0;
    if (!stream_) {
      timer_.expires_at(first_ + itl_ * (n_ - 1));
      timer_.async_wait([self = this->shared_from_this()](error_code) { self->whole(); });
      return;
    }
    next_token();
  }

  std::string event(const json& j) const {
    const bool ollama = route_ == Route::kGenerate || route_ == Route::kChat;
    return ollama ? j.dump() + "\n" : "data: " + j.dump() + "\n\n";
  }

  json piece(const std::string& text, bool done) const {
    switch (route_) {
      case Route::kGenerate: return {{"model", "fake"}, {"response", text}, {"done", done}};
      case Route::kChat:
        return {{"model", "fake"}, {"message", {{"role", "assistant"}, {"content", text}}}, {"done", done}};
      case Route::kOpenAIChat:
        return {{"object", "chat.completion.chunk"},
                {"choices", json::array({{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}})}};
      default:
        return {{"object", "text_completion"},
                {"choices", json::array({{{"index", 0}, {"text", text}, {"finish_reason", nullptr}}})}};
    }
  }

  void whole() {
    std::string text;
    for (int i = 0; i < n_; ++i) text += "tok ";
    json j;
    if (route_ == Route::kGenerate || route_ == Route::kChat) {
      j = piece(text, true);
      j["prompt_eval_count"] = prompt_tokens_;
      j["eval_count"] = n_;
    } else {
      j = route_ == Route::kOpenAIChat
              ? json{{"object", "chat.completion"},
                     {"choices", json::array({{{"index", 0},
                                               {"message", {{"role", "assistant"}, {"content", text}}},
                                               {"finish_reason", "length"}}})}}
              : json{{"object", "text_completion"},
                     {"choices", json::array({{{"index", 0}, {"text", text}, {"finish_reason", "length"}}})}};
      j["usage"] = {
          {"prompt_tokens", prompt_tokens_}, {"completion_tokens", n_}, {"total_tokens", prompt_tokens_ + n_}};
    }
    respond(200, "application/json", j.dump());
  }

  // Streams token sent_ at first_ + sent_·itl (the header goes with the first token).
  void next_token() {
    const auto at = first_ + itl_ * sent_;
    if (Clock::now() < at) {
      timer_.expires_at(at);
      timer_.async_wait([self = this->shared_from_this()](error_code) { self->write_token(); });
    } else {
      write_token();
    }
  }

  void write_token() {
    const bool ollama = route_ == Route::kGenerate || route_ == Route::kChat;
    out_.clear();
    if (sent_ == 0) {
      out_ = std::string("HTTP/1.1 200 OK\r\nContent-Type: ") +
             (ollama ? "application/x-ndjson" : "text/event-stream") + "\r\nTransfer-Encoding: chunked\r\n" +
             (keep_ ? "" : "Connection: close\r\n") + "\r\n";
      if (route_ == Route::kOpenAIChat)  // a role-only first chunk, as OpenAI sends: not a token
        out_ += chunk(
            event({{"object", "chat.completion.chunk"},
                   {"choices", json::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}}})}}));
    }
    out_ += chunk(event(piece("tok ", false)));
    ++sent_;
    const bool last = sent_ == n_;
    if (last) {
      std::string tail;
      if (ollama) {
        json d = piece("", true);
        d["done_reason"] = "length";
        d["prompt_eval_count"] = prompt_tokens_;
        d["eval_count"] = n_;
        tail = event(d);
      } else {
        json d = piece("", false);
        d["choices"][0]["finish_reason"] = "length";
        tail = event(d);
        if (usage_)
          tail += event({{"choices", json::array()},
                         {"usage",
                          {{"prompt_tokens", prompt_tokens_},
                           {"completion_tokens", n_},
                           {"total_tokens", prompt_tokens_ + n_}}}});
        tail += "data: [DONE]\n\n";
      }
      out_ += chunk(tail) + "0\r\n\r\n";
    }
    asio::async_write(s_, asio::buffer(out_), [self = this->shared_from_this(), last](error_code ec, size_t) {
      if (ec) return;
      if (!last) return self->next_token();
      if (self->keep_) self->read();
    });
  }

  Stream s_;
  State& st_;
  asio::steady_timer timer_;
  boost::beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> req_;
  std::string out_;
  Route route_ = Route::kUnknown;
  bool keep_ = true, stream_ = true, usage_ = false;
  int n_ = 0, sent_ = 0, prompt_tokens_ = 0;
  Clock::time_point first_;
  Clock::duration itl_{};
};

}  // namespace

int main(int argc, char** argv) {
  State st;
  std::string host = "127.0.0.1", cert, key;
  int port = 0, threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") host = next();
    else if (a == "--port") port = std::atoi(next());
    else if (a == "--threads") threads = std::max(1, std::atoi(next()));
    else if (a == "--ttft-ms") st.cfg.ttft_ms = parse_list(next());
    else if (a == "--itl-ms") st.cfg.itl_ms = parse_list(next());
    else if (a == "--tokens") st.cfg.tokens = std::atoi(next());
    else if (a == "--fail-every") st.cfg.fail_every = std::atoi(next());
    else if (a == "--fail-status") st.cfg.fail_status = std::atoi(next());
    else if (a == "--api-key") st.cfg.api_key = next();
    else if (a == "--tls-cert") cert = next();
    else if (a == "--tls-key") key = next();
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  asio::io_context io(threads);
  asio::ssl::context tls(asio::ssl::context::tls_server);
  const bool use_tls = !cert.empty();
  if (use_tls) {
    tls.use_certificate_chain_file(cert);
    tls.use_private_key_file(key, asio::ssl::context::pem);
  }
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address(host), static_cast<uint16_t>(port)));
  std::function<void()> accept = [&] {
    acc.async_accept([&](error_code ec, tcp::socket s) {
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        if (use_tls) std::make_shared<Session<asio::ssl::stream<tcp::socket>>>(st, std::move(s), tls)->start();
        else std::make_shared<Session<tcp::socket>>(st, std::move(s))->start();
      }
      accept();
    });
  };
  accept();
  std::printf("listening on %s://%s:%u\n", use_tls ? "https" : "http", host.c_str(), acc.local_endpoint().port());
  std::fflush(stdout);
  asio::signal_set sig(io, SIGTERM, SIGINT);
  sig.async_wait([&](error_code, int) { io.stop(); });
  std::vector<std::thread> ts;
  for (int i = 1; i < threads; ++i) ts.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : ts) t.join();
  return 0;
}
