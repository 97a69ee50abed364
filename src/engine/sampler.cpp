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

Sampler::Sampler(const SamplingOptions& o, int32_t n_vocab, int32_t num_ctx) : o_(o), n_vocab_(n_vocab) {
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
    float count = static_cast<float>(j - i);
    x.logit = x.logit <= 0 ? x.logit * repeat : x.logit / repeat;
    x.logit -= count * freq + presence;
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
  softmax(c);
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += c[i].p;
    if (cum >= p) {
      c.resize(i + 1);
      return;
    }
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

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  assert(static_cast<int32_t>(logits.size()) == n_vocab_);
  cand_.resize(n_vocab_);
  for (int32_t i = 0; i < n_vocab_; ++i) cand_[i] = {i, std::isnan(logits[i]) ? kNegInf : logits[i], 0.0f};
  for (const auto& [id, bias] : o_.logit_bias) cand_[id].logit += bias;
  if (window_ > 0) {
    size_t n = std::min<size_t>(window_, history.size());
    penalize(cand_, history.subspan(history.size() - n), o_.repeat_penalty, o_.frequency_penalty,
             o_.presence_penalty);
  }
  if (o_.temperature <= 0.0f) {
    return std::min_element(cand_.begin(), cand_.end(), by_logit)->id;
  }
  top_k(cand_, o_.top_k);
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
    if (!std::isnan(l)) max = std::max(max, l);
  double sum = 0;
  for (float l : logits)
    if (!std::isnan(l)) sum += std::exp(static_cast<double>(l) - max);
  const double lse = max == kNegInf ? 0.0 : max + std::log(sum);
  auto lp = [&](int32_t id) {
    float l = logits[id];
    return std::isnan(l) ? kNegInf : static_cast<float>(l - lse);
  };
  out.emplace_back(chosen, lp(chosen));
  top_n = std::min(top_n, n);
  if (top_n <= 0) return;
  std::vector<int32_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  auto cmp = [&](int32_t a, int32_t b) { return lp(a) > lp(b) || (lp(a) == lp(b) && a < b); };
  std::partial_sort(ids.begin(), ids.begin() + top_n, ids.end(), cmp);
  for (int32_t i = 0; i < top_n; ++i) out.emplace_back(ids[i], lp(ids[i]));
}

}  // namespace paddock::engine
