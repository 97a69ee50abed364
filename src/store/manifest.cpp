// Manifest and config-blob JSON: strict parsing (schema, media types, digests, sizes) and
// serialisation byte-compatible with Go's json.Encoder, which is how Ollama writes them.
#include <cmath>

#include <fmt/format.h>

#include "store/store.h"

namespace paddock::store {
namespace {

using ojson = nlohmann::ordered_json;

// Go's encoder escapes <, > and & (HTML safety) and U+2028/U+2029; nlohmann writes them raw.
// These bytes only ever occur inside JSON strings, so a textual rewrite is exact.
std::string go_json(const ojson& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else if (static_cast<unsigned char>(c) == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
             (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  out += '\n';
  return out;
}

Result<ojson> parse_json(std::string_view text, const char* what) {
  ojson j = ojson::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::kCorrupt, "{} is not valid JSON", what);
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, "{} is not a JSON object", what);
  return j;
}

Result<std::string> get_str(const ojson& j, const char* key, bool required, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return make_error(ErrorCode::kCorrupt, "{}: missing \"{}\"", what, key);
    return std::string();
  }
  if (!it->is_string()) return make_error(ErrorCode::kCorrupt, "{}: \"{}\" is not a string", what, key);
  return it->get<std::string>();
}

Result<Layer> parse_layer(const ojson& j, const char* what) {
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, "{} is not an object", what);
  Layer l;
  ASSIGN_OR_RETURN(l.media_type, get_str(j, "mediaType", true, what));
  ASSIGN_OR_RETURN(std::string digest, get_str(j, "digest", true, what));
  auto d = parse_digest(digest);
  if (!d.ok()) return make_error(ErrorCode::kCorrupt, "{}: {}", what, d.error().message());
  l.digest = std::move(d).value();
  auto it = j.find("size");
  if (it == j.end() || !it->is_number_integer()) return make_error(ErrorCode::kCorrupt, "{}: missing or bad \"size\"", what);
  if (it->is_number_unsigned()) l.size = it->get<uint64_t>();
  else if (it->get<int64_t>() >= 0) l.size = static_cast<uint64_t>(it->get<int64_t>());
  else return make_error(ErrorCode::kCorrupt, "{}: negative size", what);
  if (l.size > (1ull << 50)) return make_error(ErrorCode::kCorrupt, "{}: size out of range", what);
  ASSIGN_OR_RETURN(l.from, get_str(j, "from", false, what));
  ASSIGN_OR_RETURN(l.name, get_str(j, "name", false, what));
  return l;
}

ojson layer_json(const Layer& l) {
  ojson j = ojson::object();
  j["mediaType"] = l.media_type;
  j["digest"] = l.digest;
  j["size"] = l.size;
  if (!l.from.empty()) j["from"] = l.from;
  if (!l.name.empty()) j["name"] = l.name;
  return j;
}

}  // namespace

Result<Manifest> Manifest::parse(std::string_view text) {
  ASSIGN_OR_RETURN(ojson j, parse_json(text, "manifest"));
  Manifest m;
  auto sv = j.find("schemaVersion");
  if (sv == j.end() || !sv->is_number_integer() || sv->get<int64_t>() != 2) {
    return make_error(ErrorCode::kCorrupt, "manifest: schemaVersion must be 2");
  }
  ASSIGN_OR_RETURN(m.media_type, get_str(j, "mediaType", false, "manifest"));
  if (!m.media_type.empty() && m.media_type != kManifestMediaType && m.media_type != kOciManifestMediaType) {
    return make_error(ErrorCode::kCorrupt, "manifest: unsupported mediaType");
  }
  auto cfg = j.find("config");
  if (cfg == j.end()) return make_error(ErrorCode::kCorrupt, "manifest: missing config");
  ASSIGN_OR_RETURN(m.config, parse_layer(*cfg, "manifest config"));
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) return make_error(ErrorCode::kCorrupt, "manifest: missing layers");
  if (layers->size() > kMaxLayers) return make_error(ErrorCode::kCorrupt, "manifest: more than {} layers", kMaxLayers);
  for (const auto& l : *layers) {
    ASSIGN_OR_RETURN(Layer layer, parse_layer(l, "manifest layer"));
    m.layers.push_back(std::move(layer));
  }
  return m;
}

std::string Manifest::serialize() const {
  ojson j = ojson::object();
  j["schemaVersion"] = schema_version;
  j["mediaType"] = media_type;
  j["config"] = layer_json(config);
  ojson arr = ojson::array();
  for (const auto& l : layers) arr.push_back(layer_json(l));
  j["layers"] = std::move(arr);
  return go_json(j);
}

