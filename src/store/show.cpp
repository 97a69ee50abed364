// `show`: everything /api/show and `paddock show` report about one model — text layers,
// parameters, messages, GGUF metadata and tensors, capabilities, and a Modelfile that
// recreates the model.
#include <algorithm>

#include <fmt/format.h>

#include "store/gguf_info.h"
#include "store/store.h"
#include "util/log.h"

namespace paddock::store {
namespace {

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// A Modelfile value: bare when it survives the parser unchanged, else """triple-quoted""".
std::string quote(std::string_view v) {
  bool bare = !v.empty() && v.find_first_of("\n\"") == std::string_view::npos && v.front() != ' ' &&
              v.front() != '\t' && v.back() != ' ' && v.back() != '\t';
  return bare ? std::string(v) : "\"\"\"" + std::string(v) + "\"\"\"";
}

std::string param_value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return v.dump();
}

}  // namespace

nlohmann::json ShowResult::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (!license.empty()) j["license"] = license;
  j["modelfile"] = modelfile;
  if (!parameters.empty()) j["parameters"] = parameters;
  if (!template_text.empty()) j["template"] = template_text;
  if (!system.empty()) j["system"] = system;
  j["details"] = entry.details.to_json();
  if (!messages.empty()) j["messages"] = messages;
  j["model_info"] = model_info;
  nlohmann::json ts = nlohmann::json::array();
  for (const auto& t : tensors) ts.push_back({{"name", t.name}, {"type", t.type}, {"shape", t.shape}});
  j["tensors"] = std::move(ts);
  j["capabilities"] = capabilities;
  j["modified_at"] = format_time(entry.modified_at);
  return j;
}

Result<ShowResult> Store::show(std::string_view name, const ShowOptions& opts) const {
  ShowResult r;
  ASSIGN_OR_RETURN(r.entry, get(name));
  const Manifest& m = r.entry.manifest;
  std::vector<std::string> adapters;
  bool has_projector = false;
  for (const auto& l : m.layers) {
    auto text = [&]() -> Result<std::string> { return read_blob(l.digest, kMaxTextLayerBytes); };
    if (l.media_type == kMediaModel) {
      ASSIGN_OR_RETURN(r.model_path, blob_path(l.digest));
    } else if (l.media_type == kMediaTemplate || l.media_type == kMediaPrompt) {
      ASSIGN_OR_RETURN(r.template_text, text());
    } else if (l.media_type == kMediaSystem) {
      ASSIGN_OR_RETURN(r.system, text());
    } else if (l.media_type == kMediaLicense) {
      ASSIGN_OR_RETURN(std::string lic, text());
      r.licenses.push_back(std::move(lic));
    } else if (l.media_type == kMediaParams) {
      ASSIGN_OR_RETURN(std::string p, text());
      auto j = nlohmann::json::parse(p, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return make_error(ErrorCode::kCorrupt, "params layer of {} is not a JSON object", r.entry.display_name);
      r.params = std::move(j);
    } else if (l.media_type == kMediaMessages) {
      ASSIGN_OR_RETURN(std::string p, text());
      auto j = nlohmann::json::parse(p, nullptr, false);
      if (j.is_discarded() || !j.is_array()) return make_error(ErrorCode::kCorrupt, "messages layer of {} is not a JSON array", r.entry.display_name);
      r.messages = std::move(j);
    } else if (l.media_type == kMediaAdapter) {
      ASSIGN_OR_RETURN(std::string p, blob_path(l.digest));
      adapters.push_back(std::move(p));
    } else if (l.media_type == kMediaProjector) {
      has_projector = true;
    }
  }
  for (size_t i = 0; i < r.licenses.size(); ++i) r.license += (i ? "\n" : "") + r.licenses[i];

  detail::GgufSummary g;
  if (!r.model_path.empty()) {
    ASSIGN_OR_RETURN(g, detail::read_gguf(r.model_path, true, opts.verbose));
    r.model_info = std::move(g.model_info);
    r.tensors = std::move(g.tensors);
  }

  // Capabilities, as Ollama derives them: from the model kind and the template's variables.
  if (!r.model_path.empty()) r.capabilities.push_back(g.has_pooling ? "embedding" : "completion");
  if (!r.template_text.empty()) {
    if (contains(r.template_text, ".Tools")) r.capabilities.push_back("tools");
    if (contains(r.template_text, ".Suffix")) r.capabilities.push_back("insert");
    if (contains(r.template_text, ".Think")) r.capabilities.push_back("thinking");
  } else if (!g.chat_template.empty()) {
    if (contains(g.chat_template, "tools")) r.capabilities.push_back("tools");
    if (contains(g.chat_template, "<think>") || contains(g.chat_template, "enable_thinking")) {
      r.capabilities.push_back("thinking");
    }
  }
  if (has_projector || g.has_vision) r.capabilities.push_back("vision");

  // Parameters text: one "key value" row per value, keys sorted, stop strings quoted.
  std::vector<std::string> keys;
  for (auto it = r.params.begin(); it != r.params.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  std::string ptext, pmodelfile;
  for (const auto& k : keys) {
    const auto& v = r.params[k];
    std::vector<nlohmann::json> vals;
    if (v.is_array()) vals.assign(v.begin(), v.end());
    else vals.push_back(v);
    for (const auto& x : vals) {
      if (!ptext.empty()) ptext += "\n";
      ptext += fmt::format("{:<30} {}", k, param_value_text(x));
      pmodelfile += fmt::format("PARAMETER {} {}\n", k, param_value_text(x));
    }
  }
  r.parameters = ptext;

  std::string mf = "# Modelfile generated by \"paddock show\"\n";
  mf += "# To build a new Modelfile based on this, replace FROM with:\n";
  mf += "# FROM " + r.entry.display_name + "\n\n";
  mf += "FROM " + (r.model_path.empty() ? r.entry.display_name : r.model_path) + "\n";
  for (const auto& a : adapters) mf += "ADAPTER " + a + "\n";
  if (!r.template_text.empty()) mf += "TEMPLATE " + quote(r.template_text) + "\n";
  if (!r.system.empty()) mf += "SYSTEM " + quote(r.system) + "\n";
  mf += pmodelfile;
  for (const auto& msg : r.messages) {
    if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string()) continue;
    std::string content = msg.contains("content") && msg["content"].is_string() ? msg["content"].get<std::string>() : "";
    mf += "MESSAGE " + msg["role"].get<std::string>() + " " + quote(content) + "\n";
  }
  for (const auto& l : r.licenses) mf += "LICENSE " + quote(l) + "\n";
  r.modelfile = std::move(mf);
  return r;
}

}  // namespace paddock::store
