// The engine loop (engine.h): one thread owns the model and the KV cache. Callers validate and
// build their request's state (sampler, decoder, stop matcher) on their own thread in submit();
// the loop only drains a queue, then every step: schedule -> forward -> sample -> detokenize ->
// stop check -> events to each request's sink. Only the engine thread ever waits on its
// condition variable, so a wake-up is always notify_one.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "engine/engine.h"
#include "grammar/grammar.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "grammar/stop.h"
#include "util/log.h"
#include "util/utf8.h"

namespace paddock::engine {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int32_t kMaxTopLogprobs = 20;

int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

// A request in flight. Sequence first, so the scheduler's Sequence* leads back to it.
struct Active : Sequence {
  Active(Request r, Sink s, const tokenizer::Tokenizer& tok, int32_t n_vocab, int32_t num_ctx)
      : req(std::move(r)),
        sink(std::move(s)),
        sampler(req.sampling, n_vocab, num_ctx),
        decoder(tok, true),
        stop(req.stop) {}
  Request req;  // prompt moved into Sequence::tokens
  Sink sink;
  Sampler sampler;
  tokenizer::StreamDecoder decoder;
  grammar::StopMatcher stop;
  std::unique_ptr<grammar::GrammarMatcher> matcher;  // structured output; null when unconstrained
  int32_t n_generated = 0;
  bool started = false, first_token = false;
  Clock::time_point t_start, t_first_token;
  std::vector<std::pair<int32_t, float>> lp_scratch;
};

class EngineImpl final : public Engine {
 public:
  EngineImpl(std::unique_ptr<Model> model, std::shared_ptr<const tokenizer::Tokenizer> tok, const Options& opts,
             const SchedulerConfig& cfg)
      : model_(std::move(model)), tok_(std::move(tok)), opts_(opts), sched_(cfg) {
    n_vocab_ = model_->info().n_vocab;
    stats_.kv_blocks_total = stats_.kv_blocks_free = cfg.n_blocks;
    thread_ = std::thread([this] { loop(); });
  }
  ~EngineImpl() override { shutdown(); }

  Result<uint64_t> submit(Request req, Sink sink) override;
  void cancel(uint64_t id) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_) return;
      cancels_.push_back(id);
    }
    cv_.notify_one();
  }
  Stats stats() const override {
    std::lock_guard<std::mutex> lk(stats_mu_);
    return stats_;
  }
  const ModelInfo& info() const override { return model_->info(); }
  void shutdown() override;

 private:
  Status validate(const Request& r, int32_t* num_ctx) const;
  void loop();
  void admit(std::unique_ptr<Active> a);
  void step();
  void on_token(Active* a, int32_t token, std::span<const float> logits);
  void run_embed(Active* a);
  void finish(Active* a, const char* reason);
  void fail(Active* a, const std::string& message);
  void publish_stats();
  std::shared_ptr<const grammar::TokenTrie> trie();

  std::unique_ptr<Model> model_;
  std::shared_ptr<const tokenizer::Tokenizer> tok_;
  Options opts_;
  int32_t n_vocab_ = 0;
  std::atomic<uint64_t> next_id_{1};
  std::once_flag trie_once_;
  std::shared_ptr<const grammar::TokenTrie> trie_;  // the vocabulary's bytes, built on first grammar use

  // Shared with callers.
  std::mutex mu_, join_mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Active>> inbox_;
  std::vector<uint64_t> cancels_;
  bool stopping_ = false;
  mutable std::mutex stats_mu_;
  Stats stats_;

  // Engine thread only.
  Scheduler sched_;
  std::unordered_map<uint64_t, std::unique_ptr<Active>> active_;
  std::deque<Active*> embeds_;
  std::vector<Active*> finished_;
  Step step_;
  std::vector<float> logits_, hidden_;
  uint64_t steps_ = 0;
  std::thread thread_;
};

