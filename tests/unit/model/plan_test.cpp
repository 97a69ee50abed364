// Memory planned at load (KvOptions' step plan): init_kv allocates the activations of the largest
// step, a step at the plan allocates nothing more (so a GPU step can be captured as a graph),
// a step past the plan is an error naming both numbers, and an impossible plan fails at load.
#include <gtest/gtest.h>

#include "model/model.h"
#include "test_model.h"

namespace paddock {
namespace {

struct Loaded {
  std::string bytes;
  std::unique_ptr<Model> model;
};

Loaded load(const std::string& spec_str) {
  Loaded l;
  auto spec = testing::parse_test_model_spec(spec_str);
  EXPECT_TRUE(spec.ok());
  auto w = testing::make_test_model(*spec);
  EXPECT_TRUE(w.ok());
  l.bytes = *w->serialize();
  auto f = gguf::File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(l.bytes.data()), l.bytes.size()));
  EXPECT_TRUE(f.ok());
  auto m = Model::load(std::make_shared<const gguf::File>(std::move(*f)), LoadOptions{1, "cpu"});
  EXPECT_TRUE(m.ok());
  l.model = std::move(*m);
  return l;
}

Batch one_seq(int32_t n, int32_t rows) {
  Batch b;
  for (int32_t i = 0; i < n; ++i) {
    b.tokens.push_back(3 + i % 50);
    b.positions.push_back(i);
  }
  b.seq_start = {0, n};
  b.seq_kv_len = {n};
  b.max_blocks = 8;
  for (int32_t j = 0; j < 8; ++j) b.block_tables.push_back(j);
  for (int32_t r = 0; r < rows; ++r) b.logit_rows.push_back(n - rows + r);
  return b;
}

TEST(StepPlan, AStepAtThePlanAllocatesNothing) {
  Loaded l = load("llama:q8_0");
  Model& m = *l.model;
  ASSERT_TRUE(m.init_kv({.block_size = 16, .n_blocks = 8, .max_step_tokens = 40, .max_logit_rows = 3}).ok());
  const uint64_t at_load = m.buffer_allocations();
  EXPECT_GT(at_load, 0u);
  std::vector<float> logits(3 * static_cast<size_t>(m.info().n_vocab));
  ASSERT_TRUE(m.forward(one_seq(40, 3), logits).ok());  // the largest step the plan allows
  ASSERT_TRUE(m.forward(one_seq(7, 1), logits).ok());
  std::vector<float> hidden(40 * static_cast<size_t>(m.info().n_embd));
  ASSERT_TRUE(m.forward_hidden(one_seq(40, 40), hidden).ok());  // hidden rows: up to the step's tokens
  EXPECT_EQ(m.buffer_allocations(), at_load);
}

TEST(StepPlan, AStepPastThePlanIsAnErrorNamingBothNumbers) {
  Loaded l = load("llama:q8_0");
  Model& m = *l.model;
  ASSERT_TRUE(m.init_kv({.block_size = 16, .n_blocks = 8, .max_step_tokens = 32, .max_logit_rows = 2}).ok());
  std::vector<float> logits(4 * static_cast<size_t>(m.info().n_vocab));
  auto st = m.forward(one_seq(33, 1), logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("33 tokens"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find("32"), std::string::npos) << st.error().message();
  st = m.forward(one_seq(10, 3), logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("3 logit rows"), std::string::npos) << st.error().message();
}

TEST(StepPlan, AnImpossiblePlanFailsAtLoadWithTheNumbers) {
  Loaded l = load("llama:q8_0");
  auto st = l.model->init_kv({.block_size = 16, .n_blocks = 8, .max_step_tokens = 1 << 30, .max_logit_rows = 1 << 30});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find(std::to_string(1 << 30)), std::string::npos) << st.error().message();
  Loaded l2 = load("llama:q8_0");
  st = l2.model->init_kv({.block_size = 16, .n_blocks = 8, .max_step_tokens = 4, .max_logit_rows = 5});
  ASSERT_FALSE(st.ok());  // more logit rows than tokens
}

}  // namespace
}  // namespace paddock
