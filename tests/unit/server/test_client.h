// test_client: a raw TCP client for HTTP tests — sends exact bytes and reads exact bytes, so
// framing, limits and timeouts can be checked without any HTTP library in between.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace paddock::server::testing {

class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() { close(); }
  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t w = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (w <= 0) return false;
      off += size_t(w);
    }
    return true;
  }
  // Reads until `stop` appears in what was read since the last call (kept in buf_), the peer
  // closes, or the timeout passes. Returns everything read so far and clears it.
  std::string read_until(const std::string& stop, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (buf_.find(stop) == std::string::npos) {
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) break;
      char b[65536];
      ssize_t r = ::recv(fd_, b, sizeof b, 0);
      if (r <= 0) {
        closed_ = true;
        break;
      }
      buf_.append(b, size_t(r));
    }
    std::string out;
    auto pos = buf_.find(stop);
    if (pos == std::string::npos) {
      out.swap(buf_);
    } else {
      out = buf_.substr(0, pos + stop.size());
      buf_.erase(0, pos + stop.size());
    }
    return out;
  }
  // Reads one whole response with a Content-Length body or chunked body.
  std::string read_response(int timeout_ms = 5000) {
    std::string head = read_until("\r\n\r\n", timeout_ms);
    if (head.find("\r\n\r\n") == std::string::npos) return head;
    std::string lower = head;
    for (auto& c : lower) c = char(std::tolower((unsigned char)c));
    auto cl = lower.find("content-length: ");
    if (lower.find("transfer-encoding: chunked") != std::string::npos) return head + read_until("\r\n0\r\n\r\n", timeout_ms);
    if (cl == std::string::npos) return head;
    size_t n = std::stoul(lower.substr(cl + 16));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (buf_.size() < n && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char b[65536];
      ssize_t r = ::recv(fd_, b, sizeof b, 0);
      if (r <= 0) break;
      buf_.append(b, size_t(r));
    }
    std::string body = buf_.substr(0, std::min(n, buf_.size()));
    buf_.erase(0, body.size());
    return head + body;
  }
  // True if the peer closed the connection within the timeout.
  bool wait_closed(int timeout_ms = 5000) {
    if (closed_) return true;
    read_until("\x01\x02never", timeout_ms);
    return closed_;
  }

 private:
  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
};

}  // namespace paddock::server::testing
