// Structured output through the engine loop, on a small random-weight llama written by our GGUF
// writer: format "json" and a finite schema give parseable, schema-valid output (or a valid
// prefix when cut by length); greedy and seeded runs are reproducible, alone or batched with
// unconstrained sequences and under preemption; logprobs describe the masked distribution.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "engine_fixture.h"
#include "gguf/gguf.h"

namespace paddock::engine {
namespace {

using namespace paddock::grammar;  // what these tests exercise (src/grammar)

using json = nlohmann::json;

using test_support::ModelFixture;
using test_support::Outcome;

const ModelFixture& fixture() {
  static ModelFixture* f = [] {
    gguf::TinyLlamaSpec spec;
    spec.n_ctx = 512;
    spec.seed = 11;
    return test_support::make_model_fixture(gguf::make_tiny_llama(spec));
  }();
  return *f;
}

std::unique_ptr<Engine> make_engine(Options o) { return test_support::start_engine(fixture(), o); }

std::shared_ptr<const Grammar> grammar(const json& format) {
  auto g = compile_format(format);
  EXPECT_TRUE(g.ok()) << g.error().message();
  return *g;
}

// A schema whose documents are finite: a random model must complete it.
const json& finite_schema() {
  static const json s = json::parse(R"({
    "type": "object",
    "properties": {"color": {"enum": ["red", "green", "blue"]}, "ok": {"type": "boolean"},
                   "size": {"enum": [1, 2, 3]}, "tags": {"type": "array", "items": {"enum": ["x", "y"]}, "maxItems": 2}},
    "required": ["color", "ok", "size"], "additionalProperties": false})");
  return s;
}

bool valid_finite(const json& v) {
  if (!v.is_object()) return false;
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it.key() != "color" && it.key() != "ok" && it.key() != "size" && it.key() != "tags") return false;
  if (!v.contains("color") || !v.contains("ok") || !v.contains("size")) return false;
  const std::string c = v["color"].is_string() ? v["color"].get<std::string>() : "";
  if (c != "red" && c != "green" && c != "blue") return false;
  if (!v["ok"].is_boolean()) return false;
  if (!v["size"].is_number_integer() || v["size"] < 1 || v["size"] > 3) return false;
  if (v.contains("tags")) {
    if (!v["tags"].is_array() || v["tags"].size() > 2) return false;
    for (const json& t : v["tags"])
      if (t != "x" && t != "y") return false;
  }
  return true;
}

Request request(const std::string& prompt, std::shared_ptr<const Grammar> g, float temperature, int64_t seed, int32_t n) {
  Request r;
  r.prompt = fixture().tok->encode(prompt, true, false);
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.num_predict = n;
  r.grammar = std::move(g);
  return r;
}

std::vector<std::unique_ptr<Outcome>> run_all(Engine& e, const std::vector<Request>& reqs) {
  std::vector<std::unique_ptr<Outcome>> outs;
  for (const Request& r : reqs) {
    outs.push_back(std::make_unique<Outcome>());
    auto id = e.submit(r, outs.back()->sink());
    EXPECT_TRUE(id.ok()) << id.error().message();
  }
  for (auto& o : outs) {
    o->wait();
    EXPECT_EQ(o->error, "");
  }
  return outs;
}

std::vector<Request> workload() {
  std::vector<Request> reqs;
  const char* prompts[] = {"give me json", "the model is a test of the world", "hello", "I am a test of you and the world"};
  for (int i = 0; i < 4; ++i) {
    reqs.push_back(request(prompts[i], grammar(finite_schema()), i % 2 ? 0.0f : 0.9f, 40 + i, 300));
    reqs.push_back(request(prompts[i], grammar("json"), i % 2 ? 0.9f : 0.0f, 50 + i, 120));
    reqs.push_back(request(prompts[i], nullptr, 0.8f, 60 + i, 24));  // unconstrained neighbours
  }
  return reqs;
}

void check_outputs(const std::vector<Request>& reqs, const std::vector<std::unique_ptr<Outcome>>& outs) {
  for (size_t i = 0; i < reqs.size(); ++i) {
    const Outcome& o = *outs[i];
    if (!reqs[i].grammar) continue;
    if (i % 3 == 0) {  // the finite schema always completes
      ASSERT_EQ(o.reason, "stop") << o.text;
      json v = json::parse(o.text, nullptr, false);
      ASSERT_FALSE(v.is_discarded()) << o.text;
      EXPECT_TRUE(valid_finite(v)) << o.text;
    } else if (o.reason == "stop") {
      json v = json::parse(o.text, nullptr, false);
      ASSERT_FALSE(v.is_discarded()) << o.text;
      EXPECT_TRUE(v.is_object()) << o.text;
    } else {
      ASSERT_EQ(o.reason, "length");
      GrammarMatcher m(reqs[i].grammar);
      EXPECT_TRUE(m.accept(o.text)) << "not a JSON prefix: " << o.text;
    }
  }
}

