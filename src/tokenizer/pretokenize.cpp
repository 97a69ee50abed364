// pretokenize: the table of known pre-tokenizers and the PCRE2-backed regex splitter.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include "util/utf8.h"

namespace paddock::tokenizer {
namespace {

// Regexes in Hugging Face tokenizer.json spelling (facts about each model family's tokenizer).
const char* const kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kDeepseekV3a = R"(\p{N}{1,3})";
const char* const kDeepseekV3b = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
const char* const kDeepseekV3c =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
const char* const kDeepseekLlmLetters =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";
const char* const kGpt2NoTail = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

const std::vector<PreTokenizerSpec>& specs() {
  static const std::vector<PreTokenizerSpec> s = {
      {"llama-bpe", {"llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"}, {kLlama3}, false, true},
      {"dbrx", {"dbrx", "smaug-bpe", "glm4", "chatglm-bpe"}, {kLlama3}, false, false},
      {"qwen2", {"qwen2", "deepseek-r1-qwen", "megrez", "kormo"}, {kQwen2}, true, false},
      {"stablelm2", {"stablelm2", "hunyuan"}, {kQwen2}, false, false},
      {"deepseek-v3", {"deepseek-v3", "hunyuan-dense", "joyai-llm"}, {kDeepseekV3a, kDeepseekV3b, kDeepseekV3c}, false, false},
      {"deepseek-llm", {"deepseek-llm"},
       {"[\r\n]", kDeepseekLlmLetters, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"}, false, false},
      {"gpt-2", {"gpt-2", "phi-2", "mpt", "olmo", "jais", "roberta-bpe", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es",
                 "jina-v2-de", "jina-v2-code", "gigachat", "exaone4", "a.x-4.0", "mellum", "modern-bert", "trillion"},
       {kGpt2}, false, false},
      {"starcoder", {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"}, {"\\p{N}", kGpt2}, false, false},
      {"falcon", {"falcon"}, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2NoTail, "[0-9][0-9][0-9]"}, false, false},
      {"default", {"default"}, {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2NoTail, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false},
  };
  return s;
}

// ECMAScript's \s (WhiteSpace + LineTerminator), which transformers.js uses.
const char* const kJsSpace = "\\t\\n\\x0B\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view name) {
  for (const auto& s : specs())
    for (const auto& n : s.names)
      if (n == name) return &s;
  return nullptr;
}

const PreTokenizerSpec* find_pre_tokenizer_by_regexes(const std::vector<std::string>& regexes) {
  for (const auto& s : specs())
    if (s.regexes == regexes) return &s;
  return nullptr;
}

std::string to_pcre2_pattern(std::string_view hf) {
  std::string src(hf);
  const std::string ci = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
  const std::string ci_js = "(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))";
  for (size_t p; (p = src.find(ci)) != std::string::npos;) src.replace(p, ci.size(), ci_js);
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < src.size(); ++i) {
    char c = src[i];
    if (c == '\\' && i + 1 < src.size()) {
      char d = src[i + 1];
      if (d == 's') {
        out += in_class ? std::string(kJsSpace) : "[" + std::string(kJsSpace) + "]";
      } else if (d == 'S' && !in_class) {
        out += "[^" + std::string(kJsSpace) + "]";
      } else {
        out += c;
        out += d;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < src.size() && src[i + 1] == '^') out += src[++i];
      if (i + 1 < src.size() && src[i + 1] == ']') out += src[++i];  // literal ] first in class
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

struct RegexSplitter::Impl {
  std::vector<pcre2_code*> codes;
  ~Impl() {
    for (auto* c : codes) pcre2_code_free(c);
  }
};

RegexSplitter::~RegexSplitter() = default;

Result<std::unique_ptr<RegexSplitter>> RegexSplitter::create(const std::vector<std::string>& hf_regexes) {
  std::unique_ptr<RegexSplitter> rs(new RegexSplitter());
  rs->impl_ = std::make_unique<Impl>();
  for (const auto& hf : hf_regexes) {
    std::string pat = to_pcre2_pattern(hf);
    int err = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &err,
                                     &erroff, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return make_error(ErrorCode::kInvalidArgument, "pre-tokenizer regex does not compile at offset {}: {}",
                        static_cast<size_t>(erroff), reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
    rs->impl_->codes.push_back(code);
  }
  return rs;
}

void RegexSplitter::split(std::string_view text, std::vector<Piece>* out) const {
  out->clear();
  if (text.empty()) return;
  out->push_back({0, text.size()});
  std::vector<Piece> next;
  for (pcre2_code* code : impl_->codes) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    next.clear();
    next.reserve(out->size() * 2);
    for (const Piece& p : *out) {
      auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + p.off);
      size_t n = p.len, pos = 0, prev = 0;
      while (pos <= n) {
        int rc = pcre2_match(code, subject, n, pos, 0, md, nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)  // JIT stack exhausted: the interpreter uses the heap
          rc = pcre2_match(code, subject, n, pos, PCRE2_NO_JIT, md, nullptr);
        if (rc < 0) break;  // no match (or a resource limit even so: keep the rest whole)
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e == s) {  // empty match: step over one character
          int len = 1;
          utf8::decode(text.substr(p.off), s, &len);
          pos = s + static_cast<size_t>(len);
          continue;
        }
        if (s > prev) next.push_back({p.off + prev, s - prev});
        next.push_back({p.off + s, e - s});
        prev = pos = e;
      }
      if (prev < n) next.push_back({p.off + prev, n - prev});
    }
    pcre2_match_data_free(md);
    out->swap(next);
  }
}

}  // namespace paddock::tokenizer
