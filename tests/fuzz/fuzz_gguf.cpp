// libFuzzer target for the GGUF reader: any input must parse or fail with an error, never crash,
// read out of bounds or allocate without bound. On success, touches every tensor byte and
// re-serialises the file so the writer is fuzzed on whatever the reader accepts.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddock;
  gguf::Limits limits;
  limits.max_metadata_bytes = 64ull << 20;
  auto f = gguf::File::parse(std::span<const uint8_t>(data, size), limits);
  if (!f.ok()) return 0;
  uint64_t sum = 0;
  gguf::Writer w(f->version());
  w.copy_metadata(*f);
  for (const auto& t : f->tensors()) {
    for (uint64_t k = 0; k < t.nbytes; ++k) sum += t.data[k];
    (void)w.add_tensor_view(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims),
                            std::span<const uint8_t>(t.data, t.nbytes));
    (void)f->get_uint(t.name);
  }
  for (const auto& [k, v] : f->kv()) {
    (void)f->get_int(k);
    (void)f->get_float_array(k);
    (void)f->get_string_array(k);
  }
  auto bytes = w.serialize();
  if (bytes.ok()) {
    // What we write must read back (nested arrays deeper than the default are refused by both).
    auto again = gguf::File::parse(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
    if (!again.ok()) __builtin_trap();
  }
  return static_cast<int>(sum & 0);
}
