// hf_convert: Hugging Face tokenizer.json (+ tokenizer_config.json) -> GGUF tokenizer metadata.
// Used by Tokenizer::from_hf (so every test of an HF vocabulary also tests this converter) and
// later by the model converter.
#include <algorithm>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace paddock::tokenizer {
namespace {

using gguf::Value;
using gguf::ValueType;
using nlohmann::json;

Value v_str(std::string s) { Value v; v.type = ValueType::kString; v.s = std::move(s); return v; }
Value v_u32(uint32_t x) { Value v; v.type = ValueType::kUint32; v.u = x; return v; }
Value v_bool(bool b) { Value v; v.type = ValueType::kBool; v.u = b ? 1 : 0; return v; }
Value v_arr(ValueType elem, std::vector<Value> items) {
  Value v; v.type = ValueType::kArray; v.elem_type = elem; v.arr = std::move(items); return v;
}
Value v_f32(float f) { Value v; v.type = ValueType::kFloat32; v.f = f; return v; }
Value v_i32(int32_t x) { Value v; v.type = ValueType::kInt32; v.i = x; return v; }

// j[key] without operator[]'s undefined behaviour on a missing key: null if absent.
const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// A token named in tokenizer_config.json: "text" or {"content": "text", ...}.
std::string token_name(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

// Collects the ordered Split regexes of a pre_tokenizer; sets *byte_level if a ByteLevel step is
// present and appends the GPT-2 regex when that step splits (use_regex true).
Status collect_pre(const json& p, std::vector<std::string>* regexes, bool* byte_level) {
  if (p.is_null()) return Status::Ok();
  std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const auto& q : p.value("pretokenizers", json::array())) RETURN_IF_ERROR(collect_pre(q, regexes, byte_level));
  } else if (type == "Split") {
    const json& pat = field(p, "pattern");
    if (field(pat, "Regex").is_string()) {
      if (p.value("invert", false)) return make_error(ErrorCode::kUnsupported, "tokenizer.json: inverted Split pre-tokenizer");
      if (p.value("behavior", "") != "Isolated") return make_error(ErrorCode::kUnsupported, "tokenizer.json: Split behavior '{}'", p.value("behavior", ""));
      regexes->push_back(field(pat, "Regex").get<std::string>());
    }
    // A String split on " " (Gemma) never fires: the normalizer has already replaced spaces.
  } else if (type == "ByteLevel") {
    *byte_level = true;
    if (p.value("add_prefix_space", false)) return make_error(ErrorCode::kUnsupported, "tokenizer.json: ByteLevel add_prefix_space");
    if (p.value("use_regex", true))
      regexes->push_back(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
  } else if (type == "Metaspace") {
    return make_error(ErrorCode::kUnsupported, "tokenizer.json: Metaspace pre-tokenizer");
  } else {
    return make_error(ErrorCode::kUnsupported, "tokenizer.json: pre-tokenizer type '{}'", type);
  }
  return Status::Ok();
}

struct Norm {
  bool nfc = false, prepend = false, replace_space = false;
};
Status collect_norm(const json& n, Norm* out) {
  if (n.is_null()) return Status::Ok();
  std::string type = n.value("type", "");
  if (type == "Sequence") {
    for (const auto& q : n.value("normalizers", json::array())) RETURN_IF_ERROR(collect_norm(q, out));
  } else if (type == "NFC") {
    out->nfc = true;
  } else if (type == "Prepend" && n.value("prepend", "") == "\u2581") {
    out->prepend = true;
  } else if (type == "Replace" && field(field(n, "pattern"), "String") == " " && n.value("content", "") == "\u2581") {
    out->replace_space = true;
  } else {
    return make_error(ErrorCode::kUnsupported, "tokenizer.json: normalizer '{}'", n.dump().substr(0, 200));
  }
  return Status::Ok();
}

// Which special token ids the post-processor puts before / after a single sequence.
void collect_template(const json& p, std::vector<std::string>* before, std::vector<std::string>* after) {
  if (p.is_null()) return;
  std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const auto& q : p.value("processors", json::array())) collect_template(q, before, after);
  } else if (type == "TemplateProcessing") {
    bool seen_seq = false;
    for (const auto& item : p.value("single", json::array())) {
      if (item.contains("Sequence")) {
        seen_seq = true;
      } else if (item.contains("SpecialToken")) {
        std::string id = item["SpecialToken"].value("id", "");
        (seen_seq ? after : before)->push_back(id);
      }
    }
  }
}