Status EngineImpl::validate(const Request& r, int32_t* num_ctx) const {
  if (r.prompt.empty()) return make_error(ErrorCode::kInvalidArgument, "the prompt is empty");
  for (int32_t t : r.prompt)
    if (t < 0 || t >= n_vocab_) return make_error(ErrorCode::kInvalidArgument, "prompt token {} is not in the vocabulary (0..{})", t, n_vocab_ - 1);
  if (r.embed) {
    const Pooling pool = model_->info().pooling;
    if (pool != Pooling::kMean && pool != Pooling::kCls && pool != Pooling::kLast)
      return make_error(ErrorCode::kInvalidArgument, "this model's pooling type ({}) is not supported for embeddings (mean, cls and last are)",
                        pool == Pooling::kNone ? "none" : "rank");
  }
  int32_t ctx = r.num_ctx == 0 ? opts_.num_ctx : r.num_ctx;
  if (ctx < 0 || ctx > opts_.num_ctx)
    return make_error(ErrorCode::kInvalidArgument, "num_ctx {} is out of range (1..{}, the most this model was loaded with)", r.num_ctx,
                   opts_.num_ctx);
  const auto n = static_cast<int64_t>(r.prompt.size());
  if (r.embed ? n > ctx : n >= ctx)
    return make_error(ErrorCode::kInvalidArgument, "the prompt is {} tokens, which does not fit the context of {} tokens{}", n, ctx,
                   r.embed ? "" : " (leaving room for at least one generated token)");
  if (r.num_predict < -2) return make_error(ErrorCode::kInvalidArgument, "num_predict {} is out of range (>= -2)", r.num_predict);
  if (r.top_logprobs < -1 || r.top_logprobs > kMaxTopLogprobs)
    return make_error(ErrorCode::kInvalidArgument, "top_logprobs {} is out of range (0..{})", r.top_logprobs, kMaxTopLogprobs);
  if (r.stop.size() > grammar::kMaxStops) return make_error(ErrorCode::kInvalidArgument, "{} stop sequences (at most {})", r.stop.size(), grammar::kMaxStops);
  for (const std::string& s : r.stop) {
    if (s.empty()) return make_error(ErrorCode::kInvalidArgument, "a stop sequence is empty");
    if (s.size() > grammar::kMaxStopBytes) return make_error(ErrorCode::kInvalidArgument, "a stop sequence is {} bytes (at most {})", s.size(), grammar::kMaxStopBytes);
    if (!utf8::is_valid(s)) return make_error(ErrorCode::kInvalidArgument, "a stop sequence is not valid UTF-8");
  }
  RETURN_IF_ERROR(validate_sampling(r.sampling, n_vocab_));
  *num_ctx = ctx;
  return Status::Ok();
}

Result<uint64_t> EngineImpl::submit(Request req, Sink sink) {
  int32_t num_ctx = 0;
  RETURN_IF_ERROR(validate(req, &num_ctx));
  // Per-request setup happens here, on the caller's thread, not on the engine thread.
  auto a = std::make_unique<Active>(std::move(req), std::move(sink), *tok_, n_vocab_, num_ctx);
  if (a->req.grammar) {
    a->matcher = std::make_unique<grammar::GrammarMatcher>(a->req.grammar);
    a->sampler.set_grammar(a->matcher.get(), trie().get(), a->req.top_logprobs >= 0);
  }
  a->id = next_id_.fetch_add(1);
  a->tokens = std::move(a->req.prompt);
  a->n_prompt = static_cast<int32_t>(a->tokens.size());
  a->max_len = num_ctx;
  uint64_t id = a->id;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return make_error(ErrorCode::kCancelled, "the engine is shutting down");
    inbox_.push_back(std::move(a));
  }
  cv_.notify_one();
  return id;
}

std::shared_ptr<const grammar::TokenTrie> EngineImpl::trie() {
  std::call_once(trie_once_, [this] { trie_ = build_token_trie(*tok_, n_vocab_); });
  return trie_;
}

void EngineImpl::shutdown() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  std::lock_guard<std::mutex> j(join_mu_);
  if (thread_.joinable()) thread_.join();
}

void EngineImpl::loop() {
  std::vector<std::unique_ptr<Active>> inbox;
  std::vector<uint64_t> cancels;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        return stopping_ || !inbox_.empty() || !cancels_.empty() || !active_.empty();
      });
      if (stopping_) break;
      inbox.swap(inbox_);
      cancels.swap(cancels_);
    }
    for (auto& a : inbox) admit(std::move(a));
    inbox.clear();
    for (uint64_t id : cancels) {
      auto it = active_.find(id);
      if (it != active_.end()) fail(it->second.get(), "request cancelled");
    }
    cancels.clear();
    if (!embeds_.empty()) run_embed(embeds_.front());
    step();
    for (Active* a : finished_) active_.erase(a->id);
    finished_.clear();
    publish_stats();
  }
  // Shutdown: everything queued or in flight gets an error.
  {
    std::lock_guard<std::mutex> lk(mu_);
    inbox.swap(inbox_);
  }
  for (auto& a : inbox) admit(std::move(a));
  for (auto& [id, a] : active_) {
    if (a->state != Sequence::State::kFinished) fail(a.get(), "the engine shut down");
  }
  active_.clear();
  finished_.clear();
  publish_stats();
}

