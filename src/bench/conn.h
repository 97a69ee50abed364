// bench/conn: one client connection (TCP or TLS, keep-alive) carrying one request at a time, and
// timing it from its stream: connect, send, read the header, feed the body to the decoder, stamp
// each token event. Runs on its worker's single-threaded io_context; never blocks.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "bench/bench.h"
#include "bench/protocol.h"
#include "bench/stats.h"

namespace paddock::bench {

using Clock = std::chrono::steady_clock;

class Conn;

// What every connection of one worker shares.
struct ConnEnv {
  boost::asio::io_context& io;
  boost::asio::ssl::context* tls = nullptr;  // null: plain TCP
  bool verify_host = true;                   // TLS: check the certificate names ep.host
  Endpoint ep;
  boost::asio::ip::tcp::resolver::results_type addrs;
  Api api = Api::kGenerate;
  bool stream = true;
  double timeout_s = 600;
  Clock::time_point t0;
  RunData* data = nullptr;  // inter-token gaps, token buckets and error examples land here
  std::function<void(Conn*, Sample&&)> done;

  double since_start(Clock::time_point t) const { return std::chrono::duration<double>(t - t0).count(); }
};

class Conn {
 public:
  static std::unique_ptr<Conn> make(ConnEnv& env);
  virtual ~Conn() = default;
  // Sends `request` (kept alive by the caller until done); reports through env.done once answered
  // or failed. `scheduled` is copied into the Sample.
  virtual void start(const std::string* request, double scheduled) = 0;
};

// TLS client context: the system trust store, or `cacert`; no verification when `insecure`.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(bool insecure, const std::string& cacert);

}  // namespace paddock::bench
