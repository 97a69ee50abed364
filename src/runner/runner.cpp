// runner: the per-model process. Loads GGUF → model + tokenizer → engine, then serves framed
// requests: render the prompt, tokenize, submit to the engine, and stream its events back. The
// engine thread only enqueues events; a writer thread owns the socket's write side.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "grammar/json_schema.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runner/prompt.h"
#include "runner/runner.h"
#include "tokenizer/tokenizer.h"
#include "util/log.h"

namespace paddock::runner {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Frames to the server, written by one thread so the engine never blocks on the socket.
class Writer {
 public:
  explicit Writer(int fd) : fd_(fd), th_([this] { loop(); }) {}
  ~Writer() { stop(); }
  void send(json m) {
    {
      std::lock_guard lk(mu_);
      q_.push_back(encode_frame(m));
    }
    cv_.notify_one();
  }
  void stop() {
    {
      std::lock_guard lk(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_one();
    if (th_.joinable()) th_.join();
  }

 private:
  void loop() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !q_.empty(); });
      if (q_.empty() && stop_) return;
      std::string batch;
      while (!q_.empty() && batch.size() < (1u << 20)) {
        batch += q_.front();
        q_.pop_front();
      }
      lk.unlock();
      size_t off = 0;
      while (off < batch.size()) {
        ssize_t w = ::send(fd_, batch.data() + off, batch.size() - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(0);  // the server is gone: nothing left to serve
        off += size_t(w);
      }
      lk.lock();
    }
  }
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  bool stop_ = false;
  std::thread th_;
};

json logprobs_json(const std::vector<engine::TokenLogprob>& lps) {
  auto one = [](const engine::TokenLogprob& t) {
    json bytes = json::array();
    for (unsigned char c : t.piece) bytes.push_back(int(c));
    return json{{"token", t.piece}, {"logprob", t.logprob}, {"bytes", bytes}};
  };
  if (lps.empty()) return nullptr;
  json j = one(lps[0]);
  json top = json::array();
  for (size_t i = 1; i < lps.size(); ++i) top.push_back(one(lps[i]));
  j["top_logprobs"] = top;
  return json::array({j});
}

struct Runner {
  std::unique_ptr<engine::Engine> eng;
  std::shared_ptr<const tokenizer::Tokenizer> tok;
  std::unique_ptr<Writer> out;
  int num_ctx = 0;

  std::mutex mu;
  struct Live {
    std::vector<uint64_t> seqs;  // engine sequence ids (several for embed batches)
    std::optional<Clock::time_point> deadline;
    bool timed_out = false;
  };
  std::map<uint64_t, Live> live;  // request id -> state

  void error(uint64_t id, const std::string& msg, const char* code) {
    out->send(json{{"type", "error"}, {"id", id}, {"message", msg}, {"code", code}});
  }

  Status fill_request(const json& o, engine::Request& r) {
    auto f = [&](const char* k, auto& dst) {
      auto it = o.find(k);
      if (it != o.end() && it->is_number()) dst = it->get<std::decay_t<decltype(dst)>>();
    };
    f("temperature", r.sampling.temperature);
    f("top_k", r.sampling.top_k);
    f("top_p", r.sampling.top_p);
    f("min_p", r.sampling.min_p);
    f("typical_p", r.sampling.typical_p);
    f("repeat_penalty", r.sampling.repeat_penalty);
    f("repeat_last_n", r.sampling.repeat_last_n);
    f("presence_penalty", r.sampling.presence_penalty);
    f("frequency_penalty", r.sampling.frequency_penalty);
    f("seed", r.sampling.seed);
    f("num_predict", r.num_predict);
    if (r.num_predict < -1) r.num_predict = -1;  // -2 (fill the context) ends at the context anyway
    f("num_ctx", r.num_ctx);
    if (r.num_ctx > num_ctx)
      return make_error(ErrorCode::kInvalidArgument, "num_ctx {} exceeds this runner's context length {}", r.num_ctx, num_ctx);
    if (auto it = o.find("stop"); it != o.end() && it->is_array())
      for (auto& s : *it)
        if (s.is_string()) r.stop.push_back(s.get<std::string>());
    return Status::Ok();
  }