void EngineImpl::admit(std::unique_ptr<Active> a) {
  Active* p = a.get();
  active_.emplace(p->id, std::move(a));
  if (p->req.embed) {
    embeds_.push_back(p);
  } else if (p->req.num_predict == 0) {
    finish(p, "length");
  } else {
    sched_.add(p);
  }
}

void EngineImpl::step() {
  if (!sched_.schedule(step_)) return;
  ++steps_;
  const auto now = Clock::now();
  for (const StepEntry& e : step_.entries) {
    auto* a = static_cast<Active*>(e.seq);
    if (!a->started) {
      a->started = true;
      a->t_start = now;
    }
  }
  const size_t rows = step_.batch.logit_rows.size();
  logits_.resize(rows * static_cast<size_t>(n_vocab_));
  Status st = model_->forward(step_.batch, logits_);
  if (!st.ok()) {
    log::error("engine: forward failed: {}", st.error().message());
    for (const StepEntry& e : step_.entries) fail(static_cast<Active*>(e.seq), "model error: " + st.error().message());
    return;
  }
  sched_.complete(step_);
  size_t row = 0;
  for (const StepEntry& e : step_.entries) {
    if (!e.sample) continue;
    auto* a = static_cast<Active*>(e.seq);
    std::span<const float> logits(logits_.data() + row * n_vocab_, n_vocab_);
    ++row;
    if (a->state == Sequence::State::kFinished) continue;
    int32_t token = a->sampler.sample(logits, a->tokens);
    if (token < 0) {
      fail(a, "structured output: no token of the vocabulary can continue the output the format requires");
      continue;
    }
    on_token(a, token, a->sampler.last_logits(logits));
  }
}

void EngineImpl::on_token(Active* a, int32_t token, std::span<const float> logits) {
  a->tokens.push_back(token);
  ++a->n_generated;
  if (!a->first_token) {
    a->first_token = true;
    a->t_first_token = Clock::now();
  }
  Event ev;
  ev.kind = Event::Kind::kToken;
  ev.token = token;
  const bool eog = tok_->is_eog(token);
  if (a->matcher && !eog) {
    [[maybe_unused]] bool ok = a->matcher->accept(trie_->piece(token));
    assert(ok);  // the sampler only returns tokens the grammar allows
  }
  if (!eog) ev.text = a->stop.push(a->decoder.push(token));
  const char* reason = nullptr;
  if (a->stop.stopped() || eog) {
    reason = "stop";
  } else if (a->matcher && a->matcher->is_complete() && !a->matcher->can_continue()) {
    reason = "stop";  // the structured output is complete and nothing more may follow
  } else if (a->req.num_predict > 0 && a->n_generated >= a->req.num_predict) {
    reason = "length";
  } else if (static_cast<int32_t>(a->tokens.size()) >= a->max_len) {
    reason = "length";
  }
  if (reason != nullptr && !a->stop.stopped()) {
    // Ending for another reason: what the decoder and the stop matcher still hold is output.
    ev.text += a->stop.push(a->decoder.flush());
    if (a->stop.stopped()) {
      reason = "stop";
    } else {
      ev.text += a->stop.flush();
    }
  }
  if (a->req.top_logprobs >= 0 && !eog) {
    compute_logprobs(logits, token, a->req.top_logprobs, a->lp_scratch);
    ev.logprobs.reserve(a->lp_scratch.size());
    for (const auto& [id, lp] : a->lp_scratch) ev.logprobs.push_back({id, tok_->token_to_piece(id), lp});
  }
  if (!eog || !ev.text.empty()) a->sink(std::move(ev));
  if (reason != nullptr) finish(a, reason);
}

