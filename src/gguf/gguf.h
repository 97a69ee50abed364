// gguf: the public header — read (mmap'd, every offset and size bounds-checked) and write GGUF
// files, versions 2 and 3. Spec: ggml's docs/gguf.md. A bad file yields one Error naming the
// field and byte offset; never a crash, an unbounded allocation or a hang.
#pragma once
#include <cstdint>
#include <functional>
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

// Named limits. Every count is also checked against the bytes left in the file before anything
// is allocated, so a small file can never claim a large allocation.
struct Limits {
  uint64_t max_string_len = 1ull << 30;     // 1 GiB
  uint64_t max_array_len = 1ull << 30;
  uint64_t max_tensors = 1ull << 20;
  uint64_t max_kv = 1ull << 20;
  uint32_t max_array_depth = 4;             // 1 = arrays of scalars/strings only
  uint64_t max_tensor_name = 63;            // GGML_MAX_NAME - 1
  uint64_t max_key_len = 65535;             // the spec's bound on key length
  // general.alignment above this is refused: llama.cpp takes any power of two, real files use
  // 32..4096, and a huge one only makes writers pad with gigabytes of zeros.
  uint64_t max_alignment = 1ull << 24;
  // Heap the parsed metadata may take (sizeof(Value) per array element + string bytes). Real
  // vocabularies (256k tokens + 500k merges) use ~150 MiB.
  uint64_t max_metadata_bytes = 1ull << 30;
};

// Policies (documented decisions, tested):
//  - versions 2 and 3 are read (identical little-endian layout); v1 and big-endian files are
//    rejected. The writer emits v3 unless asked for v2.
//  - every dimension must be >= 1 (ggml divides by ne[1..3]; we also reject ne[0] == 0).
//  - nested arrays (allowed by the spec) are read up to Limits::max_array_depth levels; note that
//    llama.cpp itself rejects them, so files meant for it should not use them.
//  - stricter than ggml (tests/fixtures/gguf/ggml_verdicts.json records where): bool values must
//    be 0 or 1; keys must be non-empty valid UTF-8 without NUL; tensor names must not contain
//    NUL; n_dims 1..4; every ne >= 1; the element count and byte size must not overflow (ggml
//    accepts a 2^32 x 2^32 f32 tensor whose size wraps to 0).
//  - each tensor's offset must equal the running offset (previous offsets + sizes, each padded to
//    the alignment), as llama.cpp requires; data must lie inside the file. The padding after the
//    last tensor may be absent. Bytes after the data section are ignored (trailing_bytes() says
//    how many).

// A parsed file. Immutable once made, so any number of threads may read it at once.
class File {
 public:
  // Maps and parses a file.
  static Result<File> open(const std::string& path, const Limits& limits = {});
  // Parses bytes owned by the caller (used by the fuzzer and tests). `bytes` must outlive File.
  static Result<File> parse(std::span<const uint8_t> bytes, const Limits& limits = {});

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_size_; }
  // Bytes after the end of the last tensor's (padded) data; ignored by the reader.
  uint64_t trailing_bytes() const { return trailing_bytes_; }

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
  uint64_t file_size_ = 0;
  uint64_t trailing_bytes_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF file in memory order: metadata then tensor infos then aligned data, laid out as
// llama.cpp writes and expects it (data section at the aligned end of the infos, each tensor's
// data padded with zeros to the alignment, including the last). Alignment: `general.alignment`
// if set (must be a u32 power of two), else 32.
class Writer {
 public:
  // Fills `out` (exactly the tensor's byte size) when the file is written; lets a caller
  // (quantizer, converter) produce one tensor at a time instead of holding them all.
  using Producer = std::function<Status(std::span<uint8_t> out)>;

  explicit Writer(uint32_t version = 3) : version_(version) {}
  void set(std::string key, Value v);  // replaces an existing key, keeps first position
  bool erase(std::string_view key);
  // Copies every key of `f` (in file order), e.g. to rewrite a model with new tensors.
  void copy_metadata(const File& f);
  // Adds a tensor; `data` must hold exactly the bytes of the given type and shape. Copies data.
  Status add_tensor(std::string name, uint32_t type, std::vector<int64_t> ne, std::span<const uint8_t> data);
  // As add_tensor, without copying: `data` must stay valid until the last write()/serialize().
  Status add_tensor_view(std::string name, uint32_t type, std::vector<int64_t> ne, std::span<const uint8_t> data);
  // As add_tensor, with the bytes produced at write time (called once per write()/serialize()).
  Status add_tensor_producer(std::string name, uint32_t type, std::vector<int64_t> ne, Producer producer);
  size_t tensor_count() const { return tensors_.size(); }
  // Serialises the whole file (metadata, infos, padding, data) into memory.
  Result<std::string> serialize() const;
  // Streams the file to a temp file next to `path`, fsyncs, renames over `path` and fsyncs the
  // directory: readers see the old file or the whole new one. Holds one tensor at a time.
  Status write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    uint32_t type = 0;
    std::vector<int64_t> ne;
    uint64_t nbytes = 0;
    std::vector<uint8_t> owned;     // add_tensor
    std::span<const uint8_t> view;  // add_tensor_view: the caller's memory
    Producer producer;              // add_tensor_producer
  };
  Status check_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne, uint64_t* nbytes) const;
  // Everything before the data section, padding included; validates metadata.
  Result<std::string> header(uint64_t* alignment) const;
  // Calls `sink` with each piece of the data section in order (tensor bytes, padding).
  Status emit_data(uint64_t alignment, const std::function<Status(std::span<const uint8_t>)>& sink) const;

  uint32_t version_;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
};

// ---- Tiny models for tests, oracles and demos -------------------------------------------------
// A small but complete llama-architecture model (hyper-parameters, a SentencePiece-style vocab
// with all 256 byte tokens, random weights from `seed`) that llama.cpp loads and runs. The
// output is a deterministic function of the spec: the same spec gives the same bytes.
struct TinyLlamaSpec {
  uint32_t n_embd = 64;
  uint32_t n_layer = 2;
  uint32_t n_head = 4;
  uint32_t n_head_kv = 2;
  uint32_t n_ff = 128;
  uint32_t n_ctx = 256;           // llama.context_length
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  uint32_t weight_type = 0;       // ggml type of the 2-D weights: F32 (0), F16 (1) or BF16 (30)
  bool tied_output = false;       // omit output.weight (llama.cpp then reuses token_embd)
  uint64_t seed = 1;
  uint32_t version = 3;
  uint32_t alignment = 32;        // written as general.alignment when != 32
  std::string name = "paddock-tiny-llama";
};
// The vocabulary used by tiny models: tokens, SentencePiece scores and llama.cpp token types
// (1 normal, 2 unknown, 3 control, 6 byte). Ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>.
struct TinyVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
};
TinyVocab tiny_vocab();
Result<Writer> make_tiny_llama(const TinyLlamaSpec& spec);
// A file exercising the format rather than a model: every scalar type at edge values, arrays of
// every element type (and an empty one; no nested arrays, which llama.cpp rejects) and small
// tensors of several ggml types (f32 f16 q4_0 q8_0 q4_K bf16 i32 f64) holding byte patterns.
Result<Writer> make_format_sample(uint32_t version = 3, uint32_t alignment = 32);

}  // namespace paddock::gguf
