// http: the connection state machine behind HttpServer. Beast parses requests (with our own
// callbacks so the header count, body size and framing conflicts are checked as bytes arrive);
// responses are written by hand (status line, headers, optional chunked framing).
#include "server/http.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "server/http_parser.h"
#include "server/metrics.h"
#include "server/tls.h"
#include "server/tls_context.h"
#include "util/log.h"

namespace paddock::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string json_error(std::string_view msg) {
  std::string r = "{\"error\":\"";
  for (char c : msg) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r + "\"}";
}

class ServerImpl;
class ExchangeImpl;

constexpr size_t kReadSize = 16384;  // bytes asked of the socket per read

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket sock, ServerImpl* srv, std::shared_ptr<TlsContext> tls);
  // Plain: reads the first request. TLS: the handshake first (within the header timeout).
  void start();
  // Over the connection cap: answer 503 at once, close, and do not count as open.
  void refuse();
  void close();
  // Called by ExchangeImpl (any thread): queue bytes; `last` ends the response.
  void enqueue(std::string bytes, bool last, ExchangeImpl* ex);
  asio::strand<asio::io_context::executor_type>& strand() { return strand_; }
  bool keep_alive() const { return keep_alive_; }

 private:
  enum class State { kReading, kHandling, kClosed };
  void read_header();
  void parse_buffered();
  void read_more();
  void on_header();
  void read_body();
  void fail_read(error_code ec);
  void send_error_and_close(int status, std::string_view msg, const char* reason = nullptr);
  void dispatch_request();
  void watch_disconnect();
  void client_gone();
  void do_write();
  void linger_close();
  void linger_close_continue() {
    if (state_ == State::kClosed) return;
    sock_.async_read_some(boost::asio::buffer(discard_),
                          boost::asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code e, size_t n) {
                            self->discarded_ += n;
                            if (e || self->discarded_ > (64u << 20)) return self->close();
                            self->linger_close_continue();
                          }));
  }
  void arm_timer(int ms);
  void set_busy(bool b);
  // TLS reads go through tls_buf_ and are appended to buf_: a read may still be out (the
  // disconnect watch) while the parser consumes buf_, so it must not write into buf_ itself.
  void tls_read();
  void on_tls_read(error_code ec, size_t n);
  template <class Buffers, class Handler>
  void write_some_all(const Buffers& b, Handler&& h) {
    if (tls_) asio::async_write(*tls_, b, asio::bind_executor(strand_, std::forward<Handler>(h)));
    else asio::async_write(sock_, b, asio::bind_executor(strand_, std::forward<Handler>(h)));
  }

  tcp::socket sock_;
  std::shared_ptr<TlsContext> tls_ctx_;  // kept alive while this connection uses it
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::array<char, 16384> tls_buf_{};
  bool reading_ = false;  // TLS: a read is out
  ServerImpl* srv_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  boost::beast::flat_buffer buf_;
  std::optional<RequestParser> parser_;
  State state_ = State::kReading;
  bool timed_out_ = false;
  bool reading_body_ = false;
  bool counted_ = true;  // in ServerImpl::n_conns_
  bool busy_ = false;    // in ServerImpl::n_busy_: a request is being answered
  bool keep_alive_ = true;
  bool writing_ = false;
  bool close_after_write_ = false;
  bool response_done_ = false;
  std::deque<std::string> out_;
  std::string inflight_;
  std::array<char, 16384> discard_{};
  size_t discarded_ = 0;
  std::shared_ptr<ExchangeImpl> cur_;
};

class ExchangeImpl : public Exchange, public std::enable_shared_from_this<ExchangeImpl> {
 public:
  ExchangeImpl(std::shared_ptr<Connection> c, bool head, size_t cap)
      : conn_(std::move(c)), head_(head), cap_(cap) {}

