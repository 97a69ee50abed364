// SIMD levels in tests: a level the CPU lacks is skipped out loud (printed once per level), and
// which levels this CPU has is read from /proc/cpuinfo, not from the dispatcher under test, so a
// dispatcher that refuses a level the CPU has fails (tests/unit/quant/kernels_test.cpp).
#pragma once
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "quant/kernels.h"

namespace paddock::quant::testing {

// The CPU flags (x86 /proc/cpuinfo "flags"); empty where there is no such file.
inline std::set<std::string> cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> out;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream ss(line.substr(line.find(':') + 1));
    for (std::string f; ss >> f;) out.insert(f);
    break;
  }
  return out;
}

// The flags each of our levels needs, in /proc/cpuinfo's spelling.
inline std::set<std::string> level_flags(const std::string& level) {
  if (level == "avx2") return {"avx2", "fma", "f16c"};
  if (level == "avx512") return {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"};
  return {};
}

inline bool cpu_has_level(const std::string& level) {
  static const std::set<std::string> have = cpuinfo_flags();
  for (const auto& f : level_flags(level))
    if (!have.count(f)) return false;
  return true;
}

// set_simd_level_for_testing, saying (once per level) when a level is not run.
inline bool use_simd_level(const char* level) {
  if (set_simd_level_for_testing(level)) return true;
  static std::set<std::string> told;
  if (told.insert(level).second)
    std::printf("[ NOT RUN  ] SIMD level %s: %s; its kernels are not tested on this machine\n", level,
                cpu_has_level(level) ? "the dispatcher refuses it although the CPU has it" : "this CPU lacks it");
  return false;
}

}  // namespace paddock::quant::testing
