// client: blocking HTTP over POSIX sockets (no TLS: the CLI talks to a local server).
#include "cli/client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <fmt/format.h>

#include "server/server.h"

namespace paddock::cli {

Client Client::from_env() {
  const char* h = std::getenv("PADDOCK_HOST");
  if (!h || !*h) h = std::getenv("OLLAMA_HOST");
  std::string host = "127.0.0.1";
  uint16_t port = 11434;
  if (h && *h) {
    auto r = server::parse_host(h);
    if (r.ok()) {
      host = r->first;
      port = r->second;
    }
  }
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
  return Client(host, port);
}

std::string Client::base() const { return "http://" + host_ + ":" + std::to_string(port_); }

Result<int> Client::connect_fd(int timeout_ms) const {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res); rc != 0)
    return make_error(ErrorCode::kIo, "cannot resolve {}: {}", host_, gai_strerror(rc));
  int fd = -1;
  for (auto* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
      } else {
        rc = -1;
      }
    }
    if (rc == 0) {
      int flags = 0;
      (void)flags;
      ::fcntl(fd, F_SETFL, 0);  // back to blocking
      break;
    }
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return make_error(ErrorCode::kIo, "could not connect to a paddock server at {}; is `paddock serve` running?", base());
  return fd;
}

namespace {

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += size_t(w);
  }
  return true;
}

// Reads a response incrementally: head, then body bytes (de-chunked) handed to `on_data`.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  bool fill() {
    char b[65536];
    ssize_t r;
    do r = ::recv(fd_, b, sizeof b, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0) return false;
    buf_.append(b, size_t(r));
    return true;
  }
  Result<int> head() {
    while (buf_.find("\r\n\r\n") == std::string::npos)
      if (!fill()) return make_error(ErrorCode::kIo, "server closed the connection");
    auto end = buf_.find("\r\n\r\n");
    std::string h = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    for (auto& c : h) c = char(std::tolower((unsigned char)c));
    int status = std::atoi(h.c_str() + 9);
    chunked_ = h.find("transfer-encoding: chunked") != std::string::npos;
    auto cl = h.find("content-length: ");
    if (cl != std::string::npos) length_ = std::strtoll(h.c_str() + cl + 16, nullptr, 10);
    return status;
  }
  // Calls on_data for body pieces until the body ends or on_data returns false.
  Status body(const std::function<bool(std::string_view)>& on_data) {
    if (!chunked_) {
      int64_t left = length_;
      for (;;) {
        if (!buf_.empty()) {
          size_t n = left >= 0 ? std::min<size_t>(buf_.size(), size_t(left)) : buf_.size();
          if (!on_data(std::string_view(buf_).substr(0, n))) return Status::Ok();
          buf_.erase(0, n);
          if (left >= 0) left -= int64_t(n);
        }
        if (left == 0) return Status::Ok();
        if (!fill()) return left < 0 ? Status::Ok() : make_error(ErrorCode::kIo, "response ended early");
      }
    }
    for (;;) {
      while (buf_.find("\r\n") == std::string::npos)
        if (!fill()) return make_error(ErrorCode::kIo, "response ended early");
      auto eol = buf_.find("\r\n");
      size_t n = std::strtoul(buf_.substr(0, eol).c_str(), nullptr, 16);
      buf_.erase(0, eol + 2);
      if (n == 0) return Status::Ok();
      while (buf_.size() < n + 2)
        if (!fill()) return make_error(ErrorCode::kIo, "response ended early");
      if (!on_data(std::string_view(buf_).substr(0, n))) return Status::Ok();
      buf_.erase(0, n + 2);
    }
  }

 private:
  int fd_;
  std::string buf_;
  bool chunked_ = false;
  int64_t length_ = -1;
};