  void respond(int status, std::string ctype, std::string body, Headers extra) override {
    if (started_.exchange(true)) return;
    std::string h = head_line(status, ctype, extra);
    h += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    if (!head_) h += body;
    conn_->enqueue(std::move(h), true, this);
  }
  void start_stream(int status, std::string ctype, Headers extra) override {
    if (started_.exchange(true)) return;
    streaming_ = true;
    std::string h = head_line(status, ctype, extra);
    h += "Transfer-Encoding: chunked\r\n\r\n";
    conn_->enqueue(std::move(h), false, this);
  }
  bool write(std::string chunk) override {
    if (gone_.load() || finished_.load() || !streaming_) return false;
    if (chunk.empty()) return true;
    if (pending_.load() > cap_) {  // slow reader: cut it off rather than buffer without bound
      log::warn("http: client too far behind ({} bytes pending), closing", pending_.load());
      auto c = conn_;
      asio::post(c->strand(), [c] { c->close(); });
      return false;
    }
    char hex[24];
    int n = std::snprintf(hex, sizeof hex, "%zx\r\n", chunk.size());
    std::string framed(hex, size_t(n));
    framed += chunk;
    framed += "\r\n";
    conn_->enqueue(std::move(framed), false, this);
    return true;
  }
  void finish() override {
    if (!streaming_ || finished_.exchange(true)) return;
    conn_->enqueue("0\r\n\r\n", true, this);
  }
  void on_disconnect(std::function<void()> fn) override {
    bool call_now = false;
    {
      std::lock_guard lk(mu_);
      if (gone_.load()) call_now = true;
      else on_gone_ = std::move(fn);
    }
    if (call_now && fn) fn();
  }
  bool disconnected() const override { return gone_.load(); }
  void add_default_headers(Headers h) override {
    std::lock_guard lk(mu_);
    for (auto& kv : h) defaults_.push_back(std::move(kv));
  }

  // Connection side (on its strand).
  void mark_gone() {
    std::function<void()> fn;
    {
      std::lock_guard lk(mu_);
      if (gone_.exchange(true)) return;
      fn = std::move(on_gone_);
      on_gone_ = nullptr;
    }
    if (fn) fn();
  }
  void clear_callbacks() {
    std::lock_guard lk(mu_);
    on_gone_ = nullptr;
  }
  std::atomic<size_t> pending_{0};

 private:
  std::string head_line(int status, const std::string& ctype, const Headers& extra) {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) + "\r\n";
    if (!ctype.empty()) h += "Content-Type: " + ctype + "\r\n";
    std::lock_guard lk(mu_);
    for (auto& [k, v] : defaults_) h += k + ": " + v + "\r\n";
    for (auto& [k, v] : extra) h += k + ": " + v + "\r\n";
    if (!conn_->keep_alive()) h += "Connection: close\r\n";
    return h;
  }

  std::shared_ptr<Connection> conn_;
  bool head_;
  size_t cap_;
  std::atomic<bool> started_{false}, finished_{false}, gone_{false};
  bool streaming_ = false;
  std::mutex mu_;
  std::function<void()> on_gone_;
  Headers defaults_;
};

class ServerImpl : public HttpServer {
 public:
  ServerImpl(int threads, HttpLimits lim, Handler h, SinkFactory sf, std::shared_ptr<TlsProvider> tls)
      : limits(std::move(lim)),
        handler(std::move(h)),
        sinks(std::move(sf)),
        tls_(std::move(tls)),
        threads_(threads < 1 ? 1 : threads),
        acceptor_(io) {}
  ~ServerImpl() override { stop(); }

