// The one table of GGUF tensor types: ggml type id, name, block size and bytes per block.
// Block layouts are documented next to each (de)quantizer.
#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "quant/quant.h"

namespace paddock::quant {
namespace {

constexpr int64_t QK_K = 256;

// {type, name, block elements, block bytes, can_dequantize, can_quantize}. The last two are
// filled from what quantize.cpp / dequantize.cpp implement (see supports_*()). Block bytes checked
// against ggml-common.h's block structs (static_asserts there; blocks.h asserts ours).
constexpr std::array<TypeInfo, 32> kTable = {{
    {Type::F32, "f32", 1, 4, false, false},
    {Type::F16, "f16", 1, 2, false, false},
    {Type::Q4_0, "q4_0", 32, 2 + 16, false, false},
    {Type::Q4_1, "q4_1", 32, 2 + 2 + 16, false, false},
    {Type::Q5_0, "q5_0", 32, 2 + 4 + 16, false, false},
    {Type::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16, false, false},
    {Type::Q8_0, "q8_0", 32, 2 + 32, false, false},
    {Type::Q8_1, "q8_1", 32, 4 + 32, false, false},
    {Type::Q2_K, "q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2, false, false},
    {Type::Q3_K, "q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2, false, false},
    {Type::Q4_K, "q4_K", QK_K, 2 + 2 + 12 + QK_K / 2, false, false},
    {Type::Q5_K, "q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, false, false},
    {Type::Q6_K, "q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, false, false},
    {Type::Q8_K, "q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2, false, false},
    {Type::IQ2_XXS, "iq2_xxs", QK_K, 2 + QK_K / 8 * 2, false, false},
    {Type::IQ2_XS, "iq2_xs", QK_K, 2 + QK_K / 8 * 2 + QK_K / 32, false, false},
    {Type::IQ3_XXS, "iq3_xxs", QK_K, 2 + QK_K / 4 + QK_K / 8, false, false},
    {Type::IQ1_S, "iq1_s", QK_K, 2 + QK_K / 8 + QK_K / 16, false, false},
    {Type::IQ4_NL, "iq4_nl", 32, 2 + 16, false, false},
    {Type::IQ3_S, "iq3_s", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4, false, false},
    {Type::IQ2_S, "iq2_s", QK_K, 2 + QK_K / 4 + QK_K / 16, false, false},
    {Type::IQ4_XS, "iq4_xs", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2, false, false},
    {Type::I8, "i8", 1, 1, false, false},
    {Type::I16, "i16", 1, 2, false, false},
    {Type::I32, "i32", 1, 4, false, false},
    {Type::I64, "i64", 1, 8, false, false},
    {Type::F64, "f64", 1, 8, false, false},
    {Type::IQ1_M, "iq1_m", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, false, false},
    {Type::BF16, "bf16", 1, 2, false, false},
    {Type::TQ1_0, "tq1_0", QK_K, (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + 2, false, false},
    {Type::TQ2_0, "tq2_0", QK_K, QK_K / 4 + 2, false, false},
    {Type::MXFP4, "mxfp4", 32, 1 + 16, false, false},
}};

}  // namespace

// Implemented next to the reference kernels (dequantize.cpp / quantize.cpp).
bool supports_dequantize(Type t);
bool supports_quantize(Type t);

const TypeInfo* type_info(uint32_t id) {
  static const auto table = [] {
    std::array<TypeInfo, 40> by_id{};
    std::array<bool, 40> present{};
    for (auto info : kTable) {
      info.can_dequantize = supports_dequantize(info.type);
      info.can_quantize = supports_quantize(info.type);
      by_id[static_cast<uint32_t>(info.type)] = info;
      present[static_cast<uint32_t>(info.type)] = true;
    }
    return std::make_pair(by_id, present);
  }();
  if (id >= table.first.size() || !table.second[id]) return nullptr;
  return &table.first[id];
}

std::optional<Type> type_from_name(std::string_view name) {
  auto lower = [](std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
    return r;
  };
  std::string want = lower(name);
  for (const auto& info : kTable)
    if (lower(info.name) == want) return info.type;
  return std::nullopt;
}

Result<uint64_t> row_size(Type t, int64_t n) {
  const TypeInfo* info = type_info(t);
  if (!info) return make_error(ErrorCode::kUnsupported, "unknown tensor type id {}", static_cast<uint32_t>(t));
  if (n < 0 || n % info->block_size != 0)
    return make_error(ErrorCode::kCorrupt, "row of {} elements is not a multiple of the {} block size {}", n,
                      info->name, info->block_size);
  uint64_t blocks = static_cast<uint64_t>(n / info->block_size);
  if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(info->type_size))
    return make_error(ErrorCode::kCorrupt, "row size of {} elements of {} overflows", n, info->name);
  return blocks * static_cast<uint64_t>(info->type_size);
}

}  // namespace paddock::quant
