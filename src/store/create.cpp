// `create`: builds a model from a Modelfile. FROM names a GGUF file (offline CLI only), a blob
// digest, or an existing model; the other instructions add or replace text/params layers. The
// config blob is filled from the GGUF metadata; every blob is digest-verified and every write
// atomic, and the manifest is written last so a half-done create is never visible.
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "store/gguf_info.h"
#include "store/store.h"
#include "util/sha256.h"

namespace paddock::store {
namespace {

bool is_gguf_magic(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char m[4] = {};
  size_t n = std::fread(m, 1, 4, f);
  std::fclose(f);
  return n == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
}

std::string expand_path(const std::string& p, const std::string& base) {
  if (p == "~" || p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + p.substr(1);
  }
  if (!p.empty() && p[0] == '/') return p;
  return base + "/" + p;
}

void replace_layers(std::vector<Layer>& layers, std::initializer_list<std::string_view> types) {
  layers.erase(std::remove_if(layers.begin(), layers.end(),
                              [&](const Layer& l) {
                                return std::find(types.begin(), types.end(), l.media_type) != types.end();
                              }),
               layers.end());
}

}  // namespace

Status Store::create(std::string_view name_str, const Modelfile& mf, const CreateOptions& opts) {
  ASSIGN_OR_RETURN(Name name, Name::parse(name_str));
  auto status = [&](const std::string& s) { if (opts.status) opts.status(s); };

  const ModelfileCommand* from = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::optional<std::string> tmpl, system, requires_version, renderer, parser;
  std::vector<std::string> licenses;
  std::vector<const ModelfileCommand*> adapters;
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& c : mf.commands) {
    if (c.name == "from") {
      if (from) return make_error(ErrorCode::kInvalidArgument, "Modelfile line {}: more than one FROM", c.line);
      from = &c;
    } else if (c.name == "parameter") {
      params.emplace_back(c.key, c.value);
    } else if (c.name == "template") {
      tmpl = c.value;
    } else if (c.name == "system") {
      system = c.value;
    } else if (c.name == "license") {
      licenses.push_back(c.value);
    } else if (c.name == "message") {
      messages.push_back({{"role", c.key}, {"content", c.value}});
    } else if (c.name == "adapter") {
      adapters.push_back(&c);
    } else if (c.name == "requires") {
      requires_version = c.value;
    } else if (c.name == "renderer") {
      renderer = c.value;
    } else if (c.name == "parser") {
      parser = c.value;
    }
  }
  if (!from) return make_error(ErrorCode::kInvalidArgument, "Modelfile has no FROM line");
  // The layer count is checked again once the base model's layers are known; this first check
  // refuses a hopeless request before a file is imported.
  if (licenses.size() + adapters.size() + 1 > kMaxLayers)
    return make_error(ErrorCode::kInvalidArgument, "too many layers: this model would have more than {} (at most {})",
                      kMaxLayers, kMaxLayers);
  // Type-check parameters before anything is written.
  auto new_params = parameters_to_json(params);
  if (!new_params.ok()) return new_params.error();

  // Resolve a FROM/ADAPTER argument to a GGUF blob: digest, or (CLI only) a local file.
  auto gguf_blob = [&](const ModelfileCommand& c) -> Result<std::string> {
    if (c.value.rfind("sha256", 0) == 0) {
      auto d = parse_digest(c.value, true);
      if (!d.ok()) return d.error().wrap(fmt::format("Modelfile line {}", c.line));
      ASSIGN_OR_RETURN(bool have, has_blob(*d));
      if (!have) return make_error(ErrorCode::kNotFound, "Modelfile line {}: blob {} not found", c.line, *d);
      return *d;
    }
    if (!opts.allow_paths) {
      return make_error(ErrorCode::kInvalidArgument, "Modelfile line {}: only model names and blob digests are accepted", c.line);
    }
    std::string path = expand_path(c.value, opts.base_dir);
    if (!is_gguf_magic(path)) {
      return make_error(ErrorCode::kInvalidArgument, "Modelfile line {}: {} is not a GGUF file", c.line, c.value);
    }
    status("copying file " + c.value);
    auto d = import_file(path, opts.progress);
    if (!d.ok()) return d.error().wrap(fmt::format("Modelfile line {}", c.line));
    return d;
  };

  Config cfg;
  std::vector<Layer> layers;
  nlohmann::json base_params = nlohmann::json::object();

