// tokenizer_bench: tokenization throughput (MB/s) of our tokenizer on a deterministic 10 MB
// mixed-language text (English, code, Chinese, Japanese, Russian, Arabic, digits, emoji) for the
// llama3 and qwen3 vocabularies. bench/tokenizer_bench.mjs runs it next to llama.cpp's tokenizer
// (node-llama-cpp) on the same text: this program also writes the text, our ids, and for each
// vocabulary a tiny llama GGUF carrying that vocabulary, which llama.cpp loads.
//
//   tokenizer_bench --vocab-dir DIR [--mb 10] [--runs 3] [--out DIR]
// DIR holds <vocab>/tokenizer.json (+ tokenizer_config.json); --out writes text.txt,
// <vocab>.ids (int32 little-endian) and <vocab>.gguf. Prints one JSON line per vocabulary.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "tokenizer/tokenizer.h"
#include "util/utf8.h"

namespace {

using namespace paddock;

struct Rng {
  uint64_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 11);
  }
  uint32_t below(uint32_t n) { return next() % n; }
};

const char* const kEnglish[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
    "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
    "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would",
    "who", "so", "no", "model", "server", "request", "token", "memory", "latency", "throughput", "network",
    "tokenizer", "vocabulary", "streaming", "inference", "quantization", "attention", "context", "batch",
    "scheduler", "Kubernetes", "deployment", "configuration", "don't", "it's", "we'll", "they're", "I've",
    "Paris", "London", "Tokyo", "Monday", "January", "government", "university", "development", "information",
    "international", "environment", "understanding", "approximately", "nevertheless", "extraordinary"};
const char* const kCode[] = {
    "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\n", "def forward(self, x):\n    return self.proj(x) + x\n",
    "if err != nil {\n\treturn nil, fmt.Errorf(\"open %s: %w\", path, err)\n}\n", "const result = await fetch(url, { method: \"POST\" });\n",
    "std::vector<int32_t> ids = tok->encode(text, true, false);\n", "SELECT name, COUNT(*) FROM users GROUP BY name;\n",
    "    // TODO: handle the empty case\n", "#include <stdio.h>\n", "x = [i**2 for i in range(10) if i % 2 == 0]\n",
    "<div class=\"container\"><p>Hello</p></div>\n", "{\"model\": \"llama3\", \"stream\": true, \"options\": {\"temperature\": 0.7}}\n"};
const char* const kRussian[] = {"привет", "мир", "модель", "сервер", "запрос", "память", "время", "работа", "система",
                                "данные", "быстро", "сегодня", "который", "может", "чтобы", "также", "очень"};
const char* const kArabic[] = {"مرحبا", "العالم", "نموذج", "خادم", "طلب", "الذاكرة", "الوقت", "العمل", "النظام", "البيانات"};
const char* const kJapanese[] = {"こんにちは", "世界", "モデル", "サーバー", "リクエスト", "メモリ", "時間", "東京", "ありがとう", "です", "ます"};
const char* const kEmoji[] = {"🙂", "🚀", "👍🏽", "👨‍👩‍👧", "🔥", "✅", "❤️", "🇯🇵"};

template <size_t N>
const char* pick(Rng& r, const char* const (&a)[N]) {
  return a[r.below(N)];
}

