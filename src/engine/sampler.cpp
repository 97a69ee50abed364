// Sampler: see sampler.h for the chain and its order. Stages follow llama.cpp's definitions
// (src/llama-sampling.cpp) so that results line up with it and with Ollama.
#include "engine/sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

namespace paddock::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr size_t kMaxLogitBias = 4096;

bool by_logit(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

float penalized(float logit, float count, float repeat, float freq, float presence) {
  logit = logit <= 0 ? logit * repeat : logit / repeat;
  return logit - (count * freq + presence);
}

namespace {

Status range_error(const char* name, double v, const char* range) {
  return make_error(ErrorCode::kInvalidArgument, "option {} = {} is out of range ({})", name, v, range);
}

}  // namespace

Status validate_sampling(const SamplingOptions& o, int32_t n_vocab) {
  if (!std::isfinite(o.temperature) || o.temperature < 0) return range_error("temperature", o.temperature, "finite, >= 0");
  if (o.top_k < 0) return range_error("top_k", o.top_k, ">= 0; 0 = off");
  auto unit = [](float v) { return std::isfinite(v) && v >= 0 && v <= 1; };
  if (!unit(o.top_p)) return range_error("top_p", o.top_p, "0..1");
  if (!unit(o.min_p)) return range_error("min_p", o.min_p, "0..1");
  if (!unit(o.typical_p)) return range_error("typical_p", o.typical_p, "0..1");
  if (!std::isfinite(o.repeat_penalty) || o.repeat_penalty <= 0)
    return range_error("repeat_penalty", o.repeat_penalty, "finite, > 0; 1 = off");
  if (!std::isfinite(o.presence_penalty)) return range_error("presence_penalty", o.presence_penalty, "finite");
  if (!std::isfinite(o.frequency_penalty)) return range_error("frequency_penalty", o.frequency_penalty, "finite");
  if (o.repeat_last_n < -1) return range_error("repeat_last_n", o.repeat_last_n, ">= -1; -1 = num_ctx");
  if (o.logit_bias.size() > kMaxLogitBias)
    return make_error(ErrorCode::kInvalidArgument, "logit_bias has {} entries (at most {})", o.logit_bias.size(),
                      kMaxLogitBias);
  for (const auto& [id, bias] : o.logit_bias) {
    if (id < 0 || id >= n_vocab)
      return make_error(ErrorCode::kInvalidArgument, "logit_bias token {} is not in the vocabulary (0..{})", id,
                        n_vocab - 1);
    if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity())
      return make_error(ErrorCode::kInvalidArgument, "logit_bias for token {} is {}", id, bias);
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplingOptions& o, int32_t n_vocab, int32_t num_ctx)
    : o_(o), n_vocab_(n_vocab), slot_(n_vocab, -1) {
  window_ = o.repeat_last_n < 0 ? num_ctx : std::min(o.repeat_last_n, num_ctx);
  uint64_t seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  rng_.seed(seed);
}

void Sampler::penalize(std::vector<Candidate>& c, std::span<const int32_t> window, float repeat, float freq,
                       float presence) {
  if (window.empty() || (repeat == 1.0f && freq == 0.0f && presence == 0.0f)) return;
  std::vector<int32_t> w(window.begin(), window.end());
  std::sort(w.begin(), w.end());
  for (size_t i = 0; i < w.size();) {
    size_t j = i;
    while (j < w.size() && w[j] == w[i]) ++j;
    Candidate& x = c[w[i]];
    assert(x.id == w[i]);
    x.logit = penalized(x.logit, static_cast<float>(j - i), repeat, freq, presence);
    i = j;
  }
}

void Sampler::softmax(std::vector<Candidate>& c) {
  std::sort(c.begin(), c.end(), by_logit);
  float max = c.front().logit;
  if (max == kNegInf) {  // every token banned: fall back to uniform rather than NaN
    for (Candidate& x : c) x.p = 1.0f / static_cast<float>(c.size());
    return;
  }
  double sum = 0;
  for (Candidate& x : c) {
    x.p = std::exp(x.logit - max);
    sum += x.p;
  }
  for (Candidate& x : c) x.p = static_cast<float>(x.p / sum);
}

void Sampler::top_k(std::vector<Candidate>& c, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= c.size()) return;
  std::partial_sort(c.begin(), c.begin() + k, c.end(), by_logit);
  c.resize(k);
}

