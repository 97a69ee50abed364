// gguf: the public header — read (mmap'd, every offset and size bounds-checked) and write GGUF
// files, versions 2 and 3. Spec: ggml's docs/gguf.md. A bad file yields one Error naming the
// field and byte offset; never a crash, an unbounded allocation or a hang.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/mmap_file.h"
#include "util/status.h"

namespace paddock::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7,
  kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
const char* value_type_name(ValueType t);

// One metadata value. Arrays keep their element type (nested arrays allowed); strings are
// owned copies (metadata is small next to tensor data).
struct Value {
  ValueType type = ValueType::kUint8;
  uint64_t u = 0;     // unsigned ints and bool
  int64_t i = 0;      // signed ints
  double f = 0;       // floats
  std::string s;      // string
  ValueType elem_type = ValueType::kUint8;  // for arrays
  std::vector<Value> arr;                   // for arrays

  static Value u8(uint8_t v); static Value i8(int8_t v); static Value u16(uint16_t v); static Value i16(int16_t v);
  static Value u32(uint32_t v); static Value i32(int32_t v); static Value u64(uint64_t v); static Value i64(int64_t v);
  static Value f32(float v); static Value f64(double v); static Value boolean(bool v); static Value str(std::string v);
  static Value array(ValueType elem, std::vector<Value> items);
  static Value str_array(const std::vector<std::string>& items);
  static Value f32_array(const std::vector<float>& items);
  static Value i32_array(const std::vector<int32_t>& items);

  bool is_integer() const;  // any of the 8 integer types
  bool is_float() const;    // f32 / f64
  bool operator==(const Value& o) const;
};

struct TensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension, as in ggml
  uint32_t type = 0;             // ggml type id (see quant/quant.h)
  uint64_t offset = 0;           // relative to the start of the data section
  uint64_t nbytes = 0;           // checked: rows * row_size(type, ne[0])
  const uint8_t* data = nullptr; // into the mapping (reader only)
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

struct Limits {
  uint64_t max_string_len = 1ull << 30;     // 1 GiB
  uint64_t max_array_len = 1ull << 30;
  uint64_t max_tensors = 1ull << 20;
  uint64_t max_kv = 1ull << 20;
  uint32_t max_array_depth = 4;
  uint64_t max_tensor_name = 63;            // GGML_MAX_NAME - 1
};

class File {
 public:
  // Maps and parses a file.
  static Result<File> open(const std::string& path, const Limits& limits = {});
  // Parses bytes owned by the caller (used by the fuzzer and tests). `bytes` must outlive File.
  static Result<File> parse(std::span<const uint8_t> bytes, const Limits& limits = {});

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  // Metadata, in file order.
  const std::vector<std::pair<std::string, Value>>& kv() const { return kv_; }
  const Value* find(std::string_view key) const;
  // Typed accessors: kNotFound if absent, kCorrupt (naming the key and actual type) if the type
  // does not convert. Integer getters accept any integer type whose value fits.
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;  // f32/f64 or any integer
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_float_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;
  std::string architecture() const;  // general.architecture or ""

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;

 private:
  File() = default;
  friend class Parser;
  std::shared_ptr<MappedFile> map_;  // null when parsing caller-owned bytes
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF file in memory order: metadata then tensor infos then aligned data.
class Writer {
 public:
  explicit Writer(uint32_t version = 3) : version_(version) {}
  void set(std::string key, Value v);  // replaces an existing key, keeps first position
  // Adds a tensor; `data` must hold exactly the bytes of the given type and shape. Copies data.
  Status add_tensor(std::string name, uint32_t type, std::vector<int64_t> ne, std::span<const uint8_t> data);
  // Serialises the whole file (metadata, infos, padding, data).
  Result<std::string> serialize() const;
  // Writes atomically (temp + fsync + rename).
  Status write(const std::string& path) const;

 private:
  uint32_t version_;
  std::vector<std::pair<std::string, Value>> kv_;
  struct PendingTensor { std::string name; uint32_t type; std::vector<int64_t> ne; std::vector<uint8_t> data; };
  std::vector<PendingTensor> tensors_;
};

}  // namespace paddock::gguf