  auto from_name = Name::parse(from->value);
  std::optional<Found> base;
  if (from_name.ok() && from->value.rfind("sha256", 0) != 0) {
    if (auto f = find_manifest(*from_name); f.ok()) base = std::move(f).value();
  }
  if (base) {
    // FROM an existing model: inherit its layers and config.
    auto bm = Manifest::parse(base->bytes);
    if (!bm.ok()) return bm.error().wrap("base model " + base->name.display());
    ASSIGN_OR_RETURN(std::string cfg_bytes, read_blob(bm->config.digest, kMaxConfigBytes));
    auto c = Config::parse(cfg_bytes);
    if (!c.ok()) return c.error().wrap("base model " + base->name.display());
    cfg = std::move(c).value();
    for (auto l : bm->layers) {
      if (l.media_type == kMediaParams) {
        ASSIGN_OR_RETURN(std::string p, read_blob(l.digest, kMaxTextLayerBytes));
        auto j = nlohmann::json::parse(p, nullptr, false);
        if (!j.is_discarded() && j.is_object()) base_params = std::move(j);
        continue;
      }
      if (l.media_type == kMediaModel && l.from.empty()) l.from = base->name.display();
      RETURN_IF_ERROR(touch_blob(l.digest));
      status("using existing layer " + l.digest);
      layers.push_back(std::move(l));
    }
  } else {
    if (from->value.rfind("sha256", 0) != 0 && !opts.allow_paths) {
      return make_error(ErrorCode::kNotFound, "model \"{}\" not found", from->value.substr(0, 200));
    }
    if (from->value.rfind("sha256", 0) != 0 && from_name.ok() && from->value.find('/') == std::string::npos &&
        from->value.find(".gguf") == std::string::npos) {
      struct stat st {};
      if (::stat(expand_path(from->value, opts.base_dir).c_str(), &st) != 0) {
        return make_error(ErrorCode::kNotFound, "Modelfile line {}: model \"{}\" not found", from->line, from->value);
      }
    }
    ASSIGN_OR_RETURN(std::string digest, gguf_blob(*from));
    ASSIGN_OR_RETURN(std::string path, blob_path(digest));
    if (opts.cancelled && opts.cancelled()) return make_error(ErrorCode::kCancelled, "create of {} cancelled", name.display());
    status("parsing GGUF");
    auto g = detail::read_gguf(path, false, false);
    if (!g.ok()) return g.error().wrap(fmt::format("Modelfile line {}", from->line));
    cfg.model_format = "gguf";
    cfg.model_family = g->architecture;
    cfg.model_families = {g->architecture};
    cfg.model_type = human_parameter_count(g->parameter_count);
    cfg.file_type = g->file_type;
    cfg.context_length = g->context_length;
    cfg.embedding_length = g->embedding_length;
    struct stat st {};
    ::stat(path.c_str(), &st);
    layers.push_back(Layer{std::string(kMediaModel), digest, static_cast<uint64_t>(st.st_size), "", ""});
    status("creating new layer " + digest);
  }

  for (const auto* a : adapters) {
    ASSIGN_OR_RETURN(std::string digest, gguf_blob(*a));
    ASSIGN_OR_RETURN(std::string path, blob_path(digest));
    struct stat st {};
    ::stat(path.c_str(), &st);
    layers.push_back(Layer{std::string(kMediaAdapter), digest, static_cast<uint64_t>(st.st_size), "", ""});
  }

  // Text layers are only named here (digest, size); they are written once the whole model is
  // known to be within the limits every reader applies.
  std::vector<std::string> texts;
  auto text_layer = [&](std::string_view media, std::string text) -> Status {
    if (text.size() > kMaxTextLayerBytes)
      return make_error(ErrorCode::kInvalidArgument, "{} layer is {} bytes (at most {})",
                        media.substr(media.rfind('.') + 1), text.size(), kMaxTextLayerBytes);
    layers.push_back(Layer{std::string(media), "sha256:" + sha256_hex(text), text.size(), "", ""});
    texts.push_back(std::move(text));
    return Status::Ok();
  };
  if (tmpl) {
    replace_layers(layers, {kMediaTemplate, kMediaPrompt});
    RETURN_IF_ERROR(text_layer(kMediaTemplate, *tmpl));
  }
  if (system) {
    replace_layers(layers, {kMediaSystem});
    RETURN_IF_ERROR(text_layer(kMediaSystem, *system));
  }
  if (!messages.empty()) {
    replace_layers(layers, {kMediaMessages});
    RETURN_IF_ERROR(text_layer(kMediaMessages, messages.dump()));
  }
  if (!licenses.empty()) {
    replace_layers(layers, {kMediaLicense});
    for (const auto& l : licenses) RETURN_IF_ERROR(text_layer(kMediaLicense, l));
  }
  // Parameters: the base model's, overridden key by key by this Modelfile's.
  for (auto it = new_params->begin(); it != new_params->end(); ++it) base_params[it.key()] = it.value();
  if (!base_params.empty()) RETURN_IF_ERROR(text_layer(kMediaParams, base_params.dump()));

  if (requires_version) cfg.requires_version = *requires_version;
  if (renderer) cfg.renderer = *renderer;
  if (parser) cfg.parser = *parser;
  if (layers.size() > kMaxLayers)
    return make_error(ErrorCode::kInvalidArgument, "too many layers: this model would have {} (at most {})",
                      layers.size(), kMaxLayers);
  cfg.diff_ids.clear();
  for (const auto& l : layers) cfg.diff_ids.push_back(l.digest);
  const std::string cfg_text = cfg.serialize();
  if (cfg_text.size() > kMaxConfigBytes)
    return make_error(ErrorCode::kInvalidArgument, "model config would be {} bytes (at most {})", cfg_text.size(),
                      kMaxConfigBytes);
  Manifest m;
  m.config = Layer{std::string(kConfigMediaType), "sha256:" + sha256_hex(cfg_text), cfg_text.size(), "", ""};
  m.layers = std::move(layers);
  if (size_t n = m.serialize().size(); n > kMaxManifestBytes)
    return make_error(ErrorCode::kInvalidArgument, "manifest would be {} bytes (at most {})", n, kMaxManifestBytes);

  // Within every limit: now write the text layers, the config and, last, the manifest.
  for (const auto& t : texts) {
    ASSIGN_OR_RETURN(std::string d, write_blob_bytes(t));
    status("creating new layer " + d);
  }
  if (auto d = write_blob_bytes(cfg_text); !d.ok()) return d.error();
  if (opts.cancelled && opts.cancelled())
    return make_error(ErrorCode::kCancelled, "create of {} cancelled", name.display());
  status("writing manifest");
  RETURN_IF_ERROR(write_manifest(name, m));
  status("success");
  return Status::Ok();
}

}  // namespace paddock::store