void Sampler::typical(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f || c.size() <= 1) return;
  softmax(c);
  double entropy = 0;
  for (const Candidate& x : c)
    if (x.p > 0) entropy -= x.p * std::log(static_cast<double>(x.p));
  std::vector<double> shifted(c.size());
  for (size_t i = 0; i < c.size(); ++i)
    shifted[i] = c[i].p > 0 ? std::fabs(-std::log(static_cast<double>(c[i].p)) - entropy)
                            : std::numeric_limits<double>::infinity();
  std::vector<size_t> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return shifted[a] < shifted[b]; });
  double cum = 0;
  size_t keep = order.size();
  for (size_t i = 0; i < order.size(); ++i) {
    cum += c[order[i]].p;
    if (cum > p) {
      keep = i + 1;
      break;
    }
  }
  std::vector<Candidate> out;
  out.reserve(keep);
  for (size_t i = 0; i < keep; ++i) out.push_back(c[order[i]]);
  c.swap(out);
}

void Sampler::top_p(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f || c.size() <= 1) return;
  // The normalizer needs every token but the cut needs only the most likely ones: sort a head
  // that grows 4x until it holds mass p, instead of sorting the whole vocabulary.
  float max = kNegInf;
  for (const Candidate& x : c) max = std::max(max, x.logit);
  double sum = 0;
  if (max != kNegInf)
    for (const Candidate& x : c) sum += std::exp(x.logit - max);
  size_t head = std::min<size_t>(256, c.size());
  for (;;) {
    std::partial_sort(c.begin(), c.begin() + static_cast<ptrdiff_t>(head), c.end(), by_logit);
    double cum = 0;
    for (size_t i = 0; i < head; ++i) {
      cum += max == kNegInf ? 1.0 / static_cast<double>(c.size()) : std::exp(c[i].logit - max) / sum;
      if (cum >= p) {
        c.resize(i + 1);
        return;
      }
    }
    if (head == c.size()) return;  // rounding kept the total below p: keep everything
    head = std::min(head * 4, c.size());
  }
}

void Sampler::min_p(std::vector<Candidate>& c, float p) {
  if (p <= 0.0f || c.size() <= 1) return;
  float max = kNegInf;
  for (const Candidate& x : c) max = std::max(max, x.logit);
  float threshold = max + std::log(p);
  // The max itself always passes (log p <= 0), so at least one candidate stays.
  c.erase(std::remove_if(c.begin(), c.end(), [&](const Candidate& x) { return x.logit < threshold; }), c.end());
}

void Sampler::temperature(std::vector<Candidate>& c, float t) {
  for (Candidate& x : c) x.logit /= t;
}

size_t Sampler::draw(const std::vector<Candidate>& c, double u) {
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += c[i].p;
    if (u < cum) return i;
  }
  // Rounding left u above the total: the last token with any probability.
  for (size_t i = c.size(); i-- > 0;)
    if (c[i].p > 0) return i;
  return 0;
}

void Sampler::set_grammar(grammar::GrammarMatcher* matcher, const grammar::TokenTrie* trie, bool always_mask) {
  assert((matcher == nullptr) == (trie == nullptr));
  assert(trie == nullptr || trie->n_vocab() == n_vocab_);
  matcher_ = matcher;
  trie_ = trie;
  always_mask_ = always_mask;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  masked_used_ = false;
  if (matcher_ == nullptr) return sample_plain(logits, history);
  if (!always_mask_) {
    int32_t t = sample_plain(logits, history);
    if (matcher_->allows_token(*trie_, t)) return t;
  }
  ++n_full_masks_;
  if (matcher_->fill_mask(*trie_, allowed_) == 0) return -1;
  masked_.resize(static_cast<size_t>(n_vocab_));
  for (int32_t id = 0; id < n_vocab_; ++id) masked_[id] = allowed_[id] ? logits[id] : kNegInf;
  masked_used_ = true;
  int32_t t = sample_plain(masked_, history);
  if (allowed_[t]) return t;
  // Every allowed token had a -inf (or NaN) logit: the chain fell back to a banned one. Take the
  // lowest allowed id, as a greedy pass over equal logits would.
  for (int32_t id = 0; id < n_vocab_; ++id)
    if (allowed_[id]) return id;
  return -1;
}