  Status listen(const std::string& host, uint16_t port) override {
    error_code ec;
    auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return make_error(ErrorCode::kInvalidArgument, "invalid listen address '{}'", host);
    tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot listen on {}:{}: {}", host, port, ec.message());
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }
  uint16_t port() const override { return port_; }
  void start() override {
    do_accept();
    for (int i = 0; i < threads_; ++i) pool_.emplace_back([this] { io.run(); });
  }
  void stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(io, [this] {
      error_code ec;
      acceptor_.close(ec);
      std::vector<std::shared_ptr<Connection>> live;
      {
        std::lock_guard lk(mu_);
        for (auto& w : conns_)
          if (auto c = w.lock()) live.push_back(c);
      }
      for (auto& c : live) asio::post(c->strand(), [c] { c->close(); });
    });
    // Give connections a moment to close, then stop the loop.
    for (int i = 0; i < 50 && connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io.stop();
    for (auto& t : pool_)
      if (t.joinable()) t.join();
    pool_.clear();
  }
  size_t connections() const override { return n_conns_.load(); }
  size_t busy() const override { return n_busy_.load(); }
  size_t body_memory() const override { return body_bytes_.load(); }
  std::vector<HttpRefusal> refusals() const override {
    std::lock_guard lk(refusal_mu_);
    std::vector<HttpRefusal> out;
    for (auto& [k, n] : refused_) out.push_back(HttpRefusal{k.first, k.second, n});
    return out;
  }
  uint64_t tls_handshake_failures() const override { return tls_failures.load(); }
  void count_refusal(int status, const char* reason) {
    std::lock_guard lk(refusal_mu_);
    refused_[{status, reason}]++;
  }

  void forget(Connection* c) {
    std::lock_guard lk(mu_);
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
      auto p = it->lock();
      if (!p || p.get() == c) {
        conns_.erase(it);
        break;
      }
    }
  }

  asio::io_context io;
  HttpLimits limits;
  Handler handler;
  SinkFactory sinks;
  std::atomic<size_t> n_conns_{0};
  std::atomic<size_t> n_busy_{0};
  std::atomic<size_t> body_bytes_{0};
  std::atomic<uint64_t> tls_failures{0};

 private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        log::warn("http: accept failed: {}", ec.message());
        // Out of descriptors and the like: back off briefly instead of spinning.
        auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(50));
        t->async_wait([this, t](error_code) { do_accept(); });
        return;
      }
      error_code ignore;
      s.set_option(tcp::no_delay(true), ignore);
      auto c = std::make_shared<Connection>(std::move(s), this, tls_ ? tls_->current() : nullptr);
      {
        std::lock_guard lk(mu_);
        // Drop expired entries now and then so the list stays the size of the live set.
        if (conns_.size() > 64 && conns_.size() > 2 * n_conns_.load())
          conns_.remove_if([](auto& w) { return w.expired(); });
        conns_.push_back(c);
      }
      if (n_conns_.load() > limits.max_connections) c->refuse();
      else c->start();
      do_accept();
    });
  }

  std::shared_ptr<TlsProvider> tls_;
  mutable std::mutex refusal_mu_;
  std::map<std::pair<int, std::string>, uint64_t> refused_;
  int threads_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::vector<std::thread> pool_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::list<std::weak_ptr<Connection>> conns_;
};

Connection::Connection(tcp::socket sock, ServerImpl* srv, std::shared_ptr<TlsContext> tls)
    : sock_(std::move(sock)),
      srv_(srv),
      strand_(asio::make_strand(srv->io)),
      timer_(srv->io) {
  tls_ctx_ = std::move(tls);
  if (tls_ctx_) tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, tls_ctx_->ctx);
  srv_->n_conns_++;
}

void Connection::start() {
  if (!tls_) return read_header();
  state_ = State::kReading;
  arm_timer(srv_->limits.header_timeout_ms);
  tls_->async_handshake(asio::ssl::stream_base::server,
                        asio::bind_executor(strand_, [self = shared_from_this()](error_code ec) {
                          if (self->state_ == State::kClosed) return;
                          if (ec) {
                            self->srv_->tls_failures++;
                            log::debug("http: TLS handshake failed: {}", ec.message());
                            return self->close();
                          }
                          self->read_header();
                        }));
}

