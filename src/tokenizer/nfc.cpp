// nfc: Unicode NFC (canonical decomposition, canonical ordering, canonical composition) for the
// normalizers that ask for it (Qwen2 family). Tables come from tools/tokenizer_oracle_nfc.py.
// Invalid UTF-8 bytes pass through unchanged and block composition across them.
#include <algorithm>
#include <cstdint>

#include "tokenizer/vocab.h"
#include "util/utf8.h"

namespace paddock::tokenizer {
namespace {

#include "tokenizer/nfc_tables.inc"

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;
constexpr int64_t kRawByte = int64_t{1} << 32;  // marks an invalid byte kept as-is

uint8_t ccc_of(uint32_t cp) {
  auto it = std::lower_bound(std::begin(kCcc), std::end(kCcc), cp, [](const CccEntry& e, uint32_t v) { return e.cp < v; });
  return it != std::end(kCcc) && it->cp == cp ? it->ccc : 0;
}

void decompose(uint32_t cp, std::vector<int64_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out->push_back(kTBase + s % kTCount);
    return;
  }
  auto it = std::lower_bound(std::begin(kDecomp), std::end(kDecomp), cp, [](const DecompEntry& e, uint32_t v) { return e.cp < v; });
  if (it != std::end(kDecomp) && it->cp == cp) {
    for (int k = 0; k < it->len; ++k) out->push_back(kDecompFlat[it->off + k]);
  } else {
    out->push_back(cp);
  }
}

int64_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  auto it = std::lower_bound(std::begin(kComp), std::end(kComp), std::make_pair(a, b),
                             [](const CompEntry& e, const std::pair<uint32_t, uint32_t>& v) {
                               return e.a < v.first || (e.a == v.first && e.b < v.second);
                             });
  return it != std::end(kComp) && it->a == a && it->b == b ? static_cast<int64_t>(it->c) : int64_t{-1};
}

}  // namespace

bool is_nfc_quick(std::string_view s) {
  uint8_t last_ccc = 0;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      last_ccc = 0;
      ++i;
      continue;
    }
    int len = 1;
    int32_t cp = utf8::decode(s, i, &len);
    if (cp < 0) return false;  // let the full pass handle invalid bytes
    i += static_cast<size_t>(len);
    auto u = static_cast<uint32_t>(cp);
    if (u < 0x300 || (u >= 0x4E00 && u <= 0x9FFF) || (u >= 0xAC00 && u <= 0xD7A3) || (u >= 0x3400 && u <= 0x4DBF)) {
      last_ccc = 0;  // below U+0300, CJK ideographs, Hangul syllables: starters, NFC_QC=Yes
      continue;
    }
    auto it = std::upper_bound(std::begin(kNfcUnsafe), std::end(kNfcUnsafe), u, [](uint32_t v, const CpRange& r) { return v < r.lo; });
    if (it != std::begin(kNfcUnsafe) && u <= std::prev(it)->hi) return false;
    uint8_t cc = ccc_of(u);
    if (cc != 0 && last_ccc > cc) return false;
    last_ccc = cc;
  }
  return true;
}

std::string nfc_normalize(std::string_view s) {
  std::vector<int64_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    int len = 1;
    int32_t cp = utf8::decode(s, i, &len);
    if (cp < 0) {
      cps.push_back(kRawByte | static_cast<uint8_t>(s[i]));
    } else {
      decompose(static_cast<uint32_t>(cp), &cps);
    }
    i += static_cast<size_t>(len);
  }
  auto ccc = [](int64_t v) -> uint8_t { return v >= kRawByte ? 0 : ccc_of(static_cast<uint32_t>(v)); };
  // Canonical ordering: stable-sort each run of non-starters by combining class.
  for (size_t i = 0; i < cps.size();) {
    if (ccc(cps[i]) == 0) { ++i; continue; }
    size_t j = i;
    while (j < cps.size() && ccc(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + static_cast<ptrdiff_t>(i), cps.begin() + static_cast<ptrdiff_t>(j),
                     [&](int64_t a, int64_t b) { return ccc(a) < ccc(b); });
    i = j;
  }
  // Canonical composition.
  std::vector<int64_t> out;
  out.reserve(cps.size());
  int64_t starter = -1;  // index in out
  int last_ccc = -1;
  for (int64_t v : cps) {
    uint8_t c = ccc(v);
    if (starter >= 0 && v < kRawByte && out[static_cast<size_t>(starter)] < kRawByte) {
      bool blocked = last_ccc != -1 && (last_ccc == 0 || last_ccc >= c);
      if (!blocked) {
        int64_t comp = compose(static_cast<uint32_t>(out[static_cast<size_t>(starter)]), static_cast<uint32_t>(v));
        if (comp >= 0) {
          out[static_cast<size_t>(starter)] = comp;
          continue;
        }
      }
    }
    if (c == 0) {
      starter = static_cast<int64_t>(out.size());
      last_ccc = -1;
    } else {
      last_ccc = c;
    }
    out.push_back(v);
  }
  std::string r;
  r.reserve(s.size());
  for (int64_t v : out) {
    if (v >= kRawByte) {
      r.push_back(static_cast<char>(v & 0xFF));
    } else {
      utf8::append(r, static_cast<uint32_t>(v));
    }
  }
  return r;
}

}  // namespace paddock::tokenizer
