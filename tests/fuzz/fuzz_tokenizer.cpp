// fuzz_tokenizer: arbitrary bytes as (0) text for a byte-level BPE and a SentencePiece vocabulary
// (encode must round-trip through decode, the stream decoder must emit valid UTF-8), (1) a
// tokenizer.json, (2) a GGUF file whose tokenizer is loaded. Never a crash, hang or sanitizer report.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/utf8.h"

using namespace paddock;
using namespace paddock::tokenizer;

namespace {

std::unique_ptr<Tokenizer> make_bpe() {
  std::vector<std::string> toks;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    std::string s;
    utf8::append(s, printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next++));
    toks.push_back(s);
  }
  for (const char* t : {"he", "ll", "hell", "hello", "\xC4\xA0t", "<|end|>"}) toks.push_back(t);
  std::vector<int32_t> types(toks.size(), 1);
  types.back() = 3;
  MetadataKv kv;
  kv.emplace_back("tokenizer.ggml.model", gguf::Value::str("gpt2"));
  kv.emplace_back("tokenizer.ggml.pre", gguf::Value::str("llama-bpe"));
  kv.emplace_back("tokenizer.ggml.tokens", gguf::Value::str_array(toks));
  kv.emplace_back("tokenizer.ggml.token_type", gguf::Value::i32_array(types));
  kv.emplace_back("tokenizer.ggml.merges", gguf::Value::str_array({"h e", "l l", "he ll", "hell o", "\xC4\xA0 t"}));
  auto t = Tokenizer::from_metadata(kv);
  if (!t.ok()) std::abort();
  return std::move(t).value();
}

std::unique_ptr<Tokenizer> make_spm() {
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    toks.push_back(buf);
  }
  for (const char* t : {"\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab"}) toks.push_back(t);
  std::vector<int32_t> types(toks.size(), 1);
  types[0] = 2;
  types[1] = types[2] = 3;
  for (int b = 0; b < 256; ++b) types[3 + static_cast<size_t>(b)] = 6;
  std::vector<float> scores(toks.size(), 0.f);
  scores[toks.size() - 3] = -1;
  scores[toks.size() - 2] = -2;
  scores[toks.size() - 1] = -3;
  MetadataKv kv;
  kv.emplace_back("tokenizer.ggml.model", gguf::Value::str("llama"));
  kv.emplace_back("tokenizer.ggml.tokens", gguf::Value::str_array(toks));
  kv.emplace_back("tokenizer.ggml.scores", gguf::Value::f32_array(scores));
  kv.emplace_back("tokenizer.ggml.token_type", gguf::Value::i32_array(types));
  auto t = Tokenizer::from_metadata(kv);
  if (!t.ok()) std::abort();
  return std::move(t).value();
}

void check_text(const Tokenizer& tok, std::string_view text) {
  auto ids = tok.encode(text, true, text.size() % 2 == 0);
  for (int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab()) std::abort();
  auto plain = tok.encode(text, false, false);
  std::string back = tok.decode(plain, false);
  if (back != text && tok.model_name() == "gpt2") std::abort();  // byte-level BPE is lossless
  StreamDecoder sd(tok, true);
  for (int32_t id : ids)
    if (!utf8::is_valid(sd.push(id))) std::abort();
  if (!utf8::is_valid(sd.flush())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto bpe = make_bpe();
  static auto spm = make_spm();
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      check_text(*bpe, rest);
      check_text(*spm, rest);
      break;
    case 1: {
      auto t = Tokenizer::from_hf(std::string(rest));
      if (t.ok()) check_text(**t, "hello world");
      break;
    }
    default: {
      auto f = gguf::File::parse(std::span<const uint8_t>(data + 1, size - 1));
      if (f.ok()) {
        auto t = Tokenizer::from_gguf(*f);
        if (t.ok()) check_text(**t, "hello world");
      }
      break;
    }
  }
  return 0;
}