void EngineImpl::run_embed(Active* a) {
  // Pooled final-normed hidden states (the model's pooling_type: mean over all prompt tokens,
  // cls = the first token's, last = the last token's), then L2-normalized. Every token goes
  // through the model (no prefix reuse); the blocks are borrowed for this call.
  KvBlockManager& kv = sched_.kv();
  const int32_t n = static_cast<int32_t>(a->tokens.size());
  KvTable table;
  if (kv.allocate({}, n, table) < 0) return;  // running sequences hold the blocks: next step
  embeds_.pop_front();
  const auto t0 = Clock::now();
  const int32_t n_embd = model_->info().n_embd;
  const Pooling pool = model_->info().pooling;  // mean, cls or last (validate refused the others)
  std::vector<double> sum(n_embd, 0.0);
  Batch b;
  for (int32_t start = 0; start < n;) {
    int32_t c = std::min(n - start, opts_.step_token_budget);
    b.tokens.assign(a->tokens.begin() + start, a->tokens.begin() + start + c);
    b.positions.resize(c);
    b.logit_rows.resize(c);
    for (int32_t i = 0; i < c; ++i) {
      b.positions[i] = start + i;
      b.logit_rows[i] = i;
    }
    b.seq_start = {0, c};
    b.seq_kv_len = {start + c};
    b.max_blocks = kv.blocks_for(start + c);
    b.block_tables.assign(table.blocks.begin(), table.blocks.begin() + b.max_blocks);
    hidden_.resize(static_cast<size_t>(c) * n_embd);
    Status st = model_->forward_hidden(b, hidden_);
    if (!st.ok()) {
      kv.release(table);
      fail(a, "model error: " + st.error().message());
      return;
    }
    for (int32_t i = 0; i < c; ++i) {
      const int32_t pos = start + i;
      if ((pool == Pooling::kCls && pos != 0) || (pool == Pooling::kLast && pos != n - 1)) continue;
      for (int32_t j = 0; j < n_embd; ++j) sum[j] += hidden_[static_cast<size_t>(i) * n_embd + j];
    }
    start += c;
  }
  kv.release(table);
  const double rows = pool == Pooling::kMean ? n : 1;
  double norm = 0;
  for (double& v : sum) {
    v /= rows;
    norm += v * v;
  }
  norm = std::sqrt(norm);
  Event done;
  done.kind = Event::Kind::kDone;
  done.done_reason = "stop";
  done.prompt_tokens = n;
  done.prompt_ns = ns_between(t0, Clock::now());
  done.embedding.resize(n_embd);
  if (!a->req.embed_normalize || norm == 0) norm = 1;
  for (int32_t j = 0; j < n_embd; ++j) done.embedding[j] = static_cast<float>(sum[j] / norm);
  a->state = Sequence::State::kFinished;
  a->sink(std::move(done));
  finished_.push_back(a);
}

void EngineImpl::finish(Active* a, const char* reason) {
  sched_.remove(a);
  const auto now = Clock::now();
  Event done;
  done.kind = Event::Kind::kDone;
  done.done_reason = reason;
  done.prompt_tokens = a->n_prompt;
  done.cached_tokens = std::max(a->n_cached, 0);
  done.eval_tokens = a->n_generated;
  if (a->started) {
    done.prompt_ns = ns_between(a->t_start, a->first_token ? a->t_first_token : now);
    done.eval_ns = a->first_token ? ns_between(a->t_first_token, now) : 0;
  }
  publish_stats();  // a client that saw "done" also sees the blocks back
  a->sink(std::move(done));
  finished_.push_back(a);
}

void EngineImpl::fail(Active* a, const std::string& message) {
  if (a->state == Sequence::State::kFinished) return;
  sched_.remove(a);
  auto it = std::find(embeds_.begin(), embeds_.end(), a);
  if (it != embeds_.end()) embeds_.erase(it);
  Event ev;
  ev.kind = Event::Kind::kError;
  ev.error = message;
  publish_stats();
  a->sink(std::move(ev));
  finished_.push_back(a);
}

void EngineImpl::publish_stats() {
  std::lock_guard<std::mutex> lk(stats_mu_);
  stats_.running = sched_.n_running();
  stats_.waiting = sched_.n_waiting() + static_cast<int32_t>(embeds_.size());
  stats_.kv_blocks_total = sched_.kv().total();
  stats_.kv_blocks_free = sched_.kv().available();
  stats_.steps = steps_;
  stats_.preemptions = sched_.preemptions();
  stats_.prefix_hit_tokens = sched_.prefix_hit_tokens();
}

}  // namespace

