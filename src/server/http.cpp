// http: the connection state machine behind HttpServer. Beast parses requests (with our own
// callbacks so the header count, body size and framing conflicts are checked as bytes arrive);
// responses are written by hand (status line, headers, optional chunked framing).
#include "server/http.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <condition_variable>
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

constexpr size_t kReadSize = 16384;         // bytes asked of the socket per read
constexpr size_t kUploadReadSize = 65536;   // the same while a body streams to a sink
constexpr size_t kUploadChunk = 256u << 10;  // queued upload bytes are coalesced up to this per write
constexpr size_t kUploadTurn = 1u << 20;     // a writer moves to the next upload after this many bytes

// The threads that open sinks and write uploads into them. They run at a lower priority, like the
// request pool: hashing and writing a large upload must not take the CPU from the I/O threads.
class SinkWriters {
 public:
  explicit SinkWriters(int n) {
    for (int i = 0; i < std::max(1, n); ++i) threads_.emplace_back([this] { run(); });
  }
  ~SinkWriters() { stop(); }
  // False once stopping (the caller then does the work itself).
  bool post(std::function<void()> fn) {
    {
      std::lock_guard lk(mu_);
      if (stop_) return false;
      q_.push_back(std::move(fn));
    }
    cv_.notify_one();
    return true;
  }
  // Runs what is queued (abandoned uploads drop their sinks there), then joins.
  void stop() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  void run() {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [this] { return stop_ || !q_.empty(); });
        if (q_.empty()) return;
        fn = std::move(q_.front());
        q_.pop_front();
      }
      try {
        fn();
      } catch (const std::exception& e) {
        log::error("http: sink writer job threw: {}", e.what());
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

// One upload on its way to its sink. The connection (I/O thread) queues what arrives; a writer
// thread opens the sink, then writes the queue out in order. The connection asks ready() before
// it goes on (reads more, answers 100 Continue, hands the request over) and, when the answer is
// no, waits for `notify` (called on a writer thread) and asks again. Memory: at most
// `high` bytes plus one read are queued; they count in the server's body memory.
class UploadQueue final : public BodySink, public std::enable_shared_from_this<UploadQueue> {
 public:
  enum class Wait { kOpen, kRoom, kFlush };
  UploadQueue(std::shared_ptr<BodySink> sink, std::shared_ptr<SinkWriters> writers, std::atomic<size_t>* memory,
              size_t high, size_t memory_cap, std::function<void()> notify)
      : sink_(std::move(sink)),
        writers_(std::move(writers)),
        memory_(memory),
        high_(std::max<size_t>(high, 1)),
        memory_cap_(memory_cap),
        notify_(std::move(notify)) {}
  ~UploadQueue() override { *memory_ -= queued_; }

  // I/O thread: schedules the sink's open().
  void start() {
    {
      std::lock_guard lk(mu_);
      scheduled_ = true;
    }
    if (!writers_->post([self = shared_from_this()] { self->run(); })) {
      std::lock_guard lk(mu_);
      scheduled_ = false;
      fail_locked(503, "server is shutting down");
    }
  }
  // I/O thread (the parser): queues a copy; once the sink failed, its error.
  Status write(std::string_view bytes) override {
    bool post = false;
    {
      std::lock_guard lk(mu_);
      if (failed_) return make_error(ErrorCode::kIo, "{}", error_);
      if (abandoned_ || bytes.empty()) return Status::Ok();
      if (!chunks_.empty() && chunks_.back().size() + bytes.size() <= kUploadChunk)
        chunks_.back().append(bytes);
      else
        chunks_.emplace_back(bytes);
      queued_ += bytes.size();
      *memory_ += bytes.size();
      if (!scheduled_ && opened_) post = scheduled_ = true;
    }
    if (post && !writers_->post([self = shared_from_this()] { self->run(); })) run();  // stopping: finish here
    return Status::Ok();
  }
  int error_status() const override {
    std::lock_guard lk(mu_);
    return status_;
  }
  // I/O thread: true when the connection may go on past `w` (or the sink failed: see failure());
  // false arranges one notify() for when that may have changed.
  bool ready(Wait w) {
    std::lock_guard lk(mu_);
    bool ok = failed_;
    if (!ok) switch (w) {
        case Wait::kOpen: ok = opened_; break;
        case Wait::kRoom: ok = queued_ == 0 || (queued_ < high_ && memory_->load() < memory_cap_); break;
        case Wait::kFlush: ok = opened_ && queued_ == 0 && !busy_; break;
      }
    if (!ok) want_notify_ = true;
    return ok;
  }
  std::optional<std::pair<int, std::string>> failure() const {
    std::lock_guard lk(mu_);
    if (!failed_) return std::nullopt;
    return std::make_pair(status_, error_);
  }
  // After ready(kFlush): the sink, every byte written, for the handler.
  std::shared_ptr<BodySink> release() {
    std::lock_guard lk(mu_);
    abandoned_ = true;  // nothing of this queue runs any more
    return std::move(sink_);
  }
  // The connection is gone (or refused the request): drop what is queued; the sink is destroyed
  // (discarding what it got) on a writer thread.
  void abandon() {
    {
      std::lock_guard lk(mu_);
      if (abandoned_) return;
      abandoned_ = true;
      want_notify_ = false;
      drop_queued_locked();
      if (scheduled_) return;  // the writer drops the sink when its current step ends
      scheduled_ = true;
    }
    if (!writers_->post([self = shared_from_this()] { self->run(); })) run();
  }

 private:
  // Writer thread: open, then write until the queue is empty, the sink fails, the upload is
  // abandoned, or its turn is over (then it queues itself behind the other uploads).
  void run() {
    std::shared_ptr<BodySink> drop;
    std::unique_lock lk(mu_);
    size_t turn = 0;
    for (;;) {
      if (abandoned_) {
        drop = std::move(sink_);
        scheduled_ = false;
        break;
      }
      if (!opened_ && !failed_) {
        busy_ = true;
        lk.unlock();
        Status st = sink_->open();
        lk.lock();
        busy_ = false;
        if (st.ok()) opened_ = true;
        else fail_locked(sink_->error_status(), st.error().message());
        notify_if_waiting(lk);
        continue;
      }
      if (failed_ || chunks_.empty()) {
        scheduled_ = false;
        break;
      }
      if (turn >= kUploadTurn) {
        lk.unlock();
        if (writers_->post([self = shared_from_this()] { self->run(); })) return;
        lk.lock();
        turn = 0;
        continue;
      }
      std::string chunk = std::move(chunks_.front());
      chunks_.pop_front();
      busy_ = true;
      lk.unlock();
      Status st = sink_->write(chunk);
      lk.lock();
      busy_ = false;
      queued_ -= chunk.size();
      *memory_ -= chunk.size();
      turn += chunk.size();
      if (!st.ok()) {
        fail_locked(sink_->error_status(), st.error().message());
        drop_queued_locked();
      }
      notify_if_waiting(lk);
    }
    lk.unlock();
    drop.reset();  // an abandoned upload's sink removes its temp file here, off the I/O thread
  }
  void notify_if_waiting(std::unique_lock<std::mutex>& lk) {
    if (!want_notify_ || !(failed_ || (opened_ && queued_ <= high_ / 2))) return;
    want_notify_ = false;
    lk.unlock();
    notify_();
    lk.lock();
  }
  void fail_locked(int status, std::string msg) {
    if (failed_) return;
    failed_ = true;
    status_ = status;
    error_ = std::move(msg);
  }
  void drop_queued_locked() {
    size_t n = 0;
    for (auto& c : chunks_) n += c.size();
    chunks_.clear();
    queued_ -= n;
    *memory_ -= n;
  }

  std::shared_ptr<BodySink> sink_;
  std::shared_ptr<SinkWriters> writers_;
  std::atomic<size_t>* memory_;
  const size_t high_, memory_cap_;
  std::function<void()> notify_;
  mutable std::mutex mu_;
  std::deque<std::string> chunks_;
  size_t queued_ = 0;  // bytes in chunks_ and in the write in progress
  bool scheduled_ = false;  // a run() is queued or running
  bool busy_ = false;       // the sink is being opened or written
  bool opened_ = false, failed_ = false, abandoned_ = false, want_notify_ = false;
  int status_ = 500;
  std::string error_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket sock, ServerImpl* srv, std::shared_ptr<TlsContext> tls);
  ~Connection() {
    if (upload_) upload_->abandon();
  }
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
  void continue_body();
  void read_body();
  void finish_request();
  void wait_upload(UploadQueue::Wait w);
  void on_upload_notify();
  void drop_upload();
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
  // The body of this request streaming to a sink, and what the connection waits for from it.
  std::shared_ptr<UploadQueue> upload_;
  std::optional<UploadQueue::Wait> upload_wait_;
  // Keeps the connection alive while it waits for its upload (no socket or timer operation holds
  // it then); released by the notify, or by close().
  std::shared_ptr<Connection> waiting_self_;
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
      : writers(std::make_shared<SinkWriters>(lim.sink_threads)),
        limits(std::move(lim)),
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
    writers->stop();  // after the connections: their abandoned uploads are dropped here
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

  // Declared before `io`, so it is still there while `io` destroys what it holds (connections).
  std::shared_ptr<SinkWriters> writers;
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
  if (parser_->is_done()) return finish_request();
  std::string_view left(static_cast<const char*>(buf_.data().data()), buf_.size());
  for (size_t i = 0; i < left.size(); ++i)
    if (left[i] == '\n' && (i == 0 || left[i - 1] != '\r'))
      return send_error_and_close(400, "malformed HTTP request: lines must end in CRLF");
  if (reading_body_ && left.size() > srv_->limits.max_header_bytes)
    return send_error_and_close(400, "malformed HTTP request: chunk line too long");
  // Backpressure: the sink is behind (a slow disk), so stop reading until it catches up.
  if (upload_ && reading_body_ && !upload_->ready(UploadQueue::Wait::kRoom)) return wait_upload(UploadQueue::Wait::kRoom);
  read_more();
}

