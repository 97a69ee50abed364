// Durable file writes: write to a unique temp file in the target's directory, fsync, rename over
// the target, fsync the directory. Safe with concurrent writers on other nodes (last rename wins,
// readers always see a whole file).
#pragma once
#include <string>
#include <string_view>

#include "util/status.h"

namespace paddock {

Status atomic_write_file(const std::string& path, std::string_view contents, int mode = 0644);
// Unique temp path next to `path` (same directory, so rename is atomic): "<path>.tmp-<random>".
std::string temp_path_for(const std::string& path);
Status fsync_dir(const std::string& dir);
Result<std::string> read_file(const std::string& path, size_t max_bytes);

}  // namespace paddock
