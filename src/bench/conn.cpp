// bench/conn: a keep-alive HTTP/1.1 client connection over TCP or TLS (Asio + Beast's response
// parser), one request at a time. Completion is posted, never called inline, so a handler never
// runs into the next request on the same connection.
#include "bench/conn.h"

#include <array>
#include <limits>
#include <optional>

#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <nlohmann/json.hpp>

namespace paddock::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr size_t kBufferLimit = 32u << 10;  // read buffer per connection (bounds the header too)
constexpr size_t kHeaderLimit = 16u << 10;
constexpr size_t kErrorBodyKept = 4096;  // of a non-2xx answer, for the message

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The message of a non-2xx answer: the JSON error (Ollama's string or OpenAI's object), else text.
std::string error_message(int status, const std::string& body) {
  std::string msg;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    msg = e.is_string()                                                          ? e.get<std::string>()
          : (e.is_object() && e.contains("message") && e["message"].is_string()) ? e["message"].get<std::string>()
                                                                                 : e.dump();
  } else {
    msg = body.substr(0, 200);
  }
  return msg.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {}: {}", status, msg);
}

template <class Stream>
class ConnImpl final : public Conn {
 public:
  explicit ConnImpl(ConnEnv& env) : env_(env), timer_(env.io), buf_(kBufferLimit) {}

