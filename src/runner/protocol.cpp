// runner protocol: length-prefixed JSON frames over a stream socket, shared by the runner process
// and the server's runner client.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runner/runner.h"

namespace paddock::runner {

std::string encode_frame(const nlohmann::json& msg) {
  std::string body = msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string out(4, '\0');
  out[0] = char(n & 0xff);
  out[1] = char((n >> 8) & 0xff);
  out[2] = char((n >> 16) & 0xff);
  out[3] = char((n >> 24) & 0xff);
  return out + body;
}

Result<std::optional<nlohmann::json>> FrameDecoder::next() {
  if (buf_.size() - pos_ < 4) return std::optional<nlohmann::json>();
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  uint32_t n = uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
  if (n > kMaxFrame) return make_error(ErrorCode::kCorrupt, "runner frame of {} bytes exceeds the {} byte cap", n, kMaxFrame);
  if (buf_.size() - pos_ - 4 < n) return std::optional<nlohmann::json>();
  auto parsed = nlohmann::json::parse(buf_.begin() + long(pos_ + 4), buf_.begin() + long(pos_ + 4 + n), nullptr, false);
  pos_ += 4 + n;
  if (pos_ > (1u << 16) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error(ErrorCode::kCorrupt, "runner frame is not a JSON object");
  return std::optional<nlohmann::json>(std::move(parsed));
}

Status write_frame(int fd, const nlohmann::json& msg) {
  std::string f = encode_frame(msg);
  size_t off = 0;
  while (off < f.size()) {
    ssize_t w = ::send(fd, f.data() + off, f.size() - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "runner socket write: {}", std::strerror(errno));
    }
    off += size_t(w);
  }
  return Status::Ok();
}

static Status read_exact(int fd, char* buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = ::read(fd, buf + off, n - off);
    if (r == 0) return make_error(ErrorCode::kIo, "closed");
    if (r < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "runner socket read: {}", std::strerror(errno));
    }
    off += size_t(r);
  }
  return Status::Ok();
}

Result<nlohmann::json> read_frame(int fd) {
  unsigned char h[4];
  RETURN_IF_ERROR(read_exact(fd, reinterpret_cast<char*>(h), 4));
  uint32_t n = uint32_t(h[0]) | (uint32_t(h[1]) << 8) | (uint32_t(h[2]) << 16) | (uint32_t(h[3]) << 24);
  if (n > kMaxFrame) return make_error(ErrorCode::kCorrupt, "runner frame of {} bytes exceeds the {} byte cap", n, kMaxFrame);
  std::string body(n, '\0');
  RETURN_IF_ERROR(read_exact(fd, body.data(), n));
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error(ErrorCode::kCorrupt, "runner frame is not a JSON object");
  return parsed;
}

}  // namespace paddock::runner
