// bench/workload: prompt files, synthetic prompts, length distributions and arrival schedules.
#include "bench/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>

#include "util/splitmix.h"

namespace paddock::bench {

using nlohmann::json;

namespace {
constexpr int kMaxLength = 1 << 20;

// Common short English words: one token each in the BPE vocabularies of current models (with
// the leading space), so a synthetic prompt's length in tokens is close to its word count.
constexpr const char* kWords[] = {
    "the",      "of",     "and",   "to",         "in",      "is",    "was",   "for",    "on",     "that",     "with",
    "as",       "by",     "at",    "from",       "his",     "it",    "an",    "were",   "are",    "which",    "this",
    "be",       "or",     "has",   "had",        "first",   "one",   "their", "its",    "new",    "after",    "who",
    "they",     "have",   "her",   "she",        "two",     "been",  "other", "when",   "there",  "all",      "during",
    "into",     "school", "time",  "may",        "years",   "more",  "most",  "only",   "over",   "city",     "some",
    "world",    "would",  "where", "later",      "up",      "such",  "used",  "many",   "can",    "state",    "about",
    "national", "out",    "known", "university", "united",  "then",  "made",  "these",  "season", "american", "between",
    "game",     "while",  "both",  "film",       "through", "under", "three", "team",   "war",    "number",   "area",
    "part",     "also",   "than",  "people",     "series",  "south", "north", "county", "early",  "high",     "year",
    "music",    "work",   "well",  "since",      "being",
};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

int clamp_length(double v) {
  if (!std::isfinite(v)) return 1;
  return static_cast<int>(std::clamp(std::llround(v), 1ll, static_cast<long long>(kMaxLength)));
}
}  // namespace

double Rng::uniform() { return static_cast<double>(splitmix64(s_) >> 11) * (1.0 / 9007199254740992.0); }

double Rng::normal() {
  // Box-Muller: one of the pair (the other is dropped to keep the stream simple).
  const double u1 = 1.0 - uniform(), u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

int Rng::draw(const LengthDist& d) {
  switch (d.kind) {
    case LengthDist::Kind::kFixed: return clamp_length(d.a);
    case LengthDist::Kind::kUniform: {  // integers a..b inclusive
      const double lo = std::round(d.a), hi = std::round(d.b);
      return clamp_length(lo + std::floor(uniform() * (hi - lo + 1)));
    }
    case LengthDist::Kind::kNormal: return clamp_length(d.a + d.b * normal());
    case LengthDist::Kind::kExponential: return clamp_length(-d.a * std::log(1.0 - uniform()));
  }
  return 1;
}

std::string synthetic_text(int words, Rng& rng) {
  std::string s;
  s.reserve(static_cast<size_t>(words) * 6);
  for (int i = 0; i < words; ++i) {
    if (i) s += ' ';
    s += kWords[static_cast<size_t>(rng.uniform() * kNumWords) % kNumWords];
  }
  return s;
}

std::vector<Prompt> synthetic_prompts(size_t n, const LengthDist& in, const LengthDist& out, Rng& rng,
                                      double tokens_per_word, double overhead_tokens) {
  std::vector<Prompt> v(n);
  for (auto& p : v) {
    const int tokens = rng.draw(in);
    p.output_tokens = rng.draw(out);
    p.input_words = clamp_length((tokens - overhead_tokens) / std::max(tokens_per_word, 1e-3));
    p.text = synthetic_text(p.input_words, rng);
  }
  return v;
}

Result<std::vector<Prompt>> load_prompts(const std::string& path, const LengthDist& default_out, Rng& rng) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::kNotFound, "cannot open prompt file {}", path);
  std::vector<Prompt> v;
  std::string line;
  uint64_t bytes = 0;
  for (size_t no = 1; std::getline(f, line); ++no) {
    bytes += line.size() + 1;
    if (bytes > kMaxPromptFileBytes)
      return make_error(ErrorCode::kInvalidArgument, "{}: larger than {} bytes", path, kMaxPromptFileBytes);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (v.size() >= kMaxPrompts)
      return make_error(ErrorCode::kInvalidArgument, "{}: more than {} prompts", path, kMaxPrompts);
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return make_error(ErrorCode::kInvalidArgument, "{} line {}: not a JSON object", path, no);
    Prompt p;
    if (auto it = j.find("prompt"); it != j.end()) {
      if (!it->is_string())
        return make_error(ErrorCode::kInvalidArgument, "{} line {}: 'prompt' must be a string", path, no);
      p.text = it->get<std::string>();
    } else if (auto m = j.find("messages"); m != j.end()) {
      if (!m->is_array() || m->empty())
        return make_error(ErrorCode::kInvalidArgument, "{} line {}: 'messages' must be a non-empty array", path, no);
      for (auto& msg : *m)
        if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
          return make_error(ErrorCode::kInvalidArgument, "{} line {}: each message needs a string 'role'", path, no);
      p.messages = *m;
    } else {
      return make_error(ErrorCode::kInvalidArgument, "{} line {}: needs 'prompt' or 'messages'", path, no);
    }
    json len = j.contains("output_tokens") ? j["output_tokens"] : j.value("max_tokens", json());
    if (len.is_null()) {
      p.output_tokens = rng.draw(default_out);
    } else if (len.is_number_integer() && len.get<int64_t>() >= 1 && len.get<int64_t>() <= kMaxLength) {
      p.output_tokens = len.get<int>();
    } else {
      return make_error(ErrorCode::kInvalidArgument, "{} line {}: 'output_tokens' must be an integer in 1..{}", path,
                        no, kMaxLength);
    }
    v.push_back(std::move(p));
  }
  if (v.empty()) return make_error(ErrorCode::kInvalidArgument, "{}: no prompts", path);
  return v;
}

