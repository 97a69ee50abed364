// llama.cpp file types (general.file_type): their names as Ollama shows them, their base tensor
// type, and the per-tensor type mix llama.cpp's quantizer uses for the "mostly" K-quant types.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "quant/quant.h"

namespace paddock::quant {
namespace {

struct FileType {
  uint32_t id;
  std::string_view name;
  std::optional<Type> base;  // nullopt: we cannot produce this mix
};

const std::array<FileType, 33> kFileTypes = {{
    {0, "F32", Type::F32},        {1, "F16", Type::F16},          {2, "Q4_0", Type::Q4_0},
    {3, "Q4_1", Type::Q4_1},      {7, "Q8_0", Type::Q8_0},        {8, "Q5_0", Type::Q5_0},
    {9, "Q5_1", Type::Q5_1},      {10, "Q2_K", Type::Q2_K},       {11, "Q3_K_S", Type::Q3_K},
    {12, "Q3_K_M", Type::Q3_K},   {13, "Q3_K_L", Type::Q3_K},     {14, "Q4_K_S", Type::Q4_K},
    {15, "Q4_K_M", Type::Q4_K},   {16, "Q5_K_S", Type::Q5_K},     {17, "Q5_K_M", Type::Q5_K},
    {18, "Q6_K", Type::Q6_K},     {19, "IQ2_XXS", std::nullopt},  {20, "IQ2_XS", std::nullopt},
    {21, "Q2_K_S", Type::Q2_K},   {22, "IQ3_XS", std::nullopt},   {23, "IQ3_XXS", std::nullopt},
    {24, "IQ1_S", std::nullopt},  {25, "IQ4_NL", Type::IQ4_NL},   {26, "IQ3_S", std::nullopt},
    {27, "IQ3_M", std::nullopt},  {28, "IQ2_S", std::nullopt},    {29, "IQ2_M", std::nullopt},
    {30, "IQ4_XS", std::nullopt}, {31, "IQ1_M", std::nullopt},    {32, "BF16", Type::BF16},
    {36, "TQ1_0", std::nullopt},  {37, "TQ2_0", std::nullopt},    {38, "MXFP4_MOE", std::nullopt},
}};

const FileType* find(uint32_t ftype) {
  for (const auto& f : kFileTypes)
    if (f.id == ftype) return &f;
  return nullptr;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// llama.cpp's "use more bits" layer pattern: the first and last eighth, and every third in between.
bool more_bits(int layer, int n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// A type whose block does not divide the row length falls back as llama.cpp's quantizer does.
Type fit_row(Type t, int64_t n_cols) {
  if (n_cols <= 0) return t;
  auto fits = [&](Type x) { return n_cols % type_info(x)->block_size == 0; };
  if (fits(t)) return t;
  Type f = t;
  switch (t) {
    case Type::Q2_K: case Type::Q3_K: f = Type::Q4_0; break;
    case Type::Q4_K: f = Type::Q5_0; break;
    case Type::Q5_K: f = Type::Q5_1; break;
    case Type::Q6_K: f = Type::Q8_0; break;
    case Type::IQ4_XS: f = Type::IQ4_NL; break;
    default: break;
  }
  return fits(f) ? f : Type::F16;
}

}  // namespace

std::string_view file_type_name(uint32_t ftype) {
  const FileType* f = find(ftype);
  return f ? f->name : "unknown";
}

std::optional<uint32_t> file_type_from_name(std::string_view name) {
  std::string up(name);
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const auto& f : kFileTypes)
    if (f.name == up) return f.id;
  return std::nullopt;
}

std::optional<Type> file_type_base(uint32_t ftype) {
  const FileType* f = find(ftype);
  if (!f) return std::nullopt;
  return f->base;
}

Type tensor_type_for(uint32_t ftype, std::string_view name, int layer, int n_layer, const MixOptions& opt) {
  const auto base_opt = file_type_base(ftype);
  if (!base_opt || opt.n_dims < 2 || !ends_with(name, "weight")) return Type::F32;
  const Type base = *base_opt;
  if (base == Type::F32 || base == Type::F16 || base == Type::BF16) return base;

  const bool is_output = name == "output.weight" || (opt.tied_embeddings && name == "token_embd.weight");
  Type t = base;
  if (is_output) {
    if (opt.n_cols > 0 && opt.n_cols % type_info(base)->block_size != 0)
      t = Type::Q8_0;
    else if (base != Type::Q8_0)
      t = Type::Q6_K;
    return fit_row(t, opt.n_cols);
  }
  if (name == "token_embd.weight") return fit_row(t, opt.n_cols);

  const uint32_t Q2_K = 10, Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_M = 17, Q2_K_S = 21;
  if (ends_with(name, "attn_v.weight")) {
    if (ftype == Q2_K) t = opt.n_gqa >= 4 ? Type::Q4_K : Type::Q3_K;
    else if (ftype == Q2_K_S && opt.n_gqa >= 4) t = Type::Q4_K;
    else if (ftype == Q3_K_M) t = layer < 2 ? Type::Q5_K : Type::Q4_K;
    else if (ftype == Q3_K_L) t = Type::Q5_K;
    else if ((ftype == Q4_K_M || ftype == Q5_K_M) && more_bits(layer, n_layer)) t = Type::Q6_K;
    else if (ftype == Q4_K_S && layer < 4) t = Type::Q5_K;
  } else if (ends_with(name, "ffn_down.weight")) {
    if (ftype == Q2_K) t = Type::Q3_K;
    else if (ftype == Q2_K_S) { if (layer < n_layer / 8) t = Type::Q4_K; }
    else if (ftype == Q3_K_M) t = layer < n_layer / 16 ? Type::Q5_K : Type::Q4_K;
    else if (ftype == Q3_K_L) t = Type::Q5_K;
    else if ((ftype == Q4_K_M || ftype == Q5_K_M) && more_bits(layer, n_layer)) t = Type::Q6_K;
    else if (ftype == Q4_K_S && layer < n_layer / 8) t = Type::Q5_K;
  } else if (ends_with(name, "attn_output.weight")) {
    if (ftype == Q2_K) t = Type::Q3_K;
    else if (ftype == Q3_K_M) t = Type::Q4_K;
    else if (ftype == Q3_K_L) t = Type::Q5_K;
  } else if (ends_with(name, "attn_qkv.weight")) {
    if (ftype == Q3_K_M || ftype == Q3_K_L) t = Type::Q4_K;
    else if (ftype == Q4_K_M) t = Type::Q5_K;
    else if (ftype == Q5_K_M) t = Type::Q6_K;
  }
  return fit_row(t, opt.n_cols);
}

}  // namespace paddock::quant
