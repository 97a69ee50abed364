// Modelfile parsing (FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, LICENSE, MESSAGE, REQUIRES,
// RENDERER, PARSER; comments; "..." and """multi-line""" values) and typing of PARAMETERs the
// way Ollama's api.Options does. Errors name the line.
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>

#include "store/store.h"
#include "util/utf8.h"

namespace paddock::store {
namespace {

enum class ParamType { kInt, kFloat, kBool, kString, kStringList };

// Ollama's options (api.Options + api.Runner) and the legacy keys old Modelfiles still carry.
const std::map<std::string, ParamType, std::less<>>& param_types() {
  static const std::map<std::string, ParamType, std::less<>> m = {
      {"num_keep", ParamType::kInt}, {"seed", ParamType::kInt}, {"num_predict", ParamType::kInt},
      {"top_k", ParamType::kInt}, {"top_p", ParamType::kFloat}, {"min_p", ParamType::kFloat},
      {"typical_p", ParamType::kFloat}, {"repeat_last_n", ParamType::kInt}, {"temperature", ParamType::kFloat},
      {"repeat_penalty", ParamType::kFloat}, {"presence_penalty", ParamType::kFloat},
      {"frequency_penalty", ParamType::kFloat}, {"stop", ParamType::kStringList}, {"num_ctx", ParamType::kInt},
      {"num_batch", ParamType::kInt}, {"num_gpu", ParamType::kInt}, {"main_gpu", ParamType::kInt},
      {"use_mmap", ParamType::kBool}, {"num_thread", ParamType::kInt}, {"draft_num_predict", ParamType::kInt},
      // legacy, accepted for old Modelfiles
      {"numa", ParamType::kBool}, {"penalize_newline", ParamType::kBool}, {"tfs_z", ParamType::kFloat},
      {"mirostat", ParamType::kInt}, {"mirostat_tau", ParamType::kFloat}, {"mirostat_eta", ParamType::kFloat},
      {"low_vram", ParamType::kBool}, {"f16_kv", ParamType::kBool}, {"logits_all", ParamType::kBool},
      {"vocab_only", ParamType::kBool}, {"use_mlock", ParamType::kBool}, {"num_gqa", ParamType::kInt},
      {"rope_frequency_base", ParamType::kFloat}, {"rope_frequency_scale", ParamType::kFloat},
  };
  return m;
}

std::string to_lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return o;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

Error line_error(int line, std::string_view msg) {
  return make_error(ErrorCode::kInvalidArgument, "Modelfile line {}: {}", line, msg);
}

// Go strconv.ParseBool.
std::optional<bool> parse_bool(std::string_view s) {
  for (auto t : {"1", "t", "T", "TRUE", "true", "True"}) if (s == t) return true;
  for (auto f : {"0", "f", "F", "FALSE", "false", "False"}) if (s == f) return false;
  return std::nullopt;
}

}  // namespace

Result<Modelfile> Modelfile::parse(std::string_view text) {
  if (text.size() > kMaxModelfileBytes) {
    return make_error(ErrorCode::kInvalidArgument, "Modelfile is larger than {} bytes", kMaxModelfileBytes);
  }
  if (!utf8::is_valid(text)) return make_error(ErrorCode::kInvalidArgument, "Modelfile is not valid UTF-8");
  if (text.find('\0') != std::string_view::npos) return make_error(ErrorCode::kInvalidArgument, "Modelfile contains a NUL byte");
  // Split into lines up front so the line-length cap applies to every physical line.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.size() > kMaxModelfileLine) {
      return line_error(static_cast<int>(lines.size() + 1), fmt::format("line longer than {} bytes", kMaxModelfileLine));
    }
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  static const std::set<std::string, std::less<>> kKnown = {"from", "parameter", "template", "system", "adapter",
                                                            "license", "message", "requires", "renderer", "parser"};
  Modelfile mf;
  for (size_t i = 0; i < lines.size(); ++i) {
    int lineno = static_cast<int>(i + 1);
    std::string_view line = trim(lines[i]);
    if (line.empty() || line.front() == '#') continue;
    size_t w = 0;
    while (w < line.size() && !is_space(line[w])) ++w;
    std::string instr = to_lower(line.substr(0, w));
    if (!kKnown.count(instr)) {
      return line_error(lineno, fmt::format("unknown instruction \"{}\"", std::string(line.substr(0, std::min<size_t>(w, 40)))));
    }
    std::string_view rest = trim(line.substr(w));
    ModelfileCommand cmd;
    cmd.name = instr;
    cmd.line = lineno;
    if (instr == "parameter" || instr == "message") {
      size_t k = 0;
      while (k < rest.size() && !is_space(rest[k])) ++k;
      if (k == 0) return line_error(lineno, instr == "parameter" ? "PARAMETER needs a name and a value" : "MESSAGE needs a role and a text");
      cmd.key = instr == "parameter" ? to_lower(rest.substr(0, k)) : std::string(rest.substr(0, k));
      rest = trim(rest.substr(k));
      if (instr == "message" && cmd.key != "system" && cmd.key != "user" && cmd.key != "assistant") {
        return line_error(lineno, "MESSAGE role must be one of \"system\", \"user\" or \"assistant\"");
      }
    }
    if (rest.substr(0, 3) == "\"\"\"") {
      // Multi-line value: everything up to the closing """, verbatim.
      std::string value;
      std::string_view cur = rest.substr(3);
      size_t j = i;
      for (;;) {
        size_t close = cur.find("\"\"\"");
        if (close != std::string_view::npos) {
          value.append(cur.substr(0, close));
          if (!trim(cur.substr(close + 3)).empty()) return line_error(static_cast<int>(j + 1), "text after closing \"\"\"");
          break;
        }
        value.append(cur);
        if (++j >= lines.size()) return line_error(lineno, "unterminated \"\"\"");
        value += '\n';
        cur = lines[j];
        if (!cur.empty() && cur.back() == '\r') cur.remove_suffix(1);
      }
      i = j;
      cmd.value = std::move(value);
    } else if (!rest.empty() && rest.front() == '"') {
      if (rest.size() < 2 || rest.back() != '"') return line_error(lineno, "unterminated quoted value");
      std::string value;
      for (size_t k = 1; k + 1 < rest.size(); ++k) {
        if (rest[k] == '\\' && k + 2 < rest.size() && (rest[k + 1] == '"' || rest[k + 1] == '\\')) ++k;
        value += rest[k];
      }
      cmd.value = std::move(value);
    } else {
      cmd.value = std::string(rest);
    }
    if (cmd.value.empty() && instr != "system" && instr != "template" && instr != "license" && instr != "message") {
      return line_error(lineno, fmt::format("{} needs a value", to_lower(instr)));
    }
    mf.commands.push_back(std::move(cmd));
  }
  bool has_from = false;
  for (const auto& c : mf.commands) has_from |= c.name == "from";
  if (!has_from) return make_error(ErrorCode::kInvalidArgument, "Modelfile has no FROM line");
  return mf;
}

