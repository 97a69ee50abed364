// config: the value parsers Ollama's environment variables need (OLLAMA_HOST, Go durations) and
// byte sizes; settings.cpp maps every setting onto them.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include <boost/asio/ip/address.hpp>

#include "server/server.h"

namespace paddock::server {

namespace {
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '"' || s.back() == '\''))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '"' || s[i] == '\'')) ++i;
  return s.substr(i);
}
}  // namespace

Result<std::pair<std::string, uint16_t>> parse_host(const std::string& raw) {
  std::string s = trim(raw);
  std::string default_port = "11434";
  std::string hostport = s;
  if (auto p = s.find("://"); p != std::string::npos) {
    std::string scheme = s.substr(0, p);
    hostport = s.substr(p + 3);
    if (scheme == "http") default_port = "80";
    else if (scheme == "https") default_port = "443";
  }
  hostport = hostport.substr(0, hostport.find('/'));
  std::string host, port;
  if (!hostport.empty() && hostport[0] == '[') {  // [v6]:port
    auto close = hostport.find(']');
    if (close == std::string::npos) return make_error(ErrorCode::kInvalidArgument, "invalid host '{}'", raw);
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
  } else if (auto c = hostport.rfind(':'); c != std::string::npos && hostport.find(':') == c) {
    host = hostport.substr(0, c);
    port = hostport.substr(c + 1);
    if (host.empty()) host = "0.0.0.0";  // ":11434" = every interface, as in Go
  } else {
    host = hostport.empty() ? "127.0.0.1" : hostport;  // a bare IPv6 address lands here too
  }
  if (port.empty()) port = default_port;
  char* end = nullptr;
  long n = std::strtol(port.c_str(), &end, 10);
  if (!end || *end || n < 0 || n > 65535) return make_error(ErrorCode::kInvalidArgument, "invalid port in host '{}'", raw);
  return std::make_pair(host, uint16_t(n));
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

Result<int64_t> parse_duration_ns(const std::string& raw) {
  std::string s = trim(raw);
  if (s.empty()) return make_error(ErrorCode::kInvalidArgument, "empty duration");
  // A bare integer is seconds (Ollama).
  {
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (end && *end == '\0') {
      if (v < 0 || v >= kForeverNs / 1000000000) return int64_t(-1);
      return int64_t(v) * 1000000000LL;
    }
  }
  size_t i = 0;
  bool neg = false;
  if (s[i] == '-' || s[i] == '+') neg = s[i++] == '-';
  if (s.substr(i) == "0") return int64_t(0);
  double total = 0;
  bool any = false;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == start) return make_error(ErrorCode::kInvalidArgument, "invalid duration '{}'", raw);
    double num = std::strtod(s.substr(start, i - start).c_str(), nullptr);
    size_t u0 = i;
    while (i < s.size() && !((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    std::string unit = s.substr(u0, i - u0);
    double mul;
    if (unit == "ns") mul = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mul = 1e3;
    else if (unit == "ms") mul = 1e6;
    else if (unit == "s") mul = 1e9;
    else if (unit == "m") mul = 60e9;
    else if (unit == "h") mul = 3600e9;
    else return make_error(ErrorCode::kInvalidArgument, "invalid duration '{}': unknown unit '{}'", raw, unit);
    total += num * mul;
    any = true;
  }
  if (!any) return make_error(ErrorCode::kInvalidArgument, "invalid duration '{}'", raw);
  if (neg || !(total < double(kForeverNs))) return int64_t(-1);
  return int64_t(total);
}

Result<uint64_t> parse_size(const std::string& raw) {
  std::string s = trim(raw);
  size_t i = 0;
  uint64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (n > (UINT64_MAX - 9) / 10) return make_error(ErrorCode::kInvalidArgument, "size '{}' is too large", raw);
    n = n * 10 + uint64_t(s[i++] - '0');
  }
  if (i == 0) return make_error(ErrorCode::kInvalidArgument, "invalid size '{}': expected bytes, e.g. 512G", raw);
  std::string unit = s.substr(i);
  for (char& c : unit) c = char(std::toupper((unsigned char)c));
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'I') unit.pop_back();  // "GiB" = "G"
  int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : unit == "T" ? 40 : -1;
  if (shift < 0) return make_error(ErrorCode::kInvalidArgument, "invalid size '{}': unknown unit", raw);
  if (shift > 0 && n > (UINT64_MAX >> shift)) return make_error(ErrorCode::kInvalidArgument, "size '{}' is too large", raw);
  return n << shift;
}

}  // namespace paddock::server