  void generate(const json& m) {
    uint64_t id = m.value("id", uint64_t(0));
    // Structured output: the format compiles to a grammar before anything is queued, so a bad
    // schema is a bad_request (HTTP 400) naming the problem.
    std::shared_ptr<const grammar::Grammar> grammar;
    if (json format = m.value("format", json(nullptr)); !format.is_null() && format != "") {
      // format_text: the schema as the client wrote it (member order kept), when the server has it.
      auto text = m.find("format_text");
      auto g = text != m.end() && text->is_string() && !text->get<std::string>().empty()
                   ? grammar::compile_format(nlohmann::ordered_json::parse(text->get<std::string>(), nullptr, false))
                   : grammar::compile_format(format);
      if (!g.ok()) return error(id, g.error().message(), "bad_request");
      grammar = std::move(*g);
    }
    auto prompt = render_prompt(m, *tok);
    if (!prompt.ok()) return error(id, prompt.error().message(), "bad_request");
    if (m.value("render_only", false)) {
      out->send(json{{"type", "rendered"}, {"id", id}, {"prompt", *prompt}});
      return;
    }
    engine::Request r;
    auto st = fill_request(m.value("options", json::object()), r);
    if (!st.ok()) return error(id, st.error().message(), "bad_request");
    r.top_logprobs = m.value("top_logprobs", -1);
    r.grammar = std::move(grammar);
    // Context ids from a previous /api/generate answer come first.
    if (auto c = m.find("context"); c != m.end() && c->is_array())
      for (auto& t : *c) {
        int64_t v = t.get<int64_t>();
        if (v < 0 || v >= tok->n_vocab()) return error(id, "context holds a token id outside the vocabulary", "bad_request");
        r.prompt.push_back(int32_t(v));
      }
    bool add_special = true;
    if (tok->bos() >= 0) {
      const std::string& bos = tok->token_text(tok->bos());
      if (!bos.empty() && prompt->rfind(bos, 0) == 0) add_special = false;  // the template wrote BOS
    }
    if (!r.prompt.empty()) add_special = false;
    auto ids = tok->encode(*prompt, add_special, true);
    r.prompt.insert(r.prompt.end(), ids.begin(), ids.end());
    if (r.prompt.empty()) return error(id, "the prompt is empty after templating", "bad_request");
    bool want_context = m.value("return_context", false);
    auto ctx_tokens = want_context ? std::make_shared<std::vector<int32_t>>(r.prompt) : nullptr;
    std::optional<Clock::time_point> deadline;
    if (auto t = m.value("timeout_ms", int64_t(0)); t > 0) deadline = Clock::now() + std::chrono::milliseconds(t);
    {
      std::lock_guard lk(mu);
      live[id].deadline = deadline;
    }
    auto sink = [this, id, ctx_tokens](engine::Event&& ev) {
      switch (ev.kind) {
        case engine::Event::Kind::kToken: {
          if (ctx_tokens && ev.token >= 0) ctx_tokens->push_back(ev.token);
          json j{{"type", "token"}, {"id", id}, {"text", std::move(ev.text)}};
          if (!ev.logprobs.empty()) j["logprobs"] = logprobs_json(ev.logprobs);
          out->send(std::move(j));
          break;
        }
        case engine::Event::Kind::kDone: {
          if (!finish(id)) return;
          json j{{"type", "done"}, {"id", id}, {"done_reason", ev.done_reason},
                 {"prompt_eval_count", ev.prompt_tokens}, {"prompt_eval_duration", ev.prompt_ns},
                 {"eval_count", ev.eval_tokens}, {"eval_duration", ev.eval_ns}};
          if (ctx_tokens) j["context"] = *ctx_tokens;
          out->send(std::move(j));
          break;
        }
        case engine::Event::Kind::kError:
          if (!finish(id)) return;
          error(id, ev.error, "internal");
          break;
      }
    };
    auto seq = eng->submit(std::move(r), sink);
    if (!seq.ok()) {
      finish(id);
      return error(id, seq.error().message(), seq.error().code() == ErrorCode::kInvalidArgument ? "bad_request" : "internal");
    }
    std::lock_guard lk(mu);
    auto it = live.find(id);
    if (it != live.end()) it->second.seqs.push_back(*seq);
  }

