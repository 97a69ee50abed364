// bench/load: runs one load against one endpoint — a few worker threads, each with its own
// io_context, connections and share of the load (clients, or every T-th arrival) — and collects
// what they measured. The calling thread draws the progress line.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/protocol.h"
#include "bench/stats.h"

namespace boost::asio::ssl {
class context;
}

namespace paddock::bench {

struct LoadPlan {
  Endpoint ep;
  Api api = Api::kGenerate;
  bool stream = true;
  std::vector<std::string> requests;               // HTTP bytes; request i sends requests[i % size]
  std::shared_ptr<boost::asio::ssl::context> tls;  // set for https
  bool verify_host = true;
  // Closed loop when `arrivals` is empty: `concurrency` clients until `total` requests are sent
  // (0: until `duration_s`).
  int concurrency = 1;
  int64_t total = 0;
  double duration_s = 0;
  // Open loop: send request i at arrivals[i] seconds, at most `max_inflight` at once (0 = no cap;
  // arrivals over the cap wait, and their delay counts against the generator).
  std::vector<double> arrivals;
  int max_inflight = 0;
  // Requests sent first and not counted (closed loop: by the clients; open loop: by up to 8
  // clients, or the cap, per thread); their connections stay open for the run.
  int warmup = 0;
  int threads = 1;
  double timeout_s = 600;
  bool progress = false;  // a live line on stderr
  std::string label;      // shown on the progress line
};

// Runs the plan to its end (every request answered, failed or timed out). An error only when the
// run cannot start (the host does not resolve).
Result<RunData> run_load(const LoadPlan& plan);

}  // namespace paddock::bench