void Connection::read_more() {
  // A body streamed to a sink (uploads of many GB) has a limit on idle time, not on the whole.
  if (reading_body_ && parser_->req.sink) arm_timer(srv_->limits.upload_idle_timeout_ms);
  if (tls_) return tls_read();  // a read already out (the disconnect watch) parses when it completes
  sock_.async_read_some(buf_.prepare(upload_ ? kUploadReadSize : kReadSize),
                        asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, size_t n) {
                          if (self->state_ == State::kClosed) return;
                          if (ec) return self->fail_read(ec);
                          self->buf_.commit(n);
                          self->parse_buffered();
                        }));
}

void Connection::on_header() {
  // In flight from its header on: a drain waits for a request whose body is still arriving (it
  // gets its 503 once whole) instead of closing the connection under it.
  set_busy(true);
  if (auto len = parser_->content_length(); len && *len > parser_->body_cap())
    return send_error_and_close(413, "request body too large");  // say so before the client sends it
  if (srv_->sinks) {
    int status = 0;
    std::string err;
    std::shared_ptr<BodySink> sink = srv_->sinks(parser_->req, &status, &err);
    if (status != 0) return send_error_and_close(status, err);
    if (sink) {
      std::weak_ptr<Connection> w = shared_from_this();
      upload_ = std::make_shared<UploadQueue>(std::move(sink), srv_->writers, &srv_->body_bytes_,
                                              srv_->limits.upload_buffer, srv_->limits.max_body_memory, [w] {
                                                if (auto c = w.lock())
                                                  asio::post(c->strand_, [c] { c->on_upload_notify(); });
                                              });
      parser_->req.sink = upload_;
      upload_->start();
      // The sink opens on a writer thread (files, free space): the body waits until it has.
      if (!upload_->ready(UploadQueue::Wait::kOpen)) return wait_upload(UploadQueue::Wait::kOpen);
      if (auto f = upload_->failure()) return send_error_and_close(f->first, f->second);
    }
  }
  continue_body();
}