  // Marks a request finished; false if it already was (timed out and reported).
  bool finish(uint64_t id) {
    std::lock_guard lk(mu);
    auto it = live.find(id);
    if (it == live.end()) return true;
    bool reported = it->second.timed_out;
    live.erase(it);
    return !reported;
  }

  void embed(const json& m) {
    uint64_t id = m.value("id", uint64_t(0));
    auto inputs = m.value("inputs", json::array());
    struct Batch {
      std::mutex mu;
      std::vector<std::vector<float>> out;
      size_t left;
      int tokens = 0;
      bool failed = false;
    };
    auto b = std::make_shared<Batch>();
    b->out.resize(inputs.size());
    b->left = inputs.size();
    int dims = m.value("dimensions", 0);
    {
      std::lock_guard lk(mu);
      live[id];
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      engine::Request r;
      r.embed = true;
      r.prompt = tok->encode(inputs[i].get<std::string>(), true, false);
      if (int(r.prompt.size()) > num_ctx) {
        if (!m.value("truncate", true)) {
          finish(id);
          return error(id, "input length exceeds the context length", "bad_request");
        }
        r.prompt.resize(size_t(num_ctx));
      }
      auto sink = [this, id, b, i, dims](engine::Event&& ev) {
        std::unique_lock lk(b->mu);
        if (b->failed) return;
        if (ev.kind == engine::Event::Kind::kError) {
          b->failed = true;
          lk.unlock();
          if (finish(id)) error(id, ev.error, "internal");
          return;
        }
        if (ev.kind != engine::Event::Kind::kDone) return;
        auto v = std::move(ev.embedding);
        if (dims > 0 && size_t(dims) < v.size()) v.resize(size_t(dims));
        b->out[i] = std::move(v);
        b->tokens += ev.prompt_tokens;
        if (--b->left > 0) return;
        lk.unlock();
        if (!finish(id)) return;
        out->send(json{{"type", "done"}, {"id", id}, {"embeddings", b->out}, {"prompt_eval_count", b->tokens},
                       {"done_reason", "stop"}});
      };
      auto seq = eng->submit(std::move(r), sink);
      if (!seq.ok()) {
        {
          std::lock_guard lk(b->mu);
          b->failed = true;
        }
        finish(id);
        return error(id, seq.error().message(), seq.error().code() == ErrorCode::kInvalidArgument ? "bad_request" : "internal");
      }
      std::lock_guard lk(mu);
      auto it = live.find(id);
      if (it != live.end()) it->second.seqs.push_back(*seq);
    }
  }

  void cancel(uint64_t id) {
    std::vector<uint64_t> seqs;
    {
      std::lock_guard lk(mu);
      auto it = live.find(id);
      if (it == live.end()) return;
      seqs = it->second.seqs;
    }
    for (auto s : seqs) eng->cancel(s);
  }

  void check_deadlines() {
    std::vector<std::pair<uint64_t, std::vector<uint64_t>>> expired;
    {
      std::lock_guard lk(mu);
      auto now = Clock::now();
      for (auto& [id, l] : live)
        if (l.deadline && *l.deadline <= now && !l.timed_out) {
          l.timed_out = true;
          expired.emplace_back(id, l.seqs);
        }
    }
    for (auto& [id, seqs] : expired) {
      for (auto s : seqs) eng->cancel(s);
      error(id, "request timed out", "timeout");
    }
  }

  json stats() {
    auto s = eng->stats();
    size_t n;
    {
      std::lock_guard lk(mu);
      n = live.size();
    }
    return json{{"type", "stats"}, {"running", s.running}, {"waiting", s.waiting},
                {"kv_blocks_total", s.kv_blocks_total}, {"kv_blocks_free", s.kv_blocks_free},
                {"steps", s.steps}, {"preemptions", s.preemptions}, {"prefix_hit_tokens", s.prefix_hit_tokens},
                {"requests", n}};
  }
};

