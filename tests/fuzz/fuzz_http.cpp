// libFuzzer target: the HTTP/1.1 request parser the server runs (server/http_parser.h), fed the
// way a connection feeds it — the byte stream split into reads (sizes from the first input
// byte), eager parsing once the header is in, leftover bytes checked for a bare LF, pipelined requests one after
// another. Invariants: no crash or sanitizer report; a finished request's body stays within its
// cap; a request that carried Transfer-Encoding with anything but one final "chunked" (or with
// Content-Length) never finishes; the server-wide body-memory counter returns to zero once every
// request is gone.
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/http_parser.h"

using paddock::server::HttpLimits;
using paddock::server::RequestParser;
namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t step = 1 + data[0] % 97;  // bytes per simulated socket read
  HttpLimits lim;
  lim.max_body = 4096;
  lim.max_upload = 16384;
  lim.max_header_bytes = 2048;
  lim.max_header_count = 32;
  lim.max_body_memory = 6000;  // less than two full bodies: the cap is reachable
  std::atomic<size_t> body_total{0};
  std::string buf;
  size_t pos = 1;
  auto read_more = [&] {
    if (pos >= size) return false;
    const size_t n = std::min(step, size - pos);
    buf.append(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    return true;
  };
  for (int request = 0; request < 32; ++request) {
    RequestParser p(lim, &body_total);
    bool closed = false;
    while (!p.is_done() && !closed) {
      while (!buf.empty() && !p.is_done()) {
        boost::system::error_code ec;
        const size_t used = p.put(boost::asio::buffer(buf.data(), buf.size()), ec);
        buf.erase(0, used);
        if (p.is_header_done()) p.eager(true);  // as the connection does once it reads the body
        if (ec == bhttp::error::need_more) break;
        if (ec) {
          closed = true;  // the server answers 4xx/5xx and closes
          break;
        }
        if (used == 0) break;
      }
      if (closed || p.is_done()) break;
      for (size_t i = 0; i < buf.size(); ++i)
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) closed = true;  // bare LF: 400 and close
      if (!closed && !read_more()) closed = true;  // the client stopped sending
    }
    if (p.is_done()) {
      if (p.req.body.size() > p.body_cap()) std::abort();
      if (p.bad_te) std::abort();  // an unframed body must never be handed on as a request
      // RFC 9112 §6.3: a finished request was framed by one final "chunked" or by Content-Length,
      // never by both and never by another coding.
      int te = 0, cl = 0;
      for (const auto& [name, value] : p.req.headers) {
        if (name == "transfer-encoding") {
          ++te;
          if (paddock::server::to_lower(paddock::server::trim(value)) != "chunked") std::abort();
        }
        if (name == "content-length") ++cl;
      }
      if (te > 1 || (te == 1 && cl > 0)) std::abort();
    }
    if (closed) break;
  }
  if (body_total.load() != 0) std::abort();  // every lease went back with its request
  return 0;
}