int32_t Sampler::sample_plain(std::span<const float> logits, std::span<const int32_t> history) {
  assert(static_cast<int32_t>(logits.size()) == n_vocab_);
  // Bias and penalties touch few tokens: keep them sparse (adj_, indexed through slot_), so the
  // vocabulary is only scanned, never copied, unless no top_k bounds the candidate set.
  auto raw = [&](int32_t id) { return std::isnan(logits[id]) ? kNegInf : logits[id]; };
  auto touch = [&](int32_t id) -> Candidate& {
    if (slot_[id] < 0) {
      slot_[id] = static_cast<int32_t>(adj_.size());
      adj_.push_back({id, raw(id), 0.0f});
    }
    return adj_[slot_[id]];
  };
  adj_.clear();
  for (const auto& [id, bias] : o_.logit_bias) touch(id).logit += bias;
  const bool penalties = o_.repeat_penalty != 1.0f || o_.frequency_penalty != 0.0f || o_.presence_penalty != 0.0f;
  if (window_ > 0 && penalties && !history.empty()) {
    size_t n = std::min<size_t>(window_, history.size());
    win_.assign(history.end() - static_cast<ptrdiff_t>(n), history.end());
    std::sort(win_.begin(), win_.end());
    for (size_t i = 0; i < win_.size();) {
      size_t j = i;
      while (j < win_.size() && win_[j] == win_[i]) ++j;
      Candidate& x = touch(win_[i]);
      x.logit = penalized(x.logit, static_cast<float>(j - i), o_.repeat_penalty, o_.frequency_penalty,
                          o_.presence_penalty);
      i = j;
    }
  }
  auto value = [&](int32_t id) { return slot_[id] >= 0 ? adj_[slot_[id]].logit : raw(id); };

  int32_t result = -1;
  if (o_.temperature <= 0.0f) {
    // Argmax over untouched tokens (a strict > keeps the lowest id on ties; NaN never wins),
    // then the adjusted ones.
    Candidate best{-1, kNegInf, 0.0f};
    for (int32_t id = 0; id < n_vocab_; ++id) {
      if (logits[id] > best.logit && slot_[id] < 0) best = {id, logits[id], 0.0f};
    }
    for (const Candidate& x : adj_)
      if (best.id < 0 || by_logit(x, best)) best = x;
    if (best.id < 0 || best.logit == kNegInf) best.id = 0;  // all -inf: lowest id, as a full sort would
    result = best.id;
  } else if (o_.top_k > 0 && o_.top_k < n_vocab_) {
    // Top-k by a bounded heap whose front is the worst kept candidate. Once full, a token is only
    // looked at when its logit reaches the front's (NaN never does).
    const auto k = static_cast<size_t>(o_.top_k);
    cand_.clear();
    auto offer = [&](const Candidate& x) {
      if (cand_.size() < k) {
        cand_.push_back(x);
        std::push_heap(cand_.begin(), cand_.end(), by_logit);
      } else if (by_logit(x, cand_.front())) {
        std::pop_heap(cand_.begin(), cand_.end(), by_logit);
        cand_.back() = x;
        std::push_heap(cand_.begin(), cand_.end(), by_logit);
      }
    };
    for (int32_t id = 0; id < n_vocab_; ++id) {
      if (cand_.size() == k && !(logits[id] >= cand_.front().logit)) continue;
      if (slot_[id] >= 0) continue;
      offer({id, raw(id), 0.0f});
    }
    for (const Candidate& x : adj_) offer(x);
  } else {
    cand_.resize(n_vocab_);
    for (int32_t id = 0; id < n_vocab_; ++id) cand_[id] = {id, value(id), 0.0f};
  }
  for (const Candidate& c : adj_) slot_[c.id] = -1;
  if (result >= 0) return result;

  typical(cand_, o_.typical_p);
  top_p(cand_, o_.top_p);
  min_p(cand_, o_.min_p);
  temperature(cand_, o_.temperature);
  softmax(cand_);
  double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // uniform [0, 1), same on every platform
  return cand_[draw(cand_, u)].id;
}

void compute_logprobs(std::span<const float> logits, int32_t chosen, int32_t top_n,
                      std::vector<std::pair<int32_t, float>>& out) {
  out.clear();
  const int32_t n = static_cast<int32_t>(logits.size());
  float max = kNegInf;
  for (float l : logits)
    if (l > max) max = l;  // NaN never compares greater
  double sum = 0;
  if (max != kNegInf)
    for (float l : logits)
      if (!std::isnan(l)) sum += std::exp(static_cast<double>(l) - max);
  const double lse = max == kNegInf ? 0.0 : max + std::log(sum);
  auto lp = [&](float l) { return std::isnan(l) ? kNegInf : static_cast<float>(l - lse); };
  out.emplace_back(chosen, lp(logits[chosen]));
  top_n = std::min(top_n, n);
  if (top_n <= 0) return;
  // The top_n most likely in one pass over the vocabulary (bounded heap, worst at the front).
  std::vector<Candidate> heap;
  heap.reserve(top_n);
  for (int32_t id = 0; id < n; ++id) {
    Candidate c{id, std::isnan(logits[id]) ? kNegInf : logits[id], 0.0f};
    if (static_cast<int32_t>(heap.size()) < top_n) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), by_logit);
    } else if (by_logit(c, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), by_logit);
      heap.back() = c;
      std::push_heap(heap.begin(), heap.end(), by_logit);
    }
  }
  std::sort(heap.begin(), heap.end(), by_logit);
  for (const Candidate& c : heap) out.emplace_back(c.id, lp(c.logit));
}

}  // namespace paddock::engine