void Connection::refuse() {
  counted_ = false;
  srv_->n_conns_--;
  if (tls_) {  // no handshake yet: nothing to say it in
    srv_->count_refusal(503, "too_many_connections");
    return close();
  }
  send_error_and_close(503, "server busy: too many connections, try again", "too_many_connections");
}

void Connection::tls_read() {
  if (reading_) return;
  reading_ = true;
  tls_->async_read_some(asio::buffer(tls_buf_),
                        asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, size_t n) {
                          self->on_tls_read(ec, n);
                        }));
}

void Connection::on_tls_read(error_code ec, size_t n) {
  reading_ = false;
  if (state_ == State::kClosed) return;
  if (n > 0) {
    auto mb = buf_.prepare(n);
    std::memcpy(mb.data(), tls_buf_.data(), n);
    buf_.commit(n);
  }
  if (state_ == State::kReading) {
    if (ec && n == 0) return fail_read(ec);
    return parse_buffered();
  }
  // The disconnect watch, while a request is being answered.
  if (ec) {
    if (!response_done_) client_gone();
    return;  // else the next read after the response sees the error again and closes
  }
  // Bytes of a pipelined request: keep them (bounded) and keep watching.
  if (!response_done_ && buf_.size() < srv_->limits.max_header_bytes) tls_read();
}

void Connection::set_busy(bool b) {
  if (busy_ == b) return;
  busy_ = b;
  if (b) srv_->n_busy_++;
  else srv_->n_busy_--;
}

void Connection::arm_timer(int ms) {
  timed_out_ = false;
  timer_.expires_after(std::chrono::milliseconds(ms));
  timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](error_code ec) {
    if (ec) return;  // cancelled or re-armed
    if (self->state_ != State::kReading) return;
    self->timed_out_ = true;
    error_code ignore;
    self->sock_.cancel(ignore);
  }));
}

void Connection::read_header() {
  state_ = State::kReading;
  parser_.emplace(srv_->limits, &srv_->body_bytes_);
  reading_body_ = false;
  arm_timer(srv_->limits.header_timeout_ms);
  parse_buffered();  // a pipelined request may be in the buffer already
}

// Feeds what is buffered to the parser and acts on a finished header or request; otherwise reads
// more. Reading by hand (not Beast's read loops) lets us look at what the parser left: only an
// unfinished line (request line, header field, chunk size, trailer) stays unconsumed, so a bare
// LF in it, or more than a header's worth of it, is refused at once instead of waited on.
void Connection::parse_buffered() {
  if (state_ != State::kReading) return;
  while (buf_.size() > 0 && !parser_->is_done()) {
    error_code ec;
    bool header_was_done = parser_->is_header_done();
    size_t used = parser_->put(buf_.data(), ec);
    buf_.consume(used);
    if (ec == bhttp::error::need_more) break;
    if (ec) return fail_read(ec);
    if (!header_was_done && parser_->is_header_done()) return on_header();
    if (used == 0) break;
  }
  if (parser_->is_done()) return dispatch_request();
  std::string_view left(static_cast<const char*>(buf_.data().data()), buf_.size());
  for (size_t i = 0; i < left.size(); ++i)
    if (left[i] == '\n' && (i == 0 || left[i - 1] != '\r'))
      return send_error_and_close(400, "malformed HTTP request: lines must end in CRLF");
  if (reading_body_ && left.size() > srv_->limits.max_header_bytes)
    return send_error_and_close(400, "malformed HTTP request: chunk line too long");
  read_more();
}

void Connection::read_more() {
  // A body streamed to a sink (uploads of many GB) has a limit on idle time, not on the whole.
  if (reading_body_ && parser_->req.sink) arm_timer(srv_->limits.upload_idle_timeout_ms);
  if (tls_) return tls_read();  // a read already out (the disconnect watch) parses when it completes
  sock_.async_read_some(buf_.prepare(kReadSize),
                        asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, size_t n) {
                          if (self->state_ == State::kClosed) return;
                          if (ec) return self->fail_read(ec);
                          self->buf_.commit(n);
                          self->parse_buffered();
                        }));
}

