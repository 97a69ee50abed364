// Shared helpers for the store tests: a fresh temp directory, a copy of the Ollama-layout
// fixture store, the fixture's expected values, and small file helpers.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace paddock::store::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("paddock-store-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline const fs::path kFixture = "../../fixtures/store";

// Copies the fixture store into `dst` and gives every manifest a distinct, known mtime (git does
// not keep mtimes): manifest i of expected.json gets 1'700'000'000 + 1000*i seconds + i ns.
inline void copy_fixture(const fs::path& dst) {
  fs::copy(kFixture / "ollama_models", dst, fs::copy_options::recursive);
}

inline nlohmann::json expected() {
  std::ifstream f(kFixture / "expected.json");
  return nlohmann::json::parse(f);
}

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void set_mtime(const fs::path& p, int64_t sec, int64_t nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

inline void age(const fs::path& p, int64_t seconds) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  set_mtime(p, st.st_mtim.tv_sec - seconds, st.st_mtim.tv_nsec);
}

inline void age_all_blobs(const fs::path& root, int64_t seconds) {
  for (const auto& e : fs::directory_iterator(root / "blobs")) age(e.path(), seconds);
}

}  // namespace paddock::store::testing