std::shared_ptr<const grammar::TokenTrie> build_token_trie(const tokenizer::Tokenizer& tok, int32_t n_vocab) {
  std::vector<std::string> pieces(static_cast<size_t>(n_vocab));
  std::vector<grammar::TokenTrie::Kind> kinds(static_cast<size_t>(n_vocab), grammar::TokenTrie::Kind::kNever);
  const int32_t n_tok = tok.n_vocab();
  for (int32_t id = 0; id < n_vocab && id < n_tok; ++id) {
    if (tok.is_eog(id)) {
      kinds[id] = grammar::TokenTrie::Kind::kEndOfGeneration;
      continue;
    }
    const tokenizer::TokenType t = tok.token_type(id);
    if (tok.is_control(id) || t == tokenizer::TokenType::kControl || t == tokenizer::TokenType::kUnknown ||
        t == tokenizer::TokenType::kUnused)
      continue;  // special tokens never appear in structured output
    pieces[id] = tok.token_to_piece(id);
    kinds[id] = grammar::TokenTrie::Kind::kText;
  }
  return std::make_shared<const grammar::TokenTrie>(pieces, kinds);
}

Result<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<Model> model,
                                               std::shared_ptr<const tokenizer::Tokenizer> tok,
                                               const Options& opts) {
  if (!model || !tok) return make_error(ErrorCode::kInvalidArgument, "engine needs a model and a tokenizer");
  const ModelInfo& info = model->info();
  if (info.n_vocab <= 0 || info.n_embd <= 0) return make_error(ErrorCode::kInvalidArgument, "model reports an empty vocabulary or embedding");
  Options o = opts;
  if (o.max_seqs < 1 || o.max_seqs > 4096) return make_error(ErrorCode::kInvalidArgument, "max_seqs {} is out of range (1..4096)", o.max_seqs);
  if (o.num_ctx < 2) return make_error(ErrorCode::kInvalidArgument, "num_ctx {} is out of range (>= 2)", o.num_ctx);
  if (info.n_ctx_train > 0 && o.num_ctx > info.n_ctx_train) {
    log::info("engine: num_ctx {} capped at the model's training context {}", o.num_ctx, info.n_ctx_train);
    o.num_ctx = info.n_ctx_train;
  }
  if (o.step_token_budget < o.max_seqs)
    return make_error(ErrorCode::kInvalidArgument, "step_token_budget {} must be at least max_seqs {} (every running sequence decodes each step)",
                   o.step_token_budget, o.max_seqs);
  if (o.kv_block_size < 1 || o.kv_block_size > 1024)
    return make_error(ErrorCode::kInvalidArgument, "kv_block_size {} is out of range (1..1024)", o.kv_block_size);
  const int64_t per_seq = (static_cast<int64_t>(o.num_ctx) + o.kv_block_size - 1) / o.kv_block_size;
  int64_t blocks = o.kv_blocks > 0 ? o.kv_blocks : per_seq * o.max_seqs;
  if (o.kv_blocks < 0) return make_error(ErrorCode::kInvalidArgument, "kv_blocks {} is negative", o.kv_blocks);
  if (blocks < per_seq)
    return make_error(ErrorCode::kInvalidArgument, "kv_blocks {} cannot hold one full context of {} tokens ({} blocks of {})", blocks, o.num_ctx,
                   per_seq, o.kv_block_size);
  if (blocks > (int64_t{1} << 24)) return make_error(ErrorCode::kInvalidArgument, "kv_blocks {} is too large", blocks);
  // The step plan: the scheduler never builds a step past its token budget (nor past the pool),
  // and asks for at most one logit row per sequence.
  const int32_t plan_tokens =
      static_cast<int32_t>(std::min<int64_t>(o.step_token_budget, blocks * int64_t{o.kv_block_size}));
  RETURN_IF_ERROR(model->init_kv({.block_size = o.kv_block_size, .n_blocks = static_cast<int32_t>(blocks),
                                  .q8_0 = o.kv_q8_0, .max_step_tokens = plan_tokens,
                                  .max_logit_rows = std::min(o.max_seqs, plan_tokens)}));
  SchedulerConfig cfg{.max_seqs = o.max_seqs,
                      .token_budget = o.step_token_budget,
                      .n_blocks = static_cast<int32_t>(blocks),
                      .block_size = o.kv_block_size,
                      .prefix_cache = o.prefix_cache};
  return std::unique_ptr<Engine>(new EngineImpl(std::move(model), std::move(tok), o, cfg));
}

}  // namespace paddock::engine
