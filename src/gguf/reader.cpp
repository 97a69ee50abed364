// The hardened GGUF parser: a bounded cursor over the file's bytes that knows how many remain,
// checked arithmetic for every size, and validation before any allocation. Every error names
// the field and its byte offset: `gguf: tensor 3 ("blk.0.attn_q.weight") offset 1234: ...`.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "util/utf8.h"

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace paddock::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kNumValueTypes = 13;
constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kHardMaxArrayDepth = 64;  // recursion bound whatever Limits says
// Smallest possible encodings, used to bound counts by the bytes remaining.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;             // key length, 1-byte key, type, u8 value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, 1 dim, type, offset

bool valid_value_type(uint32_t t) { return t < kNumValueTypes; }

uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kBool: return 1;
    case ValueType::kUint16: case ValueType::kInt16: return 2;
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kFloat32: return 4;
    case ValueType::kUint64: case ValueType::kInt64: case ValueType::kFloat64: return 8;
    case ValueType::kString: return 8;      // length only
    case ValueType::kArray: return 4 + 8;   // element type + count
  }
  return 1;
}

bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }
bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
// Rounds x up to a multiple of `align` (a power of two); false on overflow.
bool pad_to(uint64_t x, uint64_t align, uint64_t* out) {
  uint64_t t = 0;
  if (add_overflows(x, align - 1, &t)) return false;
  *out = t & ~(align - 1);
  return true;
}

