// store internal: GGUF metadata → config fields, model_info and tensor list (via gguf::File).
#include "store/gguf_info.h"

#include <cstdint>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "gguf/gguf.h"
#include "quant/quant.h"

namespace paddock::store::detail {
namespace {

constexpr size_t kMaxArrayInInfo = 64;  // larger arrays (tokenizer tables) only with verbose

// f32 metadata printed the way Go prints a float32 (shortest form), not widened to double.
nlohmann::json float_json(double v, bool is_f32) {
  if (!is_f32) return v;
  std::string s = fmt::format("{}", static_cast<float>(v));
  return std::strtod(s.c_str(), nullptr);
}

nlohmann::json value_json(const gguf::Value& v, bool verbose) {
  using T = gguf::ValueType;
  switch (v.type) {
    case T::kUint8: case T::kUint16: case T::kUint32: case T::kUint64: return v.u;
    case T::kInt8: case T::kInt16: case T::kInt32: case T::kInt64: return v.i;
    case T::kFloat32: return float_json(v.f, true);
    case T::kFloat64: return v.f;
    case T::kBool: return v.u != 0;
    case T::kString: return v.s;
    case T::kArray: {
      if (!verbose && v.arr.size() > kMaxArrayInInfo) return nullptr;
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : v.arr) a.push_back(value_json(e, verbose));
      return a;
    }
  }
  return nullptr;
}

std::string upper(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return o;
}

// general.file_type as Ollama displays it (quantization_level): quant's table of llama.cpp's
// ftypes, after dropping LLAMA_FTYPE_GUESSED (1024). One Ollama-only value: its converter writes
// 4 (llama.cpp's retired Q4_1_SOME_F16) for MXFP4 (gpt-oss), which quant's table does not know.
std::string file_type_name(uint64_t ft) {
  ft &= ~uint64_t{1024};
  if (ft == 4) return "MXFP4";
  if (ft > UINT32_MAX) return "unknown";
  return std::string(quant::file_type_name(static_cast<uint32_t>(ft)));
}

std::string tensor_type_name(uint32_t t) {
  const quant::TypeInfo* ti = quant::type_info(t);
  return ti ? upper(ti->name) : fmt::format("type{}", t);
}

}  // namespace

Result<GgufSummary> read_gguf(const std::string& path, bool want_info, bool verbose) {
  auto f = gguf::File::open(path);
  if (!f.ok()) return f.error().wrap("reading model weights");
  const gguf::File& file = *f;
  GgufSummary s;
  s.architecture = file.architecture();
  const std::string& a = s.architecture;
  if (auto v = file.get_uint("general.parameter_count"); v.ok()) {
    s.parameter_count = *v;
  } else {
    uint64_t n = 0;
    for (const auto& t : file.tensors()) n += static_cast<uint64_t>(t.n_elements());
    s.parameter_count = n;
  }
  if (auto ft = file.get_uint("general.file_type"); ft.ok()) {
    s.file_type = file_type_name(*ft);
  } else {
    // No file type recorded: name the most common type of the 2-D weights.
    std::map<uint32_t, uint64_t> count;
    for (const auto& t : file.tensors()) {
      if (t.n_dims >= 2) count[t.type] += static_cast<uint64_t>(t.n_elements());
    }
    uint32_t best = 0;
    uint64_t best_n = 0;
    for (auto [t, n] : count) {
      if (n > best_n) best = t, best_n = n;
    }
    s.file_type = best_n ? tensor_type_name(best) : "unknown";
  }
  if (!a.empty()) {
    if (auto v = file.get_uint(a + ".context_length"); v.ok()) s.context_length = *v;
    if (auto v = file.get_uint(a + ".embedding_length"); v.ok()) s.embedding_length = *v;
    s.has_pooling = file.find(a + ".pooling_type") != nullptr;
    s.has_vision = file.find(a + ".vision.block_count") != nullptr;
  }
  if (auto t = file.get_string("tokenizer.chat_template"); t.ok()) s.chat_template = *t;
  if (want_info) {
    s.model_info = nlohmann::json::object();
    for (const auto& [k, v] : file.kv()) s.model_info[k] = value_json(v, verbose);
    if (!s.model_info.contains("general.parameter_count")) s.model_info["general.parameter_count"] = s.parameter_count;
    for (const auto& t : file.tensors()) {
      TensorEntry e;
      e.name = t.name;
      e.type = tensor_type_name(t.type);
      for (uint32_t d = 0; d < t.n_dims && d < 4; ++d) e.shape.push_back(t.ne[d]);
      s.tensors.push_back(std::move(e));
    }
  }
  return s;
}

}  // namespace paddock::store::detail