void Connection::on_header() {
  if (auto len = parser_->content_length(); len && *len > parser_->body_cap())
    return send_error_and_close(413, "request body too large");  // say so before the client sends it
  if (srv_->sinks) {
    int status = 0;
    std::string err;
    parser_->req.sink = srv_->sinks(parser_->req, &status, &err);
    if (status != 0) return send_error_and_close(status, err);
  }
  if (parser_->is_done()) return dispatch_request();
  if (parser_->expect_continue) {
    // The client waits for this before sending the body (curl does for large bodies).
    auto msg = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    write_some_all(asio::buffer(*msg), [self = shared_from_this(), msg](error_code wec, size_t) {
      if (wec) return self->close();
      self->read_body();
    });
    return;
  }
  read_body();
}

void Connection::read_body() {
  if (state_ != State::kReading) return;
  reading_body_ = true;
  parser_->eager(true);  // parse every whole element in the buffer, so only an unfinished line is left
  if (!parser_->req.sink) arm_timer(srv_->limits.body_timeout_ms);
  parse_buffered();
}

void Connection::fail_read(error_code ec) {
  bool got_some = parser_ && parser_->got_some();
  if (timed_out_) {
    if (got_some || buf_.size() > 0) return send_error_and_close(408, "request timed out");
    return close();  // an idle keep-alive connection: just close
  }
  if (parser_ && parser_->sink_failed) return send_error_and_close(parser_->sink_status, parser_->sink_error);
  if (parser_ && parser_->over_body_memory)
    return send_error_and_close(503, "server busy: too much request data in flight, try again", "body_memory");
  if (parser_ && parser_->bad_te)
    return send_error_and_close(400,
                                "malformed HTTP request: Transfer-Encoding must be a single \"chunked\" "
                                "and not come with Content-Length");
  if (ec == bhttp::error::header_limit) return send_error_and_close(431, "request header fields too large");
  if (ec == bhttp::error::body_limit || (parser_ && parser_->body_too_large))
    return send_error_and_close(413, "request body too large");
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
      ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec == asio::ssl::error::stream_truncated || ec.category() == asio::error::get_ssl_category())
    return close();
  send_error_and_close(400, "malformed HTTP request: " + ec.message());
}

void Connection::send_error_and_close(int status, std::string_view msg, const char* reason) {
  srv_->count_refusal(status, reason ? reason : rejection_reason(status));
  timer_.cancel();
  if (parser_) parser_->req.sink.reset();  // a refused upload leaves nothing behind
  state_ = State::kHandling;
  keep_alive_ = false;
  std::string body = json_error(msg);
  std::string h =
      "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) +
      "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
      (status == 503 ? "\r\nRetry-After: 1" : "") + "\r\nConnection: close\r\n\r\n" + body;
  out_.push_back(std::move(h));
  close_after_write_ = true;
  do_write();
}

void Connection::dispatch_request() {
  timer_.cancel();
  state_ = State::kHandling;
  keep_alive_ = parser_->keep_alive();
  response_done_ = false;
  set_busy(true);
  HttpRequest req = std::move(parser_->req);
  parser_.reset();
  error_code ec;
  auto ep = sock_.remote_endpoint(ec);
  if (!ec) req.remote = ep.address().to_string();
  cur_ = std::make_shared<ExchangeImpl>(shared_from_this(), req.method == "HEAD", srv_->limits.max_pending_write);
  watch_disconnect();
  try {
    srv_->handler(std::move(req), cur_);
  } catch (const std::exception& e) {
    log::error("http: handler threw: {}", e.what());
    cur_->respond(500, "application/json; charset=utf-8", json_error("internal error"), {});
  }
}