std::string make_text(size_t bytes) {
  Rng r{0x5eed1234abcdULL};
  std::string t;
  t.reserve(bytes + 256);
  while (t.size() < bytes) {
    uint32_t k = r.below(100);
    if (k < 50) {  // an English sentence
      int n = 5 + static_cast<int>(r.below(15));
      for (int i = 0; i < n; ++i) {
        std::string w = pick(r, kEnglish);
        if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
        t += w;
        t += i + 1 < n ? (r.below(12) == 0 ? ", " : " ") : ". ";
      }
      if (r.below(6) == 0) t += "\n\n";
    } else if (k < 65) {
      t += pick(r, kCode);
    } else if (k < 75) {  // Chinese: common CJK ideographs
      int n = 10 + static_cast<int>(r.below(30));
      for (int i = 0; i < n; ++i) utf8::append(t, 0x4E00 + r.below(3000));
      t += "。";
    } else if (k < 80) {
      for (int i = 0; i < 6; ++i) t += pick(r, kJapanese);
      t += "。";
    } else if (k < 88) {
      for (int i = 0; i < 8; ++i) (t += pick(r, kRussian)) += ' ';
    } else if (k < 93) {
      for (int i = 0; i < 6; ++i) (t += pick(r, kArabic)) += ' ';
    } else if (k < 97) {
      t += std::to_string(r.next() % 100000) + "." + std::to_string(r.below(100)) + " ";
    } else {
      (t += pick(r, kEmoji)) += ' ';
    }
  }
  // Cut on a character boundary.
  t.resize(utf8::complete_prefix(std::string_view(t).substr(0, bytes)));
  return t;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A tiny llama model (random weights from gguf::make_tiny_llama) whose vocabulary is `kv`.
Status write_vocab_model(const tokenizer::MetadataKv& kv, int64_t n_vocab, const std::string& path) {
  gguf::TinyLlamaSpec spec;
  spec.tied_output = true;
  ASSIGN_OR_RETURN(gguf::Writer tiny, gguf::make_tiny_llama(spec));
  ASSIGN_OR_RETURN(std::string bytes, tiny.serialize());
  ASSIGN_OR_RETURN(gguf::File f, gguf::File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
  gguf::Writer w;
  w.copy_metadata(f);
  for (const auto& [k, v] : f.kv())
    if (k.rfind("tokenizer.", 0) == 0) w.erase(k);
  for (const auto& [k, v] : kv) w.set(k, v);
  w.set("llama.vocab_size", gguf::Value::u32(static_cast<uint32_t>(n_vocab)));
  for (const auto& t : f.tensors()) {
    if (t.name == "token_embd.weight") {
      const auto f16 = static_cast<uint32_t>(quant::Type::F16);
      RETURN_IF_ERROR(w.add_tensor_producer(t.name, f16, {t.ne[0], n_vocab}, [](std::span<uint8_t> out) {
        std::memset(out.data(), 0, out.size());
        return Status::Ok();
      }));
    } else {
      std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
      RETURN_IF_ERROR(w.add_tensor(t.name, t.type, ne, std::span<const uint8_t>(t.data, t.nbytes)));
    }
  }
  return w.write(path);
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab_dir, out_dir;
  double mb = 10;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--vocab-dir" && i + 1 < argc) vocab_dir = argv[++i];
    else if (a == "--out" && i + 1 < argc) out_dir = argv[++i];
    else if (a == "--mb" && i + 1 < argc) mb = std::atof(argv[++i]);
    else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: tokenizer_bench --vocab-dir DIR [--mb 10] [--runs 3] [--out DIR]\n");
      return 2;
    }
  }
  if (vocab_dir.empty() || mb <= 0 || runs <= 0) {
    std::fprintf(stderr, "usage: tokenizer_bench --vocab-dir DIR [--mb 10] [--runs 3] [--out DIR]\n");
    return 2;
  }
  const std::string text = make_text(static_cast<size_t>(mb * 1e6));
  if (!out_dir.empty()) std::ofstream(out_dir + "/text.txt", std::ios::binary) << text;
  for (const char* name : {"llama3", "qwen3"}) {
    const std::string dir = vocab_dir + "/" + name + "/";
    const std::string tj = slurp(dir + "tokenizer.json"), tc = slurp(dir + "tokenizer_config.json");
    auto kv = tokenizer::hf_to_gguf_metadata(tj, tc);
    if (!kv.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, kv.error().message().c_str());
      return 1;
    }
    auto tok = tokenizer::Tokenizer::from_metadata(*kv);
    if (!tok.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, tok.error().message().c_str());
      return 1;
    }
    (*tok)->encode(std::string_view(text).substr(0, 100000), false, false);  // warm up
    double best = 1e30;
    std::vector<int32_t> ids;
    for (int r = 0; r < runs; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      ids = (*tok)->encode(text, false, false);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("{\"impl\": \"paddock\", \"vocab\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.4f, \"mb_per_s\": %.2f}\n",
                name, text.size(), ids.size(), best, static_cast<double>(text.size()) / 1e6 / best);
    std::fflush(stdout);
    if (!out_dir.empty()) {
      std::ofstream(out_dir + "/" + name + ".ids", std::ios::binary)
          .write(reinterpret_cast<const char*>(ids.data()), static_cast<std::streamsize>(ids.size() * sizeof(int32_t)));
      Status st = write_vocab_model(*kv, (*tok)->n_vocab(), out_dir + "/" + name + ".gguf");
      if (!st.ok()) {
        std::fprintf(stderr, "%s: writing the GGUF: %s\n", name, st.error().message().c_str());
        return 1;
      }
    }
  }
  return 0;
}
