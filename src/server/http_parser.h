// server (internal): the HTTP/1.1 request parser behind http.cpp's connections — Beast's parser
// with our callbacks, so the header count, the body caps, the server-wide body memory and the
// framing rules (RFC 9112 §6.3: only a single final "chunked" frames a body; never Content-Length
// and Transfer-Encoding together) are checked as bytes arrive. Its own header so the HTTP fuzzer
// (tests/fuzz/fuzz_http.cpp) drives exactly what the server runs.
#pragma once
#include <atomic>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "server/http.h"

namespace paddock::server {

inline std::string to_lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
  return r;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

namespace bhttp_detail {
namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;

// Fills an HttpRequest while Beast parses; enforces the count and size caps.
class RequestParser : public bhttp::basic_parser<true> {
 public:
  RequestParser(const HttpLimits& lim, std::atomic<size_t>* body_total) : lim_(lim), body_total_(body_total) {
    header_limit(static_cast<std::uint32_t>(lim.max_header_bytes));
    body_limit(std::numeric_limits<std::uint64_t>::max());  // enforced below, per route (none misbehaves in 1.74)
  }
  HttpRequest req;
  bool too_many_fields = false;
  bool body_too_large = false;
  bool expect_continue = false;
  bool sink_failed = false;
  bool bad_te = false;
  bool over_body_memory = false;  // the server-wide cap on buffered bodies (503)
  int sink_status = 0;
  std::string sink_error;
  size_t body_cap() const {
    return req.path.rfind(lim_.upload_prefix, 0) == 0 ? lim_.max_upload : lim_.max_body;
  }

 private:
  void on_request_impl(bhttp::verb, boost::beast::string_view method, boost::beast::string_view target,
                       int, error_code&) override {
    req.method.assign(method.data(), method.size());
    req.target.assign(target.data(), target.size());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
  }
  void on_response_impl(int, boost::beast::string_view, int, error_code&) override {}
  void on_field_impl(bhttp::field f, boost::beast::string_view name, boost::beast::string_view value,
                     error_code& ec) override {
    if (++fields_ > lim_.max_header_count) {
      too_many_fields = true;
      ec = bhttp::error::header_limit;
      return;
    }
    if (f == bhttp::field::content_length) has_cl_ = true;
    if (f == bhttp::field::transfer_encoding) {
      // RFC 9112 §6.3: only one final "chunked" frames a request body we can read. Anything else
      // (unknown codings, "identity", empty, "chunked" not last, a second header) would leave the
      // body unframed, to be read as the next request: refuse and close.
      if (has_te_ || to_lower(trim(std::string_view(value.data(), value.size()))) != "chunked") {
        bad_te = true;
        ec = bhttp::error::bad_transfer_encoding;
        return;
      }
      has_te_ = true;
    }
    if (has_cl_ && has_te_) {  // request smuggling: never guess which one frames the body
      bad_te = true;
      ec = bhttp::error::bad_transfer_encoding;
      return;
    }
    if (f == bhttp::field::expect && to_lower(std::string_view(value.data(), value.size())) == "100-continue")
      expect_continue = true;
    req.headers.emplace_back(to_lower(std::string_view(name.data(), name.size())),
                             std::string(value.data(), value.size()));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const& len, error_code& ec) override {
    if (len && *len > body_cap()) {
      body_too_large = true;
      ec = bhttp::error::body_limit;
    } else if (len && *len <= lim_.max_body && !req.sink) {
      if (!lease(*len)) {
        over_body_memory = true;
        ec = bhttp::error::body_limit;
        return;
      }
      req.body.reserve(*len);
    }
  }
  // Counts `n` more bytes of buffered body against the server-wide cap.
  struct BodyLease {
    std::atomic<size_t>* total;
    size_t bytes = 0;
    ~BodyLease() { *total -= bytes; }
  };
  bool lease(size_t n) {
    if (!lease_) {
      auto l = std::make_shared<BodyLease>();
      l->total = body_total_;
      lease_ = l.get();
      req.body_lease = std::move(l);
    }
    size_t cur = body_total_->load();
    do {
      if (cur + n > lim_.max_body_memory) return false;
    } while (!body_total_->compare_exchange_weak(cur, cur + n));
    lease_->bytes += n;
    return true;
  }
  size_t append(boost::beast::string_view b, error_code& ec) {
    if (req.sink) {
      sink_bytes_ += b.size();
      if (sink_bytes_ > body_cap()) {
        body_too_large = true;
        ec = bhttp::error::body_limit;
        return 0;
      }
      Status st = req.sink->write(std::string_view(b.data(), b.size()));
      if (!st.ok()) {
        sink_failed = true;
        sink_status = req.sink->error_status();
        sink_error = st.error().message();
        ec = bhttp::error::body_limit;
        return 0;
      }
      return b.size();
    }
    if (req.body.size() + b.size() > body_cap()) {
      body_too_large = true;
      ec = bhttp::error::body_limit;
      return 0;
    }
    size_t leased = lease_ ? lease_->bytes : 0;
    if (req.body.size() + b.size() > leased &&
        !lease(std::max<size_t>(req.body.size() + b.size() - leased, 64u << 10))) {
      over_body_memory = true;
      ec = bhttp::error::body_limit;
      return 0;
    }
    req.body.append(b.data(), b.size());
    return b.size();
  }
  size_t on_body_impl(boost::beast::string_view b, error_code& ec) override { return append(b, ec); }
  // Refuse a chunk over the cap when its size line arrives, not after its data.
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view, error_code& ec) override {
    uint64_t have = req.sink ? sink_bytes_ : req.body.size();
    if (size > body_cap() || have + size > body_cap()) {
      body_too_large = true;
      ec = bhttp::error::body_limit;
    }
  }
  size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view b, error_code& ec) override {
    return append(b, ec);
  }
  void on_finish_impl(error_code&) override {}

  const HttpLimits& lim_;
  std::atomic<size_t>* body_total_;
  BodyLease* lease_ = nullptr;  // owned by req.body_lease
  size_t fields_ = 0;
  uint64_t sink_bytes_ = 0;
  bool has_cl_ = false, has_te_ = false;
};

}  // namespace bhttp_detail

using bhttp_detail::RequestParser;

}  // namespace paddock::server