// Printable form of a name taken from the file, for error messages (bounded, escaped).
std::string quoted(std::string_view s) {
  std::string r = "\"";
  size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 80) { r += "..."; break; }
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') r += static_cast<char>(c);
    else r += fmt::format("\\x{:02x}", c);
  }
  return r + "\"";
}

}  // namespace

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const Limits& limits)
      : p_(bytes.data()), size_(bytes.size()), limits_(limits) {}

  Status run(File& f);

 private:
  // ---- errors ----
  template <typename... Args>
  Error fail(uint64_t at, fmt::format_string<Args...> fs, Args&&... args) const {
    std::string where = ctx_;
    if (!elem_path_.empty()) {
      where += " element ";
      for (uint64_t k : elem_path_) where += fmt::format("[{}]", k);
    }
    if (!where.empty()) where += ' ';
    return Error(ErrorCode::kCorrupt,
                 fmt::format("gguf: {}offset {}: {}", where, at, fmt::format(fs, std::forward<Args>(args)...)));
  }

  // ---- bounded reads ----
  uint64_t remaining() const { return size_ - pos_; }

  template <typename T>
  Status read(T* out, const char* what) {
    if (remaining() < sizeof(T))
      return fail(pos_, "file ends while reading {} ({} bytes needed, {} left)", what, sizeof(T), remaining());
    std::memcpy(out, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status read_string(std::string* out, const char* what, uint64_t max_len) {
    uint64_t at = pos_;
    uint64_t len = 0;
    RETURN_IF_ERROR(read(&len, what));
    if (len > max_len) return fail(at, "{} length {} exceeds the limit of {}", what, len, max_len);
    if (len > remaining()) return fail(at, "{} length {} exceeds the {} bytes left in the file", what, len, remaining());
    RETURN_IF_ERROR(charge(len, at));
    out->assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

  // Accounts heap used by metadata against Limits::max_metadata_bytes.
  Status charge(uint64_t bytes, uint64_t at) {
    if (add_overflows(meta_bytes_, bytes, &meta_bytes_) || meta_bytes_ > limits_.max_metadata_bytes)
      return fail(at, "metadata needs more than the limit of {} bytes of memory", limits_.max_metadata_bytes);
    return Status::Ok();
  }

  Status read_value(ValueType t, Value* v, uint32_t depth);
  Status read_header(uint64_t* n_tensors, uint64_t* n_kv);
  Status read_kv(File& f, uint64_t n_kv);
  Status read_alignment(File& f);
  Status read_tensor_info(File& f, uint64_t index, uint64_t* offset_field_at);
  Status place_data(File& f, const std::vector<uint64_t>& offset_field_at);

  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const Limits& limits_;
  uint64_t meta_bytes_ = 0;
  std::string ctx_;                  // "kv 3 (\"general.name\")", "tensor 2 (\"x\")", or ""
  std::vector<uint64_t> elem_path_;  // array indices while reading nested values
  std::vector<uint64_t> kv_value_at_;  // file offset of each kv's type field
  uint32_t version_ = 0;
};

Status Parser::read_value(ValueType t, Value* v, uint32_t depth) {
  v->type = t;
  uint64_t at = pos_;
  switch (t) {
    case ValueType::kUint8: { uint8_t x = 0; RETURN_IF_ERROR(read(&x, "uint8 value")); v->u = x; break; }
    case ValueType::kInt8: { int8_t x = 0; RETURN_IF_ERROR(read(&x, "int8 value")); v->i = x; break; }
    case ValueType::kUint16: { uint16_t x = 0; RETURN_IF_ERROR(read(&x, "uint16 value")); v->u = x; break; }
    case ValueType::kInt16: { int16_t x = 0; RETURN_IF_ERROR(read(&x, "int16 value")); v->i = x; break; }
    case ValueType::kUint32: { uint32_t x = 0; RETURN_IF_ERROR(read(&x, "uint32 value")); v->u = x; break; }
    case ValueType::kInt32: { int32_t x = 0; RETURN_IF_ERROR(read(&x, "int32 value")); v->i = x; break; }
    case ValueType::kUint64: { uint64_t x = 0; RETURN_IF_ERROR(read(&x, "uint64 value")); v->u = x; break; }
    case ValueType::kInt64: { int64_t x = 0; RETURN_IF_ERROR(read(&x, "int64 value")); v->i = x; break; }
    case ValueType::kFloat32: { float x = 0; RETURN_IF_ERROR(read(&x, "float32 value")); v->f = x; break; }
    case ValueType::kFloat64: { double x = 0; RETURN_IF_ERROR(read(&x, "float64 value")); v->f = x; break; }
    case ValueType::kBool: {
      uint8_t x;
      RETURN_IF_ERROR(read(&x, "bool value"));
      if (x > 1) return fail(at, "bool value is {}, must be 0 or 1", x);
      v->u = x;
      break;
    }
    case ValueType::kString: RETURN_IF_ERROR(read_string(&v->s, "string value", limits_.max_string_len)); break;
    case ValueType::kArray: {
      uint32_t et = 0;
      RETURN_IF_ERROR(read(&et, "array element type"));
      if (!valid_value_type(et)) return fail(at, "array element type {} is not a GGUF value type (0..12)", et);
      v->elem_type = static_cast<ValueType>(et);
      if (v->elem_type == ValueType::kArray && depth + 1 >= std::min(limits_.max_array_depth, kHardMaxArrayDepth))
        return fail(at, "arrays nested deeper than the limit of {} levels", limits_.max_array_depth);
      uint64_t count_at = pos_;
      uint64_t n = 0;
      RETURN_IF_ERROR(read(&n, "array length"));
      if (n > limits_.max_array_len)
        return fail(count_at, "array length {} exceeds the limit of {}", n, limits_.max_array_len);
      uint64_t min = min_encoded_size(v->elem_type);
      if (n > remaining() / min)
        return fail(count_at, "array of {} {} needs at least {} bytes per element; only {} bytes are left", n,
                    value_type_name(v->elem_type), min, remaining());
      uint64_t heap = 0;
      if (mul_overflows(n, sizeof(Value), &heap)) return fail(count_at, "array length {} overflows", n);
      RETURN_IF_ERROR(charge(heap, count_at));
      v->arr.resize(n);
      elem_path_.push_back(0);
      for (uint64_t k = 0; k < n; ++k) {
        elem_path_.back() = k;
        RETURN_IF_ERROR(read_value(v->elem_type, &v->arr[k], depth + 1));
      }
      elem_path_.pop_back();
      break;
    }
  }
  return Status::Ok();
}

Status Parser::read_header(uint64_t* n_tensors, uint64_t* n_kv) {
  if (size_ == 0) return fail(0, "file is empty (a GGUF file starts with the magic \"GGUF\")");
  if (size_ < 4) return fail(0, "file is {} bytes, too short for the magic \"GGUF\"", size_);
  uint32_t magic = 0;
  RETURN_IF_ERROR(read(&magic, "magic"));
  if (magic != kMagic)
    return fail(0, "bad magic {} (expected \"GGUF\"); not a GGUF file",
                quoted(std::string_view(reinterpret_cast<const char*>(p_), 4)));
  uint32_t& version = version_;
  RETURN_IF_ERROR(read(&version, "version"));
  if (version == 1)
    return fail(4, "version 1 is not supported (GGUF v1 is obsolete; re-convert the model with a current tool)");
  if (version != 2 && version != 3) {
    if ((version & 0xffff) == 0)
      return fail(4, "version {:#x} is not supported (supported: 2, 3); the file looks big-endian", version);
    return fail(4, "version {} is not supported (supported: 2, 3)", version);
  }
  uint64_t at = pos_;
  RETURN_IF_ERROR(read(n_tensors, "tensor count"));
  if (*n_tensors > limits_.max_tensors)
    return fail(at, "tensor count {} exceeds the limit of {}", *n_tensors, limits_.max_tensors);
  if (*n_tensors > remaining() / kMinTensorInfoBytes)
    return fail(at, "tensor count {} cannot fit in the {} bytes left in the file", *n_tensors, remaining());
  at = pos_;
  RETURN_IF_ERROR(read(n_kv, "metadata count"));
  if (*n_kv > limits_.max_kv) return fail(at, "metadata count {} exceeds the limit of {}", *n_kv, limits_.max_kv);
  if (*n_kv > remaining() / kMinKvBytes)
    return fail(at, "metadata count {} cannot fit in the {} bytes left in the file", *n_kv, remaining());
  return Status::Ok();
}

Status Parser::read_kv(File& f, uint64_t n_kv) {
  f.kv_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    ctx_ = fmt::format("kv {}", i);
    uint64_t at = pos_;
    std::string key;
    RETURN_IF_ERROR(read_string(&key, "key", limits_.max_key_len));
    if (key.empty()) return fail(at, "key is empty");
    if (key.find('\0') != std::string::npos) return fail(at, "key {} contains a NUL byte", quoted(key));
    if (!utf8::is_valid(key)) return fail(at, "key {} is not valid UTF-8", quoted(key));
    ctx_ = fmt::format("kv {} ({})", i, quoted(key));
    if (f.kv_index_.count(key)) return fail(at, "duplicate key (first seen as kv {})", f.kv_index_.find(key)->second);
    uint64_t type_at = pos_;
    kv_value_at_.push_back(type_at);
    uint32_t type = 0;
    RETURN_IF_ERROR(read(&type, "value type"));
    if (!valid_value_type(type)) return fail(type_at, "value type {} is not a GGUF value type (0..12)", type);
    RETURN_IF_ERROR(charge(sizeof(Value) + 2 * key.size() + 64, at));
    Value v;
    RETURN_IF_ERROR(read_value(static_cast<ValueType>(type), &v, 0));
    f.kv_index_.emplace(key, f.kv_.size());
    f.kv_.emplace_back(std::move(key), std::move(v));
  }
  ctx_.clear();
  return Status::Ok();
}

Status Parser::read_alignment(File& f) {
  auto it = f.kv_index_.find("general.alignment");
  if (it == f.kv_index_.end()) return Status::Ok();
  const Value& v = f.kv_[it->second].second;
  ctx_ = fmt::format("kv {} (\"general.alignment\")", it->second);
  uint64_t at = kv_value_at_[it->second];
  if (v.type != ValueType::kUint32) return fail(at, "has type {}, must be uint32", value_type_name(v.type));
  if (v.u == 0 || (v.u & (v.u - 1)) != 0) return fail(at, "alignment {} is not a non-zero power of two", v.u);
  if (v.u > limits_.max_alignment) return fail(at, "alignment {} exceeds the limit of {}", v.u, limits_.max_alignment);
  f.alignment_ = v.u;
  ctx_.clear();
  return Status::Ok();
}

Status Parser::read_tensor_info(File& f, uint64_t index, uint64_t* offset_field_at) {
  TensorInfo t;
  ctx_ = fmt::format("tensor {}", index);
  uint64_t at = pos_;
  RETURN_IF_ERROR(read_string(&t.name, "name", limits_.max_tensor_name));
  if (t.name.find('\0') != std::string::npos) return fail(at, "name {} contains a NUL byte", quoted(t.name));
  ctx_ = fmt::format("tensor {} ({})", index, quoted(t.name));
  if (f.tensor_index_.count(t.name))
    return fail(at, "duplicate tensor name (first seen as tensor {})", f.tensor_index_.find(t.name)->second);

  at = pos_;
  RETURN_IF_ERROR(read(&t.n_dims, "n_dims"));
  if (t.n_dims == 0 || t.n_dims > kMaxDims) return fail(at, "n_dims is {}, must be 1..{}", t.n_dims, kMaxDims);
  uint64_t n_elements = 1;
  for (uint32_t d = 0; d < t.n_dims; ++d) {
    at = pos_;
    RETURN_IF_ERROR(read(&t.ne[d], "dimension"));
    if (t.ne[d] < 0) return fail(at, "dimension {} is negative ({})", d, t.ne[d]);
    if (t.ne[d] == 0) return fail(at, "dimension {} is 0", d);
    if (mul_overflows(n_elements, static_cast<uint64_t>(t.ne[d]), &n_elements) ||
        n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fail(at, "element count overflows int64 at dimension {} ({})", d, t.ne[d]);
  }

  at = pos_;
  RETURN_IF_ERROR(read(&t.type, "type"));
  const quant::TypeInfo* info = quant::type_info(t.type);
  if (!info) return fail(at, "tensor type id {} is unknown or was removed from ggml", t.type);
  if (t.ne[0] % info->block_size != 0)
    return fail(at, "dimension 0 ({}) is not a multiple of the {} block size {}", t.ne[0], info->name,
                info->block_size);
  auto row = quant::row_size(info->type, t.ne[0]);
  if (!row.ok()) return fail(at, "{}", row.error().message());
  uint64_t rows = n_elements / static_cast<uint64_t>(t.ne[0]);
  if (mul_overflows(*row, rows, &t.nbytes)) return fail(at, "byte size of {} {} elements overflows", n_elements, info->name);

  *offset_field_at = pos_;
  RETURN_IF_ERROR(read(&t.offset, "data offset"));
  f.tensor_index_.emplace(t.name, f.tensors_.size());
  f.tensors_.push_back(std::move(t));
  return Status::Ok();
}

Status Parser::place_data(File& f, const std::vector<uint64_t>& offset_field_at) {
  ctx_.clear();
  if (!pad_to(pos_, f.alignment_, &f.data_offset_))
    return fail(pos_, "data section offset overflows when aligned to {}", f.alignment_);
  if (f.data_offset_ > size_ && !f.tensors_.empty())
    return fail(pos_, "data section would start at {} (aligned to {}), past the end of the file ({} bytes)",
                f.data_offset_, f.alignment_, size_);
  uint64_t expected = 0;   // running offset within the data section
  for (size_t k = 0; k < f.tensors_.size(); ++k) {
    TensorInfo& t = f.tensors_[k];
    ctx_ = fmt::format("tensor {} ({})", k, quoted(t.name));
    uint64_t at = offset_field_at[k];
    if (t.offset % f.alignment_ != 0)
      return fail(at, "data offset {} is not a multiple of the alignment {}", t.offset, f.alignment_);
    if (t.offset != expected)
      return fail(at, "data offset {} should be {} (tensors are stored in order, each padded to the alignment {})",
                  t.offset, expected, f.alignment_);
    uint64_t begin = 0, end = 0;
    if (add_overflows(f.data_offset_, t.offset, &begin) || add_overflows(begin, t.nbytes, &end))
      return fail(at, "data offset {} + size {} overflows", t.offset, t.nbytes);
    if (end > size_)
      return fail(at, "data [{}, {}) extends past the end of the file ({} bytes)", begin, end, size_);
    t.data = p_ + begin;
    uint64_t padded = 0;
    if (!pad_to(t.nbytes, f.alignment_, &padded) || add_overflows(expected, padded, &expected))
      return fail(at, "data size {} overflows when padded to {}", t.nbytes, f.alignment_);
  }
  ctx_.clear();
  // The padding after the last tensor may be missing; anything past the padded end is ignored.
  uint64_t data_end = 0;
  if (add_overflows(f.data_offset_, expected, &data_end)) data_end = size_;
  f.trailing_bytes_ = size_ > data_end ? size_ - data_end : 0;
  return Status::Ok();
}

Status Parser::run(File& f) {
  f.file_size_ = size_;
  uint64_t n_tensors = 0, n_kv = 0;
  RETURN_IF_ERROR(read_header(&n_tensors, &n_kv));
  f.version_ = version_;
  RETURN_IF_ERROR(read_kv(f, n_kv));
  RETURN_IF_ERROR(read_alignment(f));
  std::vector<uint64_t> offset_field_at;
  offset_field_at.reserve(n_tensors);
  f.tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    uint64_t at = 0;
    RETURN_IF_ERROR(read_tensor_info(f, k, &at));
    offset_field_at.push_back(at);
  }
  return place_data(f, offset_field_at);
}

Result<File> File::parse(std::span<const uint8_t> bytes, const Limits& limits) {
  File f;
  Parser parser(bytes, limits);
  RETURN_IF_ERROR(parser.run(f));
  return f;
}

Result<File> File::open(const std::string& path, const Limits& limits) {
  auto mapped = MappedFile::open(path);
  if (!mapped.ok()) return mapped.error();
  auto map = std::make_shared<MappedFile>(std::move(mapped).value());
  auto parsed = parse(std::span<const uint8_t>(map->data(), map->size()), limits);
  if (!parsed.ok()) return parsed.error().wrap(path);
  File f = std::move(parsed).value();
  f.map_ = std::move(map);
  return f;
}

}  // namespace paddock::gguf
