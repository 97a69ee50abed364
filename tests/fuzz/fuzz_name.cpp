// libFuzzer target: model-name and digest parsing. Any accepted name must yield path components
// that are safe single directory entries, so the manifest path stays under the store root; the
// display form must parse back to an equal name; accepted digests are canonical.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/store.h"

using paddock::store::Name;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool safe_component(const std::string& c) {
  if (c.empty() || c == "." || c == ".." || c.size() > 350) return false;
  for (char ch : c) {
    auto u = static_cast<unsigned char>(ch);
    if (ch == '/' || ch == '\\' || ch == '%' || u < 0x21 || u > 0x7e) return false;
  }
  return c.find("..") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto n = Name::parse(s);
  if (n.ok()) {
    auto comps = n->manifest_components();
    require(comps.size() == 5 && comps[0] == "manifests");
    std::string path = "/store";
    for (const auto& c : comps) {
      require(safe_component(c));
      path += "/" + c;
    }
    // Lexically normalised, the path must still start with the root.
    require(path.rfind("/store/manifests/", 0) == 0);
    auto back = Name::parse(n->display());
    require(back.ok() && back->equal_fold(*n));
    auto full = Name::parse(n->full());
    require(full.ok() && full->full() == n->full());
  }
  for (bool dash : {false, true}) {
    auto d = paddock::store::parse_digest(s, dash);
    if (d.ok()) {
      require(d->size() == 71 && d->rfind("sha256:", 0) == 0);
      std::string file = paddock::store::blob_file_name(*d);
      require(safe_component(file));
    }
  }
  return 0;
}