void Connection::watch_disconnect() {
  // TLS: the bytes on the socket are records, so a peek cannot tell data from a close; read them.
  if (tls_) return tls_read();
  sock_.async_wait(tcp::socket::wait_read, asio::bind_executor(strand_, [self = shared_from_this()](error_code ec) {
    if (ec || self->state_ != State::kHandling || self->response_done_) return;
    char c;
    ssize_t n = ::recv(self->sock_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return self->client_gone();
    if (n < 0) return self->watch_disconnect();  // spurious wake-up
    // Pipelined bytes of the next request: they stay in the kernel buffer until we read them.
  }));
}

void Connection::client_gone() {
  if (auto ex = cur_) ex->mark_gone();
  close();
}

void Connection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (parser_) parser_->req.sink.reset();  // an upload cut short: its sink discards what it got
  if (auto ex = cur_) {
    ex->mark_gone();
    ex->clear_callbacks();
  }
  cur_.reset();
  error_code ec;
  timer_.cancel();
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
  out_.clear();
  set_busy(false);
  if (counted_) srv_->n_conns_--;
  counted_ = false;
  srv_->forget(this);
}

// After an early error (413 while the client is still sending), closing at once would make the
// kernel reset the connection and the client might never read our answer. Stop sending, read
// and drop what still arrives for a short while, then close (nginx's lingering close).
void Connection::linger_close() {
  if (state_ == State::kClosed) return;
  if (tls_ && reading_) return close();  // a TLS read is out: no second reader on the socket
  error_code ec;
  sock_.shutdown(tcp::socket::shutdown_send, ec);
  state_ = State::kHandling;
  timer_.expires_after(std::chrono::seconds(2));
  timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](error_code e) {
    if (!e) self->close();
  }));
  linger_close_continue();
}

void Connection::enqueue(std::string bytes, bool last, ExchangeImpl* ex) {
  size_t n = bytes.size();
  ex->pending_ += n;
  asio::dispatch(strand_, [self = shared_from_this(), b = std::move(bytes), last, n,
                           keep = ex->shared_from_this()]() mutable {
    if (self->state_ == State::kClosed || self->cur_.get() != keep.get()) {
      keep->pending_ -= n;
      return;
    }
    self->out_.push_back(std::move(b));
    if (last) self->response_done_ = true;
    self->do_write();
  });
}

void Connection::do_write() {
  if (writing_ || state_ == State::kClosed) return;
  if (out_.empty()) {
    if (close_after_write_) return linger_close();
    if (response_done_) {
      if (auto ex = cur_) ex->clear_callbacks();
      cur_.reset();
      set_busy(false);
      if (!keep_alive_) return close();
      if (!tls_) {
        error_code ec;
        sock_.cancel(ec);  // stop the disconnect watch (TLS: its read stays out and feeds the next request)
      }
      return read_header();
    }
    return;
  }
  // Coalesce queued pieces into one write.
  inflight_.clear();
  while (!out_.empty() && inflight_.size() < (256u << 10)) {
    inflight_ += out_.front();
    out_.pop_front();
  }
  writing_ = true;
  write_some_all(asio::buffer(inflight_), [self = shared_from_this()](error_code ec, size_t n) {
    self->writing_ = false;
    if (self->cur_) self->cur_->pending_ -= std::min<size_t>(self->cur_->pending_.load(), n);
    if (ec) return self->client_gone();
    self->do_write();
  });
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

const char* status_reason(int s) {
  switch (s) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

std::unique_ptr<HttpServer> HttpServer::create(int io_threads, HttpLimits limits, Handler handler,
                                               SinkFactory sinks, std::shared_ptr<TlsProvider> tls) {
  return std::make_unique<ServerImpl>(io_threads, std::move(limits), std::move(handler), std::move(sinks),
                                      std::move(tls));
}

}  // namespace paddock::server
