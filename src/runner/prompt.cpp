// prompt: template selection and the data shapes each template language expects.
#include "runner/prompt.h"

#include "template/template.h"

namespace paddock::runner {

using json = nlohmann::json;

namespace {

std::string str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The conversation as role/content messages (a generate request becomes system + user).
json conversation(const json& req) {
  if (str(req, "mode") == "chat") {
    json msgs = req.value("messages", json::array());
    std::string sys = str(req, "system");
    bool has_system = false;
    for (auto& m : msgs)
      if (str(m, "role") == "system") has_system = true;
    if (!sys.empty() && !has_system) msgs.insert(msgs.begin(), json{{"role", "system"}, {"content", sys}});
    return msgs;
  }
  json msgs = json::array();
  std::string sys = str(req, "system");
  if (!sys.empty()) msgs.push_back(json{{"role", "system"}, {"content", sys}});
  msgs.push_back(json{{"role", "user"}, {"content", str(req, "prompt")}});
  return msgs;
}

// Go template data: field names as Ollama's Go structs spell them.
json go_data(const json& req, const json& msgs) {
  json gm = json::array();
  std::string system, prompt;
  for (auto& m : msgs) {
    json x{{"Role", str(m, "role")}, {"Content", str(m, "content")}};
    if (m.contains("thinking")) x["Thinking"] = m["thinking"];
    if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
      json calls = json::array();
      for (auto& c : m["tool_calls"]) {
        json fn = c.value("function", json::object());
        calls.push_back(json{{"Function", {{"Name", str(fn, "name")}, {"Arguments", fn.value("arguments", json::object())}}}});
      }
      x["ToolCalls"] = calls;
    }
    if (m.contains("tool_name")) x["ToolName"] = m["tool_name"];
    if (str(m, "role") == "system") system = str(m, "content");
    if (str(m, "role") == "user") prompt = str(m, "content");
    gm.push_back(x);
  }
  json tools = json::array();
  if (req.contains("tools") && req["tools"].is_array()) tools = req["tools"];
  json think = req.value("think", json(nullptr));
  json d{{"System", system}, {"Prompt", prompt}, {"Response", ""}, {"Suffix", str(req, "suffix")},
         {"Messages", gm}, {"Tools", tools}, {"Think", think.is_boolean() ? think.get<bool>() : !think.is_null()},
         {"ThinkLevel", think.is_string() ? think : json("")}, {"IsThinkSet", !think.is_null()}};
  return d;
}

}  // namespace

Result<std::string> render_prompt(const json& req, const tokenizer::Tokenizer& tok) {
  bool chat = str(req, "mode") == "chat";
  if (!chat && req.value("raw", false)) return str(req, "prompt");
  json msgs = conversation(req);
  std::string go = str(req, "template");
  if (!go.empty()) {
    auto r = chat_template::render_go(go, go_data(req, msgs));
    if (!r.ok()) return Error(ErrorCode::kInvalidArgument, "template: " + r.error().message());
    return r;
  }
  std::string jinja = tok.chat_template();
  if (!jinja.empty()) {
    json ctx{{"messages", msgs}, {"add_generation_prompt", true}};
    if (req.contains("tools") && req["tools"].is_array() && !req["tools"].empty()) ctx["tools"] = req["tools"];
    if (tok.bos() >= 0) ctx["bos_token"] = tok.token_text(tok.bos());
    if (tok.eos() >= 0) ctx["eos_token"] = tok.token_text(tok.eos());
    json think = req.value("think", json(nullptr));
    if (!think.is_null()) ctx["enable_thinking"] = think.is_boolean() ? think.get<bool>() : true;
    auto r = chat_template::render_jinja(jinja, ctx);
    if (!r.ok()) return Error(ErrorCode::kInvalidArgument, "chat template: " + r.error().message());
    return r;
  }
  // No template at all: the text as given (chat: the turns one per line).
  if (!chat) return str(req, "prompt");
  std::string out;
  for (auto& m : msgs) out += str(m, "role") + ": " + str(m, "content") + "\n";
  return out + "assistant: ";
}

}  // namespace paddock::runner