TEST(StructuredOutput, JsonAndSchemaOutputsAreValidAndReproducible) {
  auto reqs = workload();
  // Solo runs are the reference.
  std::vector<std::vector<int32_t>> want;
  {
    auto e = make_engine({.max_seqs = 1, .num_ctx = 512, .step_token_budget = 512, .prefix_cache = false});
    for (const Request& r : reqs) {
      auto outs = run_all(*e, {r});
      want.push_back(outs[0]->tokens);
    }
  }
  auto e = make_engine({.max_seqs = 6, .num_ctx = 512, .step_token_budget = 64});
  auto outs = run_all(*e, reqs);
  check_outputs(reqs, outs);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(outs[i]->tokens, want[i]) << "request " << i;
  int stops = 0;
  for (size_t i = 1; i < reqs.size(); i += 3) stops += outs[i]->reason == "stop";
  std::printf("format json: %d of %zu completed within num_predict\n", stops, reqs.size() / 3);
  // Preemption by recompute keeps the grammar state with the sequence.
  auto tight = make_engine({.max_seqs = 6, .num_ctx = 320, .step_token_budget = 32, .kv_block_size = 16,
                            .kv_blocks = 24});
  std::vector<Request> fit;
  std::vector<std::vector<int32_t>> fit_want;
  for (size_t i = 0; i < reqs.size(); ++i) {
    Request r = reqs[i];
    r.num_predict = std::min(r.num_predict, 200);
    fit.push_back(std::move(r));
    fit_want.push_back(std::vector<int32_t>(want[i].begin(), want[i].begin() + std::min<size_t>(want[i].size(), 200)));
  }
  auto outs2 = run_all(*tight, fit);
  for (size_t i = 0; i < fit.size(); ++i) EXPECT_EQ(outs2[i]->tokens, fit_want[i]) << "request " << i;
  EXPECT_GT(tight->stats().preemptions, 0u);
  EXPECT_EQ(tight->stats().kv_blocks_free, tight->stats().kv_blocks_total);
}

TEST(StructuredOutput, LogprobsDescribeTheMaskedDistribution) {
  auto e = make_engine({.max_seqs = 2, .num_ctx = 512});
  Request r = request("hello", grammar(finite_schema()), 0.7f, 5, 300);
  r.top_logprobs = 5;
  auto outs = run_all(*e, {r});
  const Outcome& o = *outs[0];
  ASSERT_EQ(o.reason, "stop");
  GrammarMatcher m(r.grammar);
  auto trie = build_token_trie(*fixture().tok, e->info().n_vocab);
  for (size_t i = 0; i < o.tokens.size(); ++i) {
    ASSERT_FALSE(o.logprobs[i].empty());
    EXPECT_EQ(o.logprobs[i][0].token, o.tokens[i]);
    double mass = 0;
    for (size_t k = 1; k < o.logprobs[i].size(); ++k) {
      const TokenLogprob& lp = o.logprobs[i][k];
      if (std::isinf(lp.logprob)) continue;  // fewer allowed tokens than asked for
      EXPECT_TRUE(m.allows_token(*trie, lp.token)) << "step " << i << ": disallowed token " << lp.token << " reported";
      mass += std::exp(lp.logprob);
    }
    EXPECT_LE(mass, 1.0 + 1e-4);
    if (trie->kind(o.tokens[i]) == TokenTrie::Kind::kText) {
      ASSERT_TRUE(m.accept(trie->piece(o.tokens[i])));
    }
  }
  EXPECT_TRUE(m.is_complete());
}

TEST(StructuredOutput, CutByTheContextLeavesAValidPrefix) {
  // A document longer than the context: the sequence ends with "length" and what was produced
  // is a prefix the grammar accepts.
  auto e = make_engine({.max_seqs = 1, .num_ctx = 64});
  Request r = request("hi", grammar(json::parse(R"({"type":"string","minLength":1000})")), 0.0f, 1, -1);
  auto outs = run_all(*e, {r});
  EXPECT_EQ(outs[0]->reason, "length");
  GrammarMatcher m(r.grammar);
  EXPECT_TRUE(m.accept(outs[0]->text)) << outs[0]->text;
}

}  // namespace
}  // namespace paddock::engine
