// Shared by the grammar tests: the real Llama 3 vocabulary (128k tokens, unpacked from the
// tokenizer tests' committed fixture at configure time) and its token trie, loaded once.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/engine.h"
#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

namespace paddock::engine::testing {

using grammar::TokenTrie;

inline std::shared_ptr<const tokenizer::Tokenizer> llama3() {
  static auto tok = [] {
    auto t = tokenizer::Tokenizer::from_file(std::string(PADDOCK_GRAMMAR_VOCAB_DIR) + "/llama3/tokenizer.json");
    EXPECT_TRUE(t.ok()) << t.error().message();
    return t.ok() ? std::shared_ptr<const tokenizer::Tokenizer>(std::move(*t)) : nullptr;
  }();
  return tok;
}

inline std::shared_ptr<const TokenTrie> llama3_trie() {
  static auto trie = [] {
    auto tok = llama3();
    return tok ? build_token_trie(*tok, tok->n_vocab()) : nullptr;
  }();
  return trie;
}

}  // namespace paddock::engine::testing
