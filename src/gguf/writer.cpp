// gguf::Writer: lays out a GGUF file exactly as llama.cpp writes it (header, metadata, tensor
// infos, zero padding to the alignment, then each tensor's data padded to the alignment) and
// writes it atomically, streaming one tensor at a time.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "util/fs.h"
#include "util/utf8.h"

namespace paddock::gguf {
namespace {

constexpr uint64_t kDefaultAlignment = 32;

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s);
}

Status check_key(std::string_view key) {
  if (key.empty()) return make_error(ErrorCode::kInvalidArgument, "gguf writer: empty key");
  if (key.find('\0') != std::string_view::npos || !utf8::is_valid(key))
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: key is not valid UTF-8 without NUL bytes");
  if (key.size() > Limits{}.max_key_len)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: key of {} bytes is too long", key.size());
  return Status::Ok();
}

// Checks that a value is well formed (array elements all of the declared type, nesting within
// the reader's default depth), so that what we write always reads back.
Status check_value(std::string_view key, const Value& v, uint32_t depth) {
  if (static_cast<uint32_t>(v.type) > static_cast<uint32_t>(ValueType::kFloat64))
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: key {}: invalid value type {}", key,
                      static_cast<uint32_t>(v.type));
  if (v.type == ValueType::kBool && v.u > 1)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: key {}: bool value {}", key, v.u);
  if (v.type != ValueType::kArray) return Status::Ok();
  if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(ValueType::kFloat64))
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: key {}: invalid array element type", key);
  if (v.elem_type == ValueType::kArray && depth + 1 >= Limits{}.max_array_depth)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: key {}: arrays nested deeper than {} levels", key,
                      Limits{}.max_array_depth);
  for (const Value& e : v.arr) {
    if (e.type != v.elem_type)
      return make_error(ErrorCode::kInvalidArgument, "gguf writer: key {}: array of {} holds a {}", key,
                        value_type_name(v.elem_type), value_type_name(e.type));
    RETURN_IF_ERROR(check_value(key, e, depth + 1));
  }
  return Status::Ok();
}

void put_value(std::string& out, const Value& v) {
  switch (v.type) {
    case ValueType::kUint8: put<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case ValueType::kInt8: put<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case ValueType::kUint16: put<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case ValueType::kInt16: put<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case ValueType::kUint32: put<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case ValueType::kInt32: put<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case ValueType::kUint64: put<uint64_t>(out, v.u); break;
    case ValueType::kInt64: put<int64_t>(out, v.i); break;
    case ValueType::kFloat32: put<float>(out, static_cast<float>(v.f)); break;
    case ValueType::kFloat64: put<double>(out, v.f); break;
    case ValueType::kBool: put<uint8_t>(out, v.u ? 1 : 0); break;
    case ValueType::kString: put_string(out, v.s); break;
    case ValueType::kArray:
      put<uint32_t>(out, static_cast<uint32_t>(v.elem_type));
      put<uint64_t>(out, v.arr.size());
      for (const Value& e : v.arr) put_value(out, e);
      break;
  }
}

uint64_t pad(uint64_t x, uint64_t align) { return (x + align - 1) & ~(align - 1); }

}  // namespace

void Writer::set(std::string key, Value v) {
  for (auto& [k, old] : kv_) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(v));
}

bool Writer::erase(std::string_view key) {
  for (auto it = kv_.begin(); it != kv_.end(); ++it) {
    if (it->first == key) {
      kv_.erase(it);
      return true;
    }
  }
  return false;
}

void Writer::copy_metadata(const File& f) {
  for (const auto& [k, v] : f.kv()) set(k, v);
}

Status Writer::check_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne,
                            uint64_t* nbytes) const {
  if (name.size() > Limits{}.max_tensor_name || name.find('\0') != std::string::npos)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor name \"{}\" must be under 64 bytes without NUL",
                      name);
  for (const auto& t : tensors_)
    if (t.name == name) return make_error(ErrorCode::kAlreadyExists, "gguf writer: duplicate tensor \"{}\"", name);
  if (ne.empty() || ne.size() > 4)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor \"{}\" has {} dimensions, must be 1..4", name,
                      ne.size());
  const quant::TypeInfo* info = quant::type_info(type);
  if (!info) return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor \"{}\": unknown type id {}", name, type);
  uint64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] < 1)
      return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor \"{}\": dimension {} is {}", name, d, ne[d]);
    if (d > 0 && __builtin_mul_overflow(rows, static_cast<uint64_t>(ne[d]), &rows))
      return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor \"{}\": size overflows", name);
  }
  auto row = quant::row_size(info->type, ne[0]);
  if (!row.ok()) return row.error().wrap(fmt::format("gguf writer: tensor \"{}\"", name));
  if (__builtin_mul_overflow(*row, rows, nbytes) ||
      *nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 2)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor \"{}\": size overflows", name);
  return Status::Ok();
}

Status Writer::add_tensor(std::string name, uint32_t type, std::vector<int64_t> ne, std::span<const uint8_t> data) {
  RETURN_IF_ERROR(add_tensor_view(std::move(name), type, std::move(ne), data));
  PendingTensor& t = tensors_.back();
  t.owned.assign(data.begin(), data.end());
  t.view = {};
  return Status::Ok();
}