std::vector<double> arrival_times(size_t n, double rate, Arrival arrival, Rng& rng) {
  std::vector<double> t(n);
  double now = 0;
  for (size_t i = 0; i < n; ++i) {
    if (arrival == Arrival::kConstant) {
      t[i] = static_cast<double>(i) / rate;
    } else {
      now += -std::log(1.0 - rng.uniform()) / rate;
      t[i] = now;
    }
  }
  return t;
}

Result<LengthDist> LengthDist::parse(const std::string& text) {
  auto num = [&](const std::string& s, double& out) {
    try {
      size_t used = 0;
      out = std::stod(s, &used);
      return used == s.size() && std::isfinite(out);
    } catch (...) {
      return false;
    }
  };
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid length '{}': expected N, A-B, uniform:A:B, normal:MEAN:SD or exp:MEAN", text);
  };
  std::vector<std::string> parts;
  for (size_t b = 0;;) {
    size_t e = text.find(':', b);
    parts.push_back(text.substr(b, e == std::string::npos ? e : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  LengthDist d;
  if (parts.size() == 1) {
    if (size_t dash = text.find('-'); dash != std::string::npos && dash > 0) {
      d.kind = Kind::kUniform;
      if (!num(text.substr(0, dash), d.a) || !num(text.substr(dash + 1), d.b)) return bad();
    } else if (!num(text, d.a)) {
      return bad();
    }
  } else if (parts.size() == 3 && (parts[0] == "uniform" || parts[0] == "normal")) {
    d.kind = parts[0] == "uniform" ? Kind::kUniform : Kind::kNormal;
    if (!num(parts[1], d.a) || !num(parts[2], d.b)) return bad();
  } else if (parts.size() == 2 && parts[0] == "exp") {
    d.kind = Kind::kExponential;
    if (!num(parts[1], d.a)) return bad();
  } else {
    return bad();
  }
  const bool ok = d.kind == Kind::kUniform  ? (d.a >= 1 && d.b >= d.a && d.b <= kMaxLength)
                  : d.kind == Kind::kNormal ? (d.a >= 1 && d.a <= kMaxLength && d.b >= 0)
                                            : (d.a >= 1 && d.a <= kMaxLength);
  if (!ok)
    return make_error(ErrorCode::kInvalidArgument, "invalid length '{}': lengths must be in 1..{}", text, kMaxLength);
  return d;
}

std::string LengthDist::describe() const {
  switch (kind) {
    case Kind::kFixed: return fmt::format("{:g}", a);
    case Kind::kUniform: return fmt::format("uniform {:g}-{:g}", a, b);
    case Kind::kNormal: return fmt::format("normal mean {:g} sd {:g}", a, b);
    case Kind::kExponential: return fmt::format("exponential mean {:g}", a);
  }
  return "";
}

}  // namespace paddock::bench
