// bench: the load generator behind `paddock bench`. Drives an Ollama-API or OpenAI-API endpoint
// (Paddock, Ollama, llama.cpp's server, vLLM) in a closed loop (N clients) or an open loop
// (Poisson or constant arrivals), measures every request from its stream (TTFT, inter-token
// latencies, end-to-end latency, the server's token counts) and reports a table, JSON and HTML.
// Event-driven: a few threads, each with its own Asio loop and connections; no thread per request.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace paddock::bench {

enum class Api { kGenerate, kChat, kOpenAIChat, kOpenAICompletions };
enum class Arrival { kPoisson, kConstant };

// A token-length distribution: "64" (fixed), "16-64" or "uniform:16:64", "normal:128:32" (mean,
// sd), "exp:100" (exponential with that mean). Draws are rounded and clamped to [1, 1<<20].
struct LengthDist {
  enum class Kind { kFixed, kUniform, kNormal, kExponential } kind = Kind::kFixed;
  double a = 0, b = 0;
  static Result<LengthDist> parse(const std::string& text);
  std::string describe() const;
};

struct Options {
  // Target.
  std::string url = "http://127.0.0.1:11434";  // http:// or https://, optionally with a path prefix
  std::string model;
  Api api = Api::kGenerate;
  bool stream = true;
  std::string api_key;    // sent as "Authorization: Bearer <key>"
  bool insecure = false;  // TLS: skip certificate and host name verification
  std::string cacert;     // TLS: trust these PEM certificates instead of the system store
  // Load. Closed loop when rate == 0.
  int concurrency = 1;
  int64_t requests = 0;  // per run; 0 = until duration_s (or 100 when neither is given)
  double duration_s = 0;
  double rate = 0;  // requests/s (open loop)
  Arrival arrival = Arrival::kPoisson;
  int max_inflight = 0;          // open loop cap on requests in flight (0 = none)
  double late_threshold_ms = 1;  // an open-loop request sent later than this behind schedule is late
  std::vector<double> sweep;     // concurrencies (closed loop) or rates (open loop), one run each
  bool sweep_rates = false;      // `sweep` holds rates: open loop even without `rate`
  std::string compare_url;       // the same load against a second endpoint
  std::string compare_model;     // its model name (default: model)
  int threads = 0;               // I/O threads (0 = min(4, cores))
  double timeout_s = 600;        // per request
  int warmup = 0;                // requests sent (and not counted) before each run, on its connections
  // Prompts.
  std::string prompts_file;  // JSONL: {"prompt": ...} or {"messages": [...]}, optional "output_tokens"
  LengthDist input_tokens{LengthDist::Kind::kFixed, 128, 0};
  LengthDist output_tokens{LengthDist::Kind::kFixed, 64, 0};
  uint64_t seed = 1;
  int num_prompts = 0;        // distinct prompts (0 = one per request, at most 10000)
  bool calibrate = false;     // measure the server's tokens per synthetic word before the run
  bool ignore_eos = false;    // ask the server to ignore end-of-sequence (servers that know the option)
  std::string extra_options;  // JSON object merged into "options" (Ollama) or the body (OpenAI)
  // Objectives (0 = none) and output.
  double slo_ttft_ms = 0, slo_latency_ms = 0;
  std::string json_path, html_path;
  bool quiet = false;
};

// Parses "generate", "chat", "openai-chat", "openai-completions" (and the route paths).
Result<Api> parse_api(const std::string& text);
const char* api_path(Api api);

// Runs the benchmark described by `opts`: prints the table on stdout (progress on stderr) and
// writes the reports. Errors in the options or the prompt file come back as a Status; failed
// requests are results, not errors.
Status run(const Options& opts);

}  // namespace paddock::bench
