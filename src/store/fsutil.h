// store internal: filesystem access confined to the store root. Directories are opened one
// component at a time with O_NOFOLLOW, so no symlink inside the store can lead outside it, and
// files are written atomically inside a directory fd (temp + fsync + renameat + fsync dir).
#pragma once
#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace paddock::store::detail {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }

 private:
  int fd_ = -1;
};

// True for a single path component we are willing to pass to *at() calls.
bool safe_component(std::string_view c);

// Opens root/c0/c1/... as a directory; each component must be safe and not a symlink.
// kNotFound when a component is missing (and create is false).
Result<UniqueFd> open_dir(const std::string& root, const std::vector<std::string>& comps, bool create);

// Reads a regular file (not a symlink) in dirfd, at most max_bytes.
Result<std::string> read_at(int dirfd, const std::string& name, size_t max_bytes, struct stat* st_out = nullptr);

// Writes `data` to dirfd/name atomically (unique temp name starting with '.', fsync, renameat,
// fsync of the directory).
Status atomic_write_at(int dirfd, const std::string& name, std::string_view data);

// A unique temp file name: ".tmp-<stem>-<random>".
std::string temp_name(std::string_view stem);

// Directory entries (excluding . and ..).
Result<std::vector<std::string>> list_dir(int dirfd);

}  // namespace paddock::store::detail
