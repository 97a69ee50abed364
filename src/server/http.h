// http: a small HTTP/1.1 server on Boost.Asio with Beast's parser — keep-alive, chunked
// streaming, caps and timeouts (413/431/408/400), disconnect detection — on a few I/O threads.
// Handlers run on an I/O thread and must not block: they answer through an Exchange later.
// Bodies streamed to a sink (uploads) are written by sink writer threads, with backpressure.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace paddock::server {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpLimits {
  size_t max_body = 8u << 20;        // JSON bodies (413 over it)
  size_t max_upload = 64ull << 30;   // blob uploads (route-selected via upload_prefix)
  std::string upload_prefix = "/api/blobs/";
  size_t max_header_bytes = 16u << 10;  // 431
  size_t max_header_count = 100;        // 431
  int header_timeout_ms = 30000;        // whole header must arrive within this (408)
  int body_timeout_ms = 120000;         // whole body (408)
  // Requests with a sink (uploads of many GB take longer than body_timeout_ms): the longest wait
  // for the next bytes instead of a cap on the whole body (408).
  int upload_idle_timeout_ms = 120000;
  size_t max_pending_write = 8u << 20;  // a stream reader this far behind is cut off
  // Bytes of one upload waiting for its sink (a slow disk): reading from that client pauses at
  // this much, or while all bodies together are over max_body_memory, and resumes once the sink
  // writer has caught up; TCP flow control then slows the client down.
  size_t upload_buffer = 1u << 20;
  // Threads that open sinks and write uploads into them (never an I/O thread); shared by all
  // uploads in turns of 1 MiB.
  int sink_threads = 2;
  // Open connections; one more is answered 503 (Retry-After) and closed before its request is read.
  size_t max_connections = 512;
  // Bytes all buffered request bodies may hold together (a body is counted from its first byte
  // until the request is destroyed); a body that would go over is refused with 503 and closed.
  // Upload bytes waiting for their sink count too, but an upload over it pauses instead.
  size_t max_body_memory = 256u << 20;
};

// Receives a request body as it arrives, instead of HttpRequest::body (blob uploads of many GB
// in constant memory). open() and write() run on a sink writer thread, never an I/O thread, one
// call at a time and in order, so they may block on the disk: the connection queues at most
// HttpLimits::upload_buffer bytes and stops reading until the writer catches up. An error fails
// the request with `error_status()` and the connection is closed. The handler gets the sink
// once every byte was written. Destroying the sink before the handler took it (disconnect,
// timeout, shutdown; on a writer thread where it can) must discard what it received.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Before the first write and before the body is read (or 100 Continue sent): where the sink
  // opens files and checks for room, so a refusal comes before the client sends the body.
  virtual Status open() { return Status::Ok(); }
  virtual Status write(std::string_view bytes) = 0;
  // HTTP status for the last write error (e.g. 413 over a size cap, 507 out of disk space).
  virtual int error_status() const { return 500; }
};

struct HttpRequest;
struct KeyEntry;  // auth.h
// Picks a sink once a request's header is in (on the I/O thread: no file system calls here, those
// belong in BodySink::open): nullptr = buffer the body in HttpRequest::body as usual; a non-zero
// `*status` refuses the request at once with `*error` (the body is not read).
using SinkFactory = std::function<std::shared_ptr<BodySink>(const HttpRequest& req, int* status, std::string* error)>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request-target
  std::string path;    // target without the query
  std::string query;
  Headers headers;     // names lower-cased, in arrival order
  std::string body;
  std::shared_ptr<BodySink> sink;  // set when the body went to a sink instead of `body`
  std::string remote;  // peer address
  // Holds this body's share of HttpLimits::max_body_memory until the request is destroyed: move
  // the request (not a copy of its body) to keep it counted while its work runs.
  std::shared_ptr<void> body_lease;
  // The API key the router verified (nullptr without authentication); the request's work checks
  // its model allow-list and limits.
  std::shared_ptr<const KeyEntry> principal;
  // First value of a header (name lower-case), or "".
  std::string header(std::string_view name) const;
};

// The response side of one request. Thread-safe; every call is posted to the connection.
class Exchange {
 public:
  virtual ~Exchange() = default;
  // A whole response. Content-Length is set; extra headers are added as given.
  virtual void respond(int status, std::string content_type, std::string body, Headers extra = {}) = 0;
  // A chunked response: start once, write any number of chunks, then finish.
  virtual void start_stream(int status, std::string content_type, Headers extra = {}) = 0;
  // False once the client is gone or too far behind (the connection is then closed).
  virtual bool write(std::string chunk) = 0;
  virtual void finish() = 0;
  // Called once (on an I/O thread) if the client goes away before the response is finished.
  virtual void on_disconnect(std::function<void()> fn) = 0;
  virtual bool disconnected() const = 0;
  // Headers every response of this exchange carries (CORS); set by the router before answering.
  virtual void add_default_headers(Headers h) = 0;
};

using Handler = std::function<void(HttpRequest&&, std::shared_ptr<Exchange>)>;

class TlsProvider;  // tls.h

// Requests refused by the HTTP layer itself (before any handler saw them), by status and reason.
struct HttpRefusal {
  int status;
  std::string reason;
  uint64_t count;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // With `tls`, every connection is TLS (no plaintext on this listener); each new connection takes
  // the provider's current context, so a reload never touches connections already open.
  static std::unique_ptr<HttpServer> create(int io_threads, HttpLimits limits, Handler handler,
                                            SinkFactory sinks = {}, std::shared_ptr<TlsProvider> tls = nullptr);
  // Binds and listens; port 0 picks a free port (see port()).
  virtual Status listen(const std::string& host, uint16_t port) = 0;
  virtual uint16_t port() const = 0;
  virtual void start() = 0;  // I/O threads start accepting
  // Stops accepting, closes connections, joins the I/O threads.
  virtual void stop() = 0;
  // Number of open connections (for tests and /metrics).
  virtual size_t connections() const = 0;
  // Connections with a request whose response has not been written out yet (drain waits for 0).
  virtual size_t busy() const = 0;
  // Bytes of request bodies held now: buffered bodies and upload bytes waiting for their sink
  // (see max_body_memory).
  virtual size_t body_memory() const = 0;
  // Counts since start (for /metrics).
  virtual std::vector<HttpRefusal> refusals() const = 0;
  virtual uint64_t tls_handshake_failures() const = 0;
};

const char* status_reason(int status);

}  // namespace paddock::server
