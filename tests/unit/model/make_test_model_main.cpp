// paddock_make_test_model OUT_DIR SPEC...: writes OUT_DIR/<name>.gguf for each spec
// ("arch:type[:k=v...]", see test_model.h) and prints "<name> <sha256> <path> <n_vocab>" per model.
// Used by tools/llamacpp_oracle.mjs and bench/cpu/run.sh.
#include <algorithm>
#include <cstdio>
#include <string>

#include "test_model.h"
#include "util/sha256.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR SPEC...\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  for (int i = 2; i < argc; ++i) {
    auto spec = paddock::testing::parse_test_model_spec(argv[i]);
    if (!spec.ok()) {
      std::fprintf(stderr, "error: %s\n", spec.error().message().c_str());
      return 1;
    }
    auto w = paddock::testing::make_test_model(*spec);
    if (!w.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", argv[i], w.error().message().c_str());
      return 1;
    }
    const std::string name = paddock::testing::test_model_name(*spec);
    const std::string path = dir + "/" + name + ".gguf";
    auto st = w->write(path);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
      return 1;
    }
    auto sha = paddock::sha256_file_hex(path);
    auto f = paddock::gguf::File::open(path);
    const paddock::gguf::TensorInfo* emb = f.ok() ? f->tensor("token_embd.weight") : nullptr;
    const long long n_vocab = emb != nullptr ? static_cast<long long>(emb->ne[1]) : 0;
    std::printf("%s %s %s %lld\n", name.c_str(), sha.ok() ? sha->c_str() : "?", path.c_str(), n_vocab);
  }
  return 0;
}