  void start(const std::string* request, double scheduled) override {
    req_ = request;
    retried_ = false;
    busy_ = true;
    events_ = 0;
    itl_.clear();
    sample_ = Sample{};
    sample_.scheduled = scheduled;
    t_start_ = Clock::now();
    sample_.sent = env_.since_start(t_start_);
    arm_timer();
    if (open_) write();
    else connect();
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  auto& lowest() { return stream_->lowest_layer(); }

  void arm_timer() {
    timed_out_ = false;
    timer_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(env_.timeout_s)));
    timer_.async_wait([this, gen = ++gen_](error_code ec) {
      if (ec || gen != gen_ || !busy_) return;
      timed_out_ = true;
      close();  // the pending operation fails, and reports the timeout
    });
  }

  void close() {
    error_code ig;
    if (stream_) lowest().close(ig);
    open_ = false;
  }

  void connect() {
    // A fresh stream for every connection (a TLS session cannot be reused after close); nothing
    // is pending on the old one here.
    if constexpr (kTls) stream_.emplace(env_.io, *env_.tls);
    else stream_.emplace(env_.io);
    buf_.consume(buf_.size());
    served_ = 0;
    asio::async_connect(lowest(), env_.addrs, [this](error_code ec, const tcp::endpoint&) {
      if (ec) return fail(timed_out_ ? "timeout" : "connect", ec.message());
      lowest().set_option(tcp::no_delay(true), ec);
      if constexpr (kTls) handshake();
      else {
        open_ = true;
        write();
      }
    });
  }

  void handshake() {
    auto& s = *stream_;
    error_code not_ip;
    asio::ip::make_address(env_.ep.host, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(s.native_handle(), env_.ep.host.c_str());  // SNI: names only
    if (env_.verify_host) s.set_verify_callback(asio::ssl::host_name_verification(env_.ep.host));
    s.async_handshake(asio::ssl::stream_base::client, [this](error_code ec) {
      if (ec) return fail(timed_out_ ? "timeout" : "tls", ec.message());
      open_ = true;
      write();
    });
  }

  void write() {
    asio::async_write(*stream_, asio::buffer(*req_), [this](error_code ec, size_t) {
      if (ec) return retry_or_fail(ec, false);
      read_header();
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // bodies are streamed, not kept
    parser_->header_limit(kHeaderLimit);
    http::async_read_header(*stream_, buf_, *parser_, [this](error_code ec, size_t) {
      if (ec) return retry_or_fail(ec, parser_->got_some() || buf_.size() > 0);
      status_ = parser_->get().result_int();
      if (status_ / 100 == 2) decoder_.emplace(env_.api, env_.stream);
      else decoder_.reset();
      err_body_.clear();
      read_body();
    });
  }

  void read_body() {
    if (parser_->is_done()) return complete();
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    http::async_read_some(*stream_, buf_, *parser_, [this](error_code ec, size_t) {
      if (ec == http::error::need_buffer) ec = {};
      const size_t n = chunk_.size() - parser_->get().body().size;
      if (n) on_body(std::string_view(chunk_.data(), n));
      if (!busy_) return;  // on_body failed the request
      if (ec) return fail(kind_of(ec), ec.message());
      read_body();
    });
  }

  void on_body(std::string_view bytes) {
    if (!decoder_) {
      if (err_body_.size() < kErrorBodyKept) err_body_.append(bytes.substr(0, kErrorBodyKept - err_body_.size()));
      return;
    }
    const int k = decoder_->feed(bytes);
    if (decoder_->failed()) return fail(decoder_->stream_error() ? "stream" : "protocol", decoder_->error());
    if (k == 0 || !env_.stream) return;
    const auto now = Clock::now();
    const double t = seconds(now - t_start_);
    if (events_ == 0) sample_.ttft = t;
    else itl_.push_back(static_cast<float>(t - last_event_));
    for (int i = 1; i < k; ++i) itl_.push_back(0.0f);  // several events in one read arrive together
    events_ += k;
    last_event_ = t;
    count_tokens(now, k);
  }

  void count_tokens(Clock::time_point now, int k) {
    auto& b = env_.data->bucket_tokens;
    const size_t i = static_cast<size_t>(env_.since_start(now) / kBucketSeconds);
    if (i >= b.size()) b.resize(i + 1);
    b[i] += static_cast<uint32_t>(k);
  }

  void complete() {
    const auto now = Clock::now();
    const bool keep = parser_->keep_alive();
    if (!decoder_) return finish("http_" + std::to_string(status_), error_message(status_, err_body_), keep);
    decoder_->finish();
    if (decoder_->failed()) return finish(decoder_->stream_error() ? "stream" : "protocol", decoder_->error(), keep);
    sample_.latency = seconds(now - t_start_);
    sample_.in_tokens = decoder_->in_tokens();
    sample_.out_tokens = decoder_->out_tokens();
    sample_.events = events_;
    if (events_ >= 2) sample_.itl_mean = static_cast<float>((last_event_ - sample_.ttft) / (events_ - 1));
    // Tokens the stream did not show one by one (a non-streamed answer, or several per chunk)
    // count when the answer completes.
    if (sample_.out_tokens > events_) count_tokens(now, sample_.out_tokens - events_);
    finish("", "", keep);
  }

  void finish(std::string kind, const std::string& msg, bool keep) {
    ++gen_;
    timer_.cancel();
    busy_ = false;
    ++served_;
    if (!keep) close();
    if (kind.empty()) {
      env_.data->itls.insert(env_.data->itls.end(), itl_.begin(), itl_.end());
    } else {
      env_.data->error_examples.emplace(kind, msg);
      sample_.error = std::move(kind);
    }
    auto& b = env_.data->bucket_done;
    const size_t i = static_cast<size_t>(env_.since_start(Clock::now()) / kBucketSeconds);
    if (i >= b.size()) b.resize(i + 1);
    ++b[i];
    asio::post(env_.io, [this, s = std::move(sample_)]() mutable { env_.done(this, std::move(s)); });
  }

  void fail(const char* kind, const std::string& msg) { finish(kind, msg, false); }

  // A kept-alive connection the server closed while idle fails before any answer: open a new one
  // and send again, once (what HTTP clients do for an idempotent retry).
  void retry_or_fail(error_code ec, bool got_answer) {
    if (served_ > 0 && !retried_ && !timed_out_ && !got_answer) {
      retried_ = true;
      close();
      return connect();
    }
    fail(kind_of(ec), ec.message());
  }

  const char* kind_of(error_code ec) const {
    if (timed_out_) return "timeout";
    if (ec == asio::error::eof || ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
      return "closed";
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) return "protocol";
    if (ec.category() == asio::error::get_ssl_category()) return "tls";
    return "io";
  }

  ConnEnv& env_;
  asio::steady_timer timer_;
  std::optional<Stream> stream_;
  boost::beast::flat_buffer buf_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  std::optional<ResponseDecoder> decoder_;
  std::array<char, 8192> chunk_;
  std::string err_body_;
  std::vector<float> itl_;  // this request's gaps, kept only if it succeeds
  const std::string* req_ = nullptr;
  Sample sample_;
  Clock::time_point t_start_;
  double last_event_ = 0;
  int events_ = 0, status_ = 0;
  uint64_t gen_ = 0;
  int served_ = 0;  // requests answered on the current connection
  bool open_ = false, busy_ = false, retried_ = false, timed_out_ = false;
};

}  // namespace

std::unique_ptr<Conn> Conn::make(ConnEnv& env) {
  if (env.tls) return std::make_unique<ConnImpl<asio::ssl::stream<tcp::socket>>>(env);
  return std::make_unique<ConnImpl<tcp::socket>>(env);
}

Result<std::shared_ptr<asio::ssl::context>> make_tls_context(bool insecure, const std::string& cacert) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  error_code ec;
  if (insecure) {
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (!cacert.empty()) ctx->load_verify_file(cacert, ec);
    else ctx->set_default_verify_paths(ec);
    if (ec)
      return make_error(ErrorCode::kInvalidArgument, "cannot load {}: {}",
                        cacert.empty() ? std::string("the system certificates") : cacert, ec.message());
  }
  return ctx;
}

}  // namespace paddock::bench
