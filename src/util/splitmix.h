// util: a small deterministic random stream (splitmix64) for generated test and demo weights:
// the same numbers on every platform and compiler, so generated files hash the same everywhere.
#pragma once
#include <cstdint>

namespace paddock {

// Next value of the splitmix64 stream whose state is `s`.
inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1) on a 24-bit grid: exactly representable in float, so identical everywhere.
inline float splitmix_uniform(uint64_t& s) {
  return static_cast<float>(splitmix64(s) >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

}  // namespace paddock