Result<MetadataKv> convert(const json& tj, const json& cj) {
  const json& model = tj.at("model");
  if (model.value("type", "") != "BPE")
    return make_error(ErrorCode::kUnsupported, "tokenizer.json model type '{}' is not supported (BPE is)", model.value("type", ""));
  const json& vocab = model.at("vocab");
  if (!vocab.is_object()) return make_error(ErrorCode::kCorrupt, "tokenizer.json: model.vocab is not an object");
  int64_t n = 0;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) return make_error(ErrorCode::kCorrupt, "tokenizer.json: vocab id of '{}' is not an integer", it.key());
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= kMaxVocab) return make_error(ErrorCode::kCorrupt, "tokenizer.json: vocab id {} out of range", id);
    n = std::max(n, id + 1);
  }
  static const json kNoAdded = json::array();
  auto ait = tj.find("added_tokens");
  const json& added = ait != tj.end() && ait->is_array() ? *ait : kNoAdded;
  for (const auto& a : added) {
    int64_t id = a.value("id", int64_t{-1});
    if (id < 0 || id >= kMaxVocab) return make_error(ErrorCode::kCorrupt, "tokenizer.json: added token id {} out of range", id);
    n = std::max(n, id + 1);
  }
  if (n == 0) return make_error(ErrorCode::kCorrupt, "tokenizer.json: empty vocabulary");
  // Ids with no token become "[PADn]" placeholders; a few are normal, millions are an attack.
  if (static_cast<size_t>(n) > 2 * (vocab.size() + added.size()) + 1024)
    return make_error(ErrorCode::kCorrupt, "tokenizer.json: ids go up to {} but only {} tokens are defined", n - 1,
                      vocab.size() + added.size());

  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<TokenType> types(static_cast<size_t>(n), TokenType::kUnused);
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    auto id = static_cast<size_t>(it.value().get<int64_t>());
    if (seen[id]) return make_error(ErrorCode::kCorrupt, "tokenizer.json: id {} used twice", id);
    seen[id] = true;
    tokens[id] = it.key();
    types[id] = TokenType::kNormal;
  }
  std::unordered_map<std::string, int32_t> by_text;
  by_text.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    if (seen[i]) by_text.emplace(tokens[i], static_cast<int32_t>(i));
  for (const auto& a : added) {
    auto id = static_cast<size_t>(a.value("id", int64_t{0}));
    tokens[id] = a.value("content", "");
    seen[id] = true;
    types[id] = a.value("special", false) ? TokenType::kControl : TokenType::kUserDefined;
    by_text[tokens[id]] = static_cast<int32_t>(id);
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!seen[i]) tokens[i] = "[PAD" + std::to_string(i) + "]";

  // Model family.
  std::vector<std::string> regexes;
  bool byte_level = false;
  RETURN_IF_ERROR(collect_pre(tj.value("pre_tokenizer", json()), &regexes, &byte_level));
  if (tj.contains("decoder") && tj["decoder"].is_object() && tj["decoder"].value("type", "") == "ByteLevel") byte_level = true;
  Norm norm;
  RETURN_IF_ERROR(collect_norm(tj.value("normalizer", json()), &norm));
  const bool byte_fallback = model.value("byte_fallback", false);

  MetadataKv kv;
  std::string pre;
  if (byte_level) {
    if (norm.prepend || norm.replace_space) return make_error(ErrorCode::kUnsupported, "tokenizer.json: byte-level BPE with a U+2581 normalizer");
    const PreTokenizerSpec* spec = find_pre_tokenizer_by_regexes(regexes);
    if (!spec) {
      std::string all;
      for (const auto& r : regexes) all += "\n  " + r;
      return make_error(ErrorCode::kUnsupported, "tokenizer.json: pre-tokenizer regexes match no known family:{}", all);
    }
    pre = spec->canonical;
    kv.emplace_back("tokenizer.ggml.model", v_str("gpt2"));
    kv.emplace_back("tokenizer.ggml.pre", v_str(pre));
    kv.emplace_back("paddock.tokenizer.nfc", v_bool(norm.nfc));
    kv.emplace_back("paddock.tokenizer.ignore_merges", v_bool(model.value("ignore_merges", false)));
  } else if (norm.replace_space) {
    if (!regexes.empty()) return make_error(ErrorCode::kUnsupported, "tokenizer.json: SentencePiece-style BPE with a regex pre-tokenizer");
    if (norm.nfc) return make_error(ErrorCode::kUnsupported, "tokenizer.json: SentencePiece-style BPE with NFC");
    kv.emplace_back("tokenizer.ggml.model", v_str("llama"));
    kv.emplace_back("tokenizer.ggml.pre", v_str("default"));
    kv.emplace_back("tokenizer.ggml.add_space_prefix", v_bool(norm.prepend));
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string& t = tokens[i];
      if (byte_fallback && types[i] == TokenType::kNormal && t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>')
        types[i] = TokenType::kByte;
    }
  } else {
    return make_error(ErrorCode::kUnsupported, "tokenizer.json: neither byte-level nor SentencePiece-style BPE");
  }

  // Merges, in GGUF's "left right" spelling.
  std::vector<Value> merges;
  static const json kEmpty = json::array();
  auto mit = model.find("merges");
  const json& mj = mit != model.end() && mit->is_array() ? *mit : kEmpty;
  merges.reserve(mj.size());
  if (static_cast<int64_t>(mj.size()) > kMaxMerges) return make_error(ErrorCode::kCorrupt, "tokenizer.json: too many merges");
  std::vector<float> scores;
  if (!byte_level) scores.assign(tokens.size(), 0.0f);
  std::vector<bool> scored(tokens.size(), false);
  int32_t rank = 0;
  std::string cat;
  for (const auto& m : mj) {
    std::string a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos) return make_error(ErrorCode::kCorrupt, "tokenizer.json: merge '{}' has no space", s);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      return make_error(ErrorCode::kCorrupt, "tokenizer.json: malformed merge #{}", rank);
    }
    if (!byte_level) {
      cat.assign(a).append(b);
      auto it = by_text.find(cat);
      if (it != by_text.end() && !scored[static_cast<size_t>(it->second)]) {
        scored[static_cast<size_t>(it->second)] = true;
        scores[static_cast<size_t>(it->second)] = -static_cast<float>(rank) - 1.0f;
      }
    }
    a += ' ';
    a += b;
    merges.push_back(v_str(std::move(a)));
    ++rank;
  }
  if (!byte_level)  // unreachable multi-character pieces rank after every merge
    for (size_t i = 0; i < tokens.size(); ++i)
      if (!scored[i] && types[i] == TokenType::kNormal) scores[i] = -static_cast<float>(rank) - 1.0f;

  std::vector<Value> tv, yv, sv;
  tv.reserve(tokens.size());
  yv.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    tv.push_back(v_str(std::move(tokens[i])));
    yv.push_back(v_i32(static_cast<int32_t>(types[i])));
  }
  kv.emplace_back("tokenizer.ggml.tokens", v_arr(ValueType::kString, std::move(tv)));
  if (!byte_level) {
    sv.reserve(scores.size());
    for (float f : scores) sv.push_back(v_f32(f));
    kv.emplace_back("tokenizer.ggml.scores", v_arr(ValueType::kFloat32, std::move(sv)));
  }
  kv.emplace_back("tokenizer.ggml.token_type", v_arr(ValueType::kInt32, std::move(yv)));
  kv.emplace_back("tokenizer.ggml.merges", v_arr(ValueType::kString, std::move(merges)));

  // Special ids: the config names them; the post-processor says what add_special adds.
  auto id_of = [&](const std::string& t) -> int32_t {
    auto it = by_text.find(t);
    return it == by_text.end() ? -1 : it->second;
  };
  std::vector<std::string> before, after;
  collect_template(tj.value("post_processor", json()), &before, &after);
  int32_t bos = cj.contains("bos_token") ? id_of(token_name(cj["bos_token"])) : -1;
  int32_t eos = cj.contains("eos_token") ? id_of(token_name(cj["eos_token"])) : -1;
  int32_t pad = cj.contains("pad_token") ? id_of(token_name(cj["pad_token"])) : -1;
  int32_t unk = model.contains("unk_token") && model["unk_token"].is_string() ? id_of(model["unk_token"].get<std::string>()) : -1;
  if (!before.empty() && id_of(before[0]) >= 0) bos = id_of(before[0]);
  if (!after.empty() && id_of(after[0]) >= 0) eos = id_of(after[0]);
  if (bos >= 0) kv.emplace_back("tokenizer.ggml.bos_token_id", v_u32(static_cast<uint32_t>(bos)));
  if (eos >= 0) kv.emplace_back("tokenizer.ggml.eos_token_id", v_u32(static_cast<uint32_t>(eos)));
  if (unk >= 0) kv.emplace_back("tokenizer.ggml.unknown_token_id", v_u32(static_cast<uint32_t>(unk)));
  if (pad >= 0) kv.emplace_back("tokenizer.ggml.padding_token_id", v_u32(static_cast<uint32_t>(pad)));
  for (const char* eot : {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<｜end▁of▁sentence｜>"}) {
    int32_t id = id_of(eot);
    if (id >= 0) {
      kv.emplace_back("tokenizer.ggml.eot_token_id", v_u32(static_cast<uint32_t>(id)));
      break;
    }
  }
  if (int32_t eom = id_of("<|eom_id|>"); eom >= 0) kv.emplace_back("tokenizer.ggml.eom_token_id", v_u32(static_cast<uint32_t>(eom)));
  // transformers.js (the oracle) follows the post-processor, not add_bos_token in the config.
  kv.emplace_back("tokenizer.ggml.add_bos_token", v_bool(!before.empty() && bos >= 0));
  kv.emplace_back("tokenizer.ggml.add_eos_token", v_bool(!after.empty() && eos >= 0));
  if (cj.contains("chat_template")) {
    const json& ct = cj["chat_template"];
    if (ct.is_string()) {
      kv.emplace_back("tokenizer.chat_template", v_str(ct.get<std::string>()));
    } else if (ct.is_array()) {
      for (const auto& e : ct)
        if (e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
          kv.emplace_back("tokenizer.chat_template", v_str(e["template"].get<std::string>()));
    }
  }
  return kv;
}

}  // namespace

Result<MetadataKv> hf_to_gguf_metadata(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  json tj, cj = json::object();
  try {
    tj = json::parse(tokenizer_json);
    if (!tokenizer_config_json.empty()) cj = json::parse(tokenizer_config_json);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "tokenizer.json / tokenizer_config.json is not valid JSON: {}", e.what());
  }
  if (!tj.is_object() || !cj.is_object()) return make_error(ErrorCode::kInvalidArgument, "tokenizer.json: expected a JSON object");
  try {
    return convert(tj, cj);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kCorrupt, "tokenizer.json: unexpected structure: {}", e.what());
  }
}

}  // namespace paddock::tokenizer