uint64_t Manifest::total_size() const {
  uint64_t s = config.size;
  for (const auto& l : layers) s += l.size;
  return s;
}

const Layer* Manifest::find(std::string_view media_type) const {
  for (const auto& l : layers) {
    if (l.media_type == media_type) return &l;
  }
  return nullptr;
}

Result<Config> Config::parse(std::string_view text) {
  ASSIGN_OR_RETURN(ojson j, parse_json(text, "model config"));
  Config c;
  const char* w = "model config";
  ASSIGN_OR_RETURN(c.model_format, get_str(j, "model_format", false, w));
  ASSIGN_OR_RETURN(c.model_family, get_str(j, "model_family", false, w));
  ASSIGN_OR_RETURN(c.model_type, get_str(j, "model_type", false, w));
  ASSIGN_OR_RETURN(c.file_type, get_str(j, "file_type", false, w));
  ASSIGN_OR_RETURN(c.renderer, get_str(j, "renderer", false, w));
  ASSIGN_OR_RETURN(c.parser, get_str(j, "parser", false, w));
  ASSIGN_OR_RETURN(c.requires_version, get_str(j, "requires", false, w));
  ASSIGN_OR_RETURN(c.base_name, get_str(j, "base_name", false, w));
  ASSIGN_OR_RETURN(c.architecture, get_str(j, "architecture", false, w));
  ASSIGN_OR_RETURN(c.os, get_str(j, "os", false, w));
  auto str_list = [&](const ojson& v, std::vector<std::string>& out, const char* key) -> Status {
    if (v.is_null()) return Status::Ok();
    if (!v.is_array()) return make_error(ErrorCode::kCorrupt, "model config: \"{}\" is not an array", key);
    for (const auto& e : v) {
      if (!e.is_string()) return make_error(ErrorCode::kCorrupt, "model config: \"{}\" holds a non-string", key);
      out.push_back(e.get<std::string>());
    }
    return Status::Ok();
  };
  if (auto it = j.find("model_families"); it != j.end()) {
    c.families_null = it->is_null();
    RETURN_IF_ERROR(str_list(*it, c.model_families, "model_families"));
  } else {
    c.families_null = true;
  }
  if (auto it = j.find("capabilities"); it != j.end()) RETURN_IF_ERROR(str_list(*it, c.capabilities, "capabilities"));
  for (const char* key : {"context_length", "embedding_length"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return make_error(ErrorCode::kCorrupt, "model config: \"{}\" is not a non-negative integer", key);
    }
    (std::string_view(key) == "context_length" ? c.context_length : c.embedding_length) = it->get<uint64_t>();
  }
  if (auto it = j.find("rootfs"); it != j.end() && it->is_object()) {
    if (auto d = it->find("diff_ids"); d != it->end()) RETURN_IF_ERROR(str_list(*d, c.diff_ids, "rootfs.diff_ids"));
  }
  return c;
}

std::string Config::serialize() const {
  ojson j = ojson::object();
  j["model_format"] = model_format;
  j["model_family"] = model_family;
  j["model_families"] = (families_null && model_families.empty()) ? ojson(nullptr) : ojson(model_families);
  j["model_type"] = model_type;
  j["file_type"] = file_type;
  if (!renderer.empty()) j["renderer"] = renderer;
  if (!parser.empty()) j["parser"] = parser;
  if (!requires_version.empty()) j["requires"] = requires_version;
  if (!capabilities.empty()) j["capabilities"] = capabilities;
  if (context_length) j["context_length"] = context_length;
  if (embedding_length) j["embedding_length"] = embedding_length;
  if (!base_name.empty()) j["base_name"] = base_name;
  j["architecture"] = architecture;
  j["os"] = os;
  ojson rootfs = ojson::object();
  rootfs["type"] = "layers";
  rootfs["diff_ids"] = diff_ids.empty() ? ojson(nullptr) : ojson(diff_ids);
  j["rootfs"] = std::move(rootfs);
  return go_json(j);
}

std::string human_parameter_count(uint64_t n) {
  constexpr double kThousand = 1e3, kMillion = 1e6, kBillion = 1e9;
  auto v = static_cast<double>(n);
  if (v >= kBillion) {
    double x = v / kBillion;
    return x == std::floor(x) ? fmt::format("{:.0f}B", x) : fmt::format("{:.1f}B", x);
  }
  if (v >= kMillion) {
    double x = v / kMillion;
    return x == std::floor(x) ? fmt::format("{:.0f}M", x) : fmt::format("{:.2f}M", x);
  }
  if (v >= kThousand) return fmt::format("{:.0f}K", v / kThousand);
  return std::to_string(n);
}

}  // namespace paddock::store
