// store internal: directory-fd based file access that never follows symlinks.
#include "store/fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

namespace paddock::store::detail {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

bool safe_component(std::string_view c) {
  if (c.empty() || c == "." || c == ".." || c.size() > 255) return false;
  for (char ch : c) {
    if (ch == '/' || ch == '\0') return false;
  }
  return true;
}

Result<UniqueFd> open_dir(const std::string& root, const std::vector<std::string>& comps, bool create) {
  UniqueFd cur(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cur.get() < 0) return make_error(ErrorCode::kIo, "cannot open model store {}: {}", root, std::strerror(errno));
  for (const auto& c : comps) {
    if (!safe_component(c)) return make_error(ErrorCode::kInvalidArgument, "unsafe path component");
    int fd = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), c.c_str(), 0755) != 0 && errno != EEXIST) {
        return make_error(ErrorCode::kIo, "cannot create directory in model store: {}", std::strerror(errno));
      }
      fd = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ENOENT) return make_error(ErrorCode::kNotFound, "not found");
      if (errno == ELOOP || errno == ENOTDIR) {
        return make_error(ErrorCode::kPermissionDenied, "model store entry is not a directory (symlink?)");
      }
      return make_error(ErrorCode::kIo, "cannot open model store directory: {}", std::strerror(errno));
    }
    cur = UniqueFd(fd);
  }
  return cur;
}

Result<std::string> read_at(int dirfd, const std::string& name, size_t max_bytes, struct stat* st_out) {
  if (!safe_component(name)) return make_error(ErrorCode::kInvalidArgument, "unsafe path component");
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, "not found");
    if (errno == ELOOP) return make_error(ErrorCode::kPermissionDenied, "refusing to follow a symlink in the model store");
    return make_error(ErrorCode::kIo, "cannot open file in model store: {}", std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kCorrupt, "model store entry is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return make_error(ErrorCode::kCorrupt, "file in model store is larger than {} bytes", max_bytes);
  }
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "cannot read file in model store: {}", std::strerror(errno));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return make_error(ErrorCode::kCorrupt, "file in model store is larger than {} bytes", max_bytes);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  if (st_out) *st_out = st;
  return out;
}

std::string temp_name(std::string_view stem) {
  // Re-seeded after fork(): children of one parent must not draw the same names.
  static thread_local pid_t seeded_for = 0;
  static thread_local std::mt19937_64 rng;
  pid_t pid = ::getpid();
  if (seeded_for != pid) {
    rng.seed(std::random_device{}() ^ (static_cast<uint64_t>(pid) << 32));
    seeded_for = pid;
  }
  return fmt::format(".tmp-{}-{}-{:016x}", stem.substr(0, 80), pid, rng());
}

Status atomic_write_at(int dirfd, const std::string& name, std::string_view data) {
  if (!safe_component(name)) return make_error(ErrorCode::kInvalidArgument, "unsafe path component");
  std::string tmp = temp_name(name);
  UniqueFd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (fd.get() < 0) return make_error(ErrorCode::kIo, "cannot create file in model store: {}", std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return make_error(ErrorCode::kIo, "cannot write file in model store: {}", std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    int e = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return make_error(ErrorCode::kIo, "cannot sync file in model store: {}", std::strerror(e));
  }
  fd = UniqueFd();
  if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
    int e = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return make_error(ErrorCode::kIo, "cannot rename file in model store: {}", std::strerror(e));
  }
  ::fsync(dirfd);
  return Status::Ok();
}

Result<std::vector<std::string>> list_dir(int dirfd) {
  int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return make_error(ErrorCode::kIo, "cannot list model store directory: {}", std::strerror(errno));
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return make_error(ErrorCode::kIo, "cannot list model store directory: {}", std::strerror(errno));
  }
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

}  // namespace paddock::store::detail
