// client: the CLI's side of the API — a small blocking HTTP/1.1 client for the local server
// (PADDOCK_HOST / OLLAMA_HOST), whole responses or NDJSON streams line by line, plus terminal
// helpers (progress bars, sizes).
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace paddock::cli {

struct HttpResult {
  int status = 0;
  std::string body;
};

class Client {
 public:
  // From PADDOCK_HOST / OLLAMA_HOST (an unspecified bind address means this machine).
  static Client from_env();
  Client(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}

  // True if a server answers `GET /` within the timeout.
  bool reachable(int timeout_ms = 500) const;
  Result<HttpResult> request(const std::string& method, const std::string& path, const std::string& body = "") const;
  // POSTs and calls on_line for every NDJSON object; non-2xx statuses become errors with the
  // server's message. on_line returns false to stop reading (closes the connection).
  Status stream(const std::string& path, const nlohmann::json& body,
                const std::function<bool(const nlohmann::json&)>& on_line) const;
  std::string base() const;

 private:
  Result<int> connect_fd(int timeout_ms) const;
  std::string host_;
  uint16_t port_;
};

// {"error": "..."} → the message; else the body.
std::string server_error(const HttpResult& r);
// Sizes in decimal units and times as "N units ago", as the ollama CLI prints them.
std::string human_bytes(uint64_t n);
std::string human_ago(std::chrono::system_clock::time_point t);
// RFC 3339 with an optional fraction and a Z or ±hh:mm offset; nullopt if it is not one.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s);
// Columns padded to their widest cell plus 4 spaces, as `ollama list` prints.
void print_table(const std::vector<std::vector<std::string>>& rows);
// Renders `status` lines with total/completed as a one-line progress bar on stderr.
class Progress {
 public:
  void update(const nlohmann::json& line);
  void finish();

 private:
  std::string last_status_;
  bool bar_ = false;
};

}  // namespace paddock::cli