Status Writer::add_tensor_view(std::string name, uint32_t type, std::vector<int64_t> ne,
                               std::span<const uint8_t> data) {
  uint64_t nbytes = 0;
  RETURN_IF_ERROR(check_tensor(name, type, ne, &nbytes));
  if (data.size() != nbytes)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor \"{}\" needs {} bytes of data, got {}", name,
                      nbytes, data.size());
  PendingTensor t;
  t.name = std::move(name);
  t.type = type;
  t.ne = std::move(ne);
  t.nbytes = nbytes;
  t.view = data;
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

Status Writer::add_tensor_producer(std::string name, uint32_t type, std::vector<int64_t> ne, Producer producer) {
  uint64_t nbytes = 0;
  RETURN_IF_ERROR(check_tensor(name, type, ne, &nbytes));
  if (!producer) return make_error(ErrorCode::kInvalidArgument, "gguf writer: tensor \"{}\" has no producer", name);
  PendingTensor t;
  t.name = std::move(name);
  t.type = type;
  t.ne = std::move(ne);
  t.nbytes = nbytes;
  t.producer = std::move(producer);
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

Result<std::string> Writer::header(uint64_t* alignment) const {
  if (version_ != 2 && version_ != 3)
    return make_error(ErrorCode::kInvalidArgument, "gguf writer: version {} is not supported (2 or 3)", version_);
  *alignment = kDefaultAlignment;
  for (const auto& [k, v] : kv_) {
    RETURN_IF_ERROR(check_key(k));
    RETURN_IF_ERROR(check_value(k, v, 0));
    if (k == "general.alignment") {
      if (v.type != ValueType::kUint32 || v.u == 0 || (v.u & (v.u - 1)) != 0 || v.u > Limits{}.max_alignment)
        return make_error(ErrorCode::kInvalidArgument,
                          "gguf writer: general.alignment must be a uint32 power of two up to {}", Limits{}.max_alignment);
      *alignment = v.u;
    }
  }
  std::string out;
  put<uint32_t>(out, 0x46554747);  // "GGUF"
  put<uint32_t>(out, version_);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_string(out, k);
    put<uint32_t>(out, static_cast<uint32_t>(v.type));
    put_value(out, v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<int64_t>(out, d);
    put<uint32_t>(out, t.type);
    put<uint64_t>(out, offset);
    offset += pad(t.nbytes, *alignment);
  }
  out.resize(pad(out.size(), *alignment), '\0');
  return out;
}

Status Writer::emit_data(uint64_t alignment, const std::function<Status(std::span<const uint8_t>)>& sink) const {
  static const uint8_t kZeros[256] = {};
  std::vector<uint8_t> buf;
  for (const auto& t : tensors_) {
    std::span<const uint8_t> bytes;
    if (t.producer) {
      buf.assign(t.nbytes, 0);
      auto st = t.producer(std::span<uint8_t>(buf));
      if (!st.ok()) return st.error().wrap(fmt::format("gguf writer: producing tensor \"{}\"", t.name));
      bytes = buf;
    } else {
      bytes = t.owned.empty() ? t.view : std::span<const uint8_t>(t.owned);
    }
    RETURN_IF_ERROR(sink(bytes));
    uint64_t zeros = pad(t.nbytes, alignment) - t.nbytes;
    while (zeros > 0) {
      uint64_t n = std::min<uint64_t>(zeros, sizeof kZeros);
      RETURN_IF_ERROR(sink(std::span<const uint8_t>(kZeros, n)));
      zeros -= n;
    }
    if (t.producer) std::vector<uint8_t>().swap(buf);
  }
  return Status::Ok();
}

Result<std::string> Writer::serialize() const {
  uint64_t alignment = 0;
  ASSIGN_OR_RETURN(std::string out, header(&alignment));
  RETURN_IF_ERROR(emit_data(alignment, [&](std::span<const uint8_t> b) {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  }));
  return out;
}

namespace {

Status write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "cannot write {}: {}", path, std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

}  // namespace

Status Writer::write(const std::string& path) const {
  uint64_t alignment = 0;
  ASSIGN_OR_RETURN(std::string head, header(&alignment));
  std::string tmp = temp_path_for(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create {}: {}", tmp, std::strerror(errno));
  // Small pieces (padding, tiny tensors) are batched so a file is not thousands of syscalls.
  std::string pending = std::move(head);
  auto flush = [&]() -> Status {
    Status st = write_all(fd, pending.data(), pending.size(), tmp);
    pending.clear();
    return st;
  };
  Status st = emit_data(alignment, [&](std::span<const uint8_t> b) -> Status {
    if (b.size() >= (1u << 20)) {
      RETURN_IF_ERROR(flush());
      return write_all(fd, b.data(), b.size(), tmp);
    }
    pending.append(reinterpret_cast<const char*>(b.data()), b.size());
    return pending.size() >= (1u << 20) ? flush() : Status::Ok();
  });
  if (st.ok()) st = flush();
  if (st.ok() && ::fsync(fd) != 0) st = make_error(ErrorCode::kIo, "cannot sync {}: {}", tmp, std::strerror(errno));
  if (::close(fd) != 0 && st.ok()) st = make_error(ErrorCode::kIo, "cannot close {}: {}", tmp, std::strerror(errno));
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = make_error(ErrorCode::kIo, "cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  auto slash = path.find_last_of('/');
  return fsync_dir(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

}  // namespace paddock::gguf
