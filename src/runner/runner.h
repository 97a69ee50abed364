// runner: the public header — the process that hosts one model (`paddock runner`, started by the
// server, one per loaded model) and the framed protocol the server speaks with it over a Unix
// socket. Frames are a 4-byte little-endian length followed by that many bytes of JSON.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace paddock::runner {

// Protocol messages (field "type"):
//  runner -> server  {"type":"ready","info":{architecture,n_ctx_train,n_embd,...},"num_ctx","num_parallel"}
//                    {"type":"token","id","text","logprobs"?}      one per sampled token (text may be "")
//                    {"type":"done","id","done_reason","prompt_eval_count","prompt_eval_duration",
//                     "eval_count","eval_duration","context"?,"embeddings"?}
//                    {"type":"error","id"?,"message","code"?("bad_request"|"internal"|"timeout")}
//                    {"type":"stats","running","waiting","kv_blocks_total","kv_blocks_free",...}
//                    {"type":"rendered","id","prompt"}              answer to render_only requests
//  server -> runner  {"type":"generate","id",...request, see docs/API.md "runner protocol"}
//                    {"type":"embed","id","inputs":[...],"truncate"}
//                    {"type":"cancel","id"}  {"type":"stats"}  {"type":"shutdown"}
inline constexpr uint32_t kMaxFrame = 64u << 20;
inline constexpr int kProtocolVersion = 1;

std::string encode_frame(const nlohmann::json& msg);

// Incremental decoder for a byte stream of frames.
class FrameDecoder {
 public:
  void feed(const char* data, size_t n) { buf_.append(data, n); }
  // A complete frame if one is buffered; kCorrupt on an oversized or non-JSON frame.
  Result<std::optional<nlohmann::json>> next();

 private:
  std::string buf_;
  size_t pos_ = 0;
};

// Blocking helpers on a stream socket (retry on EINTR, MSG_NOSIGNAL).
Status write_frame(int fd, const nlohmann::json& msg);
// kIo with "closed" at a clean end of stream.
Result<nlohmann::json> read_frame(int fd);

struct RunnerOptions {
  std::string model_path;   // GGUF weights
  int fd = -1;              // an already-connected socket (the server passes one end of a socketpair)
  std::string socket_path;  // or a Unix socket path to connect to
  int num_parallel = 1;     // sequences decoded together
  int num_ctx = 4096;       // context per sequence
  int threads = 0;          // CPU threads; 0 = all
  std::string device = "auto";  // auto (a usable GPU, else the CPU), cpu, cuda, cuda:N
  bool embedding = false;   // embedding-only model
};

// The runner's main: loads the model, says "ready", serves requests until the socket closes.
// Returns the process exit code. Builds without the engine answer with an error frame.
int run_runner(const RunnerOptions& opts);

}  // namespace paddock::runner