Result<nlohmann::json> parameters_to_json(const std::vector<std::pair<std::string, std::string>>& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : params) {
    auto it = param_types().find(key);
    if (it == param_types().end()) return make_error(ErrorCode::kInvalidArgument, "unknown parameter \"{}\"", key);
    switch (it->second) {
      case ParamType::kInt: {
        errno = 0;
        char* end = nullptr;
        long long v = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || errno == ERANGE || value.find_first_of(" \t") != std::string::npos) {
          return make_error(ErrorCode::kInvalidArgument, "parameter \"{}\": invalid integer \"{}\"", key, value.substr(0, 40));
        }
        out[key] = v;
        break;
      }
      case ParamType::kFloat: {
        errno = 0;
        char* end = nullptr;
        double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) ||
            value.find_first_of(" \txXpP") != std::string::npos) {
          return make_error(ErrorCode::kInvalidArgument, "parameter \"{}\": invalid number \"{}\"", key, value.substr(0, 40));
        }
        out[key] = v;
        break;
      }
      case ParamType::kBool: {
        auto b = parse_bool(value);
        if (!b) return make_error(ErrorCode::kInvalidArgument, "parameter \"{}\": invalid boolean \"{}\"", key, value.substr(0, 40));
        out[key] = *b;
        break;
      }
      case ParamType::kString:
        out[key] = value;
        break;
      case ParamType::kStringList:
        if (!out.contains(key)) out[key] = nlohmann::json::array();
        out[key].push_back(value);
        break;
    }
  }
  return out;
}

}  // namespace paddock::store