std::string build_request(const std::string& method, const std::string& host, const std::string& path,
                          const std::string& body) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: paddock/" PADDOCK_VERSION
                  "\r\nAccept: application/x-ndjson, application/json\r\nConnection: close\r\n";
  // A server with API keys (serve --keys-file): the key from PADDOCK_API_KEY, as `paddock bench`
  // takes it. A value with control characters is not sent (it could not be a key).
  if (const char* k = std::getenv("PADDOCK_API_KEY"); k && *k) {
    std::string_view key(k);
    if (std::none_of(key.begin(), key.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      r += "Authorization: Bearer " + std::string(key) + "\r\n";
  }
  if (!body.empty() || method == "POST" || method == "DELETE")
    r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

}  // namespace

bool Client::reachable(int timeout_ms) const {
  auto fd = connect_fd(timeout_ms);
  if (!fd.ok()) return false;
  bool ok = send_all(*fd, build_request("GET", host_, "/", ""));
  if (ok) {
    pollfd p{*fd, POLLIN, 0};
    ok = ::poll(&p, 1, timeout_ms * 4) == 1;
    if (ok) {
      Reader r(*fd);
      auto st = r.head();
      ok = st.ok() && *st == 200;
    }
  }
  ::close(*fd);
  return ok;
}

Result<HttpResult> Client::request(const std::string& method, const std::string& path, const std::string& body) const {
  ASSIGN_OR_RETURN(int fd, connect_fd(2000));
  if (!send_all(fd, build_request(method, host_, path, body))) {
    ::close(fd);
    return make_error(ErrorCode::kIo, "sending to the server failed");
  }
  Reader rd(fd);
  auto status = rd.head();
  if (!status.ok()) {
    ::close(fd);
    return status.error();
  }
  HttpResult res;
  res.status = *status;
  if (method == "HEAD") {  // no body, whatever Content-Length says
    ::close(fd);
    return res;
  }
  auto st = rd.body([&](std::string_view d) {
    res.body.append(d);
    return true;
  });
  ::close(fd);
  if (!st.ok()) return st.error();
  return res;
}

Status Client::stream(const std::string& path, const nlohmann::json& body,
                      const std::function<bool(const nlohmann::json&)>& on_line) const {
  ASSIGN_OR_RETURN(int fd, connect_fd(2000));
  if (!send_all(fd, build_request("POST", host_, path, body.dump()))) {
    ::close(fd);
    return make_error(ErrorCode::kIo, "sending to the server failed");
  }
  Reader rd(fd);
  auto status = rd.head();
  if (!status.ok()) {
    ::close(fd);
    return status.error();
  }
  std::string pending;
  Status result = Status::Ok();
  bool stop = false;
  auto st = rd.body([&](std::string_view d) {
    pending.append(d);
    size_t pos;
    while (!stop && (pos = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, pos);
      pending.erase(0, pos + 1);
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.is_object() && j.contains("error")) {
        result = Error(ErrorCode::kInternal, j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump());
        stop = true;
        break;
      }
      if (!on_line(j)) stop = true;
    }
    return !stop;
  });
  if (!stop && !pending.empty() && *status >= 300) {
    auto j = nlohmann::json::parse(pending, nullptr, false);
    std::string msg = !j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string()
                          ? j["error"].get<std::string>()
                          : pending;
    result = Error(*status == 404 ? ErrorCode::kNotFound : ErrorCode::kInternal, msg);
  } else if (!stop && *status >= 300) {
    result = make_error(ErrorCode::kInternal, "server answered {}", *status);
  }
  ::close(fd);
  if (!st.ok() && result.ok()) return st.error();
  return result;
}

std::string server_error(const HttpResult& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    if (j["error"].is_string()) return j["error"].get<std::string>();
    if (j["error"].is_object() && j["error"].contains("message")) return j["error"]["message"].get<std::string>();
  }
  return r.body.empty() ? "server answered " + std::to_string(r.status) : r.body;
}

// Decimal units, as `ollama list` prints sizes.
std::string human_bytes(uint64_t b) {
  const char* units[] = {"TB", "GB", "MB", "KB"};
  const double scale[] = {1e12, 1e9, 1e6, 1e3};
  for (int i = 0; i < 4; ++i) {
    if (static_cast<double>(b) >= scale[i]) {
      double v = static_cast<double>(b) / scale[i];
      if (v >= 10 || v == std::trunc(v)) return fmt::format("{} {}", static_cast<uint64_t>(v), units[i]);
      return fmt::format("{:.1f} {}", v, units[i]);
    }
  }
  return fmt::format("{} B", b);
}

std::string human_ago(std::chrono::system_clock::time_point t) {
  auto d = std::chrono::system_clock::now() - t;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (secs < 0) return "In the future";
  std::string s;
  if (secs < 1) s = "Less than a second";
  else if (secs == 1) s = "1 second";
  else if (secs < 60) s = fmt::format("{} seconds", secs);
  else if (secs < 120) s = "About a minute";
  else if (secs < 3600) s = fmt::format("{} minutes", secs / 60);
  else {
    auto hours = static_cast<int64_t>(std::llround(static_cast<double>(secs) / 3600.0));
    if (hours == 1) s = "About an hour";
    else if (hours < 48) s = fmt::format("{} hours", hours);
    else if (hours < 24 * 14) s = fmt::format("{} days", hours / 24);
    else if (hours < 24 * 60) s = fmt::format("{} weeks", hours / 24 / 7);
    else if (hours < 24 * 730) s = fmt::format("{} months", hours / 24 / 30);
    else s = fmt::format("{} years", hours / 24 / 365);
  }
  return s + " ago";
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 4, ' ');
    }
    std::cout << line << "\n";
  }
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    while (std::isdigit(static_cast<unsigned char>(*rest))) ++rest;  // the fraction: below a second
  }
  long offset = 0;
  if (*rest == '+' || *rest == '-') {
    int h = 0, m = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &h, &m) != 2) return std::nullopt;
    offset = (*rest == '-' ? -1 : 1) * (h * 3600L + m * 60L);
  } else if (*rest != 'Z') {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm) - offset);
}

void Progress::update(const nlohmann::json& line) {
  std::string status = line.value("status", "");
  uint64_t total = line.value("total", uint64_t(0)), done = line.value("completed", uint64_t(0));
  if (total > 0) {
    int width = 30;
    int fill = int(double(done) / double(total) * width);
    if (fill > width) fill = width;
    std::cerr << "\r" << status << " " << std::string(size_t(fill), '#') << std::string(size_t(width - fill), '.') << " "
              << human_bytes(done) << "/" << human_bytes(total) << "   " << std::flush;
    bar_ = true;
    last_status_ = status;
    return;
  }
  if (status == last_status_) return;
  if (bar_) std::cerr << "\n";
  bar_ = false;
  std::cerr << status << "\n";
  last_status_ = status;
}

void Progress::finish() {
  if (bar_) std::cerr << "\n";
  bar_ = false;
}

}  // namespace paddock::cli
