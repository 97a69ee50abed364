// Shared helpers for the template tests: fixture loading (tests run in tests/unit/template).
#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace paddock::chat_template::testing {

inline std::string fixture_path(const std::string& name) { return "../../fixtures/template/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline nlohmann::ordered_json load_json(const std::string& name) {
  return nlohmann::ordered_json::parse(read_file(fixture_path(name)));
}

}  // namespace paddock::chat_template::testing