int connect_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof a.sun_path) return -1;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int run_runner(const RunnerOptions& opts) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the server
  if (::getppid() == 1) return 1;
  ::signal(SIGPIPE, SIG_IGN);
  // The model's compute yields to the server's I/O threads on a shared host: a busy CPU backend
  // must not delay health probes, /api/version or 503s (every thread made from here inherits it).
  // PADDOCK_RUNNER_NICE (0-19, default 5) sets how much; 0 leaves the priority as it is.
  int nice_by = 5;
  if (const char* e = std::getenv("PADDOCK_RUNNER_NICE"); e && *e) nice_by = std::clamp(std::atoi(e), 0, 19);
  if (nice_by > 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), ::getpriority(PRIO_PROCESS, 0) + nice_by);
  int fd = opts.fd >= 0 ? opts.fd : connect_socket(opts.socket_path);
  if (fd < 0) {
    std::cerr << "Error: runner needs --fd or a reachable --socket\n";
    return 2;
  }
  auto fail = [&](const Error& e) {
    (void)write_frame(fd, json{{"type", "error"}, {"message", e.message()},
                               {"code", e.code() == ErrorCode::kInvalidArgument || e.code() == ErrorCode::kCorrupt ||
                                                e.code() == ErrorCode::kUnsupported
                                            ? "bad_request"
                                            : "internal"}});
    return 1;
  };
  auto file = gguf::File::open(opts.model_path);
  if (!file.ok()) return fail(file.error());
  auto shared = std::make_shared<const gguf::File>(std::move(*file));
  auto tok = tokenizer::Tokenizer::from_gguf(*shared);
  if (!tok.ok()) return fail(tok.error());
  LoadOptions lo;
  lo.n_threads = opts.threads;
  lo.backend = opts.device;
  auto model = Model::load(shared, lo);
  if (!model.ok()) return fail(model.error());
  Runner rn;
  rn.tok = std::shared_ptr<const tokenizer::Tokenizer>(std::move(*tok));
  int n_ctx_train = (*model)->info().n_ctx_train;
  engine::Options eo;
  eo.max_seqs = opts.num_parallel;
  eo.num_ctx = n_ctx_train > 0 ? std::min(opts.num_ctx, n_ctx_train) : opts.num_ctx;
  rn.num_ctx = eo.num_ctx;
  auto eng = engine::Engine::create(std::move(*model), rn.tok, eo);
  if (!eng.ok()) return fail(eng.error());
  rn.eng = std::move(*eng);
  rn.out = std::make_unique<Writer>(fd);
  const ModelInfo& mi = rn.eng->info();
  rn.out->send(json{{"type", "ready"},
                    {"protocol", kProtocolVersion},
                    {"num_ctx", eo.num_ctx},
                    {"num_parallel", eo.max_seqs},
                    {"info", {{"architecture", mi.architecture}, {"n_vocab", mi.n_vocab}, {"n_embd", mi.n_embd},
                              {"n_layer", mi.n_layer}, {"n_ctx_train", mi.n_ctx_train}}}});

  std::atomic<bool> done{false};
  std::thread timer([&] {
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      rn.check_deadlines();
    }
  });
  FrameDecoder dec;
  char buf[65536];
  for (bool running = true; running;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    dec.feed(buf, size_t(r));
    for (;;) {
      auto f = dec.next();
      if (!f.ok()) {
        log::error("runner: bad frame from server: {}", f.error().message());
        running = false;
        break;
      }
      if (!f->has_value()) break;
      const json& m = **f;
      std::string type = m.value("type", "");
      try {
        if (type == "generate") rn.generate(m);
        else if (type == "embed") rn.embed(m);
        else if (type == "cancel") rn.cancel(m.value("id", uint64_t(0)));
        else if (type == "stats") rn.out->send(rn.stats());
        else if (type == "shutdown") running = false;
      } catch (const json::exception& e) {
        rn.error(m.value("id", uint64_t(0)), std::string("malformed request: ") + e.what(), "bad_request");
      }
      if (!running) break;
    }
  }
  done = true;
  timer.join();
  rn.eng->shutdown();
  rn.out->stop();
  return 0;
}

}  // namespace paddock::runner