void Connection::continue_body() {
  if (parser_->is_done()) return finish_request();
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

// Stops reading (the client is not the slow one, so no timer runs) until the upload's notify.
void Connection::wait_upload(UploadQueue::Wait w) {
  timer_.cancel();
  upload_wait_ = w;
  waiting_self_ = shared_from_this();
}

void Connection::on_upload_notify() {
  auto keep = std::move(waiting_self_);
  if (state_ != State::kReading || !upload_ || !upload_wait_) return;
  UploadQueue::Wait w = *upload_wait_;
  upload_wait_.reset();
  if (!upload_->ready(w)) return wait_upload(w);
  if (auto f = upload_->failure()) return send_error_and_close(f->first, f->second);
  switch (w) {
    case UploadQueue::Wait::kOpen: return continue_body();
    case UploadQueue::Wait::kRoom: return read_more();
    case UploadQueue::Wait::kFlush: return finish_request();
  }
}

// The whole request is in; an upload is handed over once its sink has every byte.
void Connection::finish_request() {
  if (upload_) {
    if (!upload_->ready(UploadQueue::Wait::kFlush)) return wait_upload(UploadQueue::Wait::kFlush);
    if (auto f = upload_->failure()) return send_error_and_close(f->first, f->second);
    parser_->req.sink = upload_->release();
    upload_.reset();
  }
  dispatch_request();
}

void Connection::drop_upload() {
  upload_wait_.reset();
  waiting_self_.reset();  // callers hold their own reference
  if (parser_) parser_->req.sink.reset();
  if (upload_) upload_->abandon();  // a refused or cut-short upload leaves nothing behind
  upload_.reset();
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
  drop_upload();
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
  drop_upload();
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
