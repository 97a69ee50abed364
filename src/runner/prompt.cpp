// prompt: maps a runner request onto the template module's render_chat (which applies Ollama's
// precedence and data shapes: Go TEMPLATE layer, else GGUF Jinja) and handles raw prompts,
// /api/generate's system+prompt turn, and models without any template.
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
  json msgs = json::array();
  std::string sys = str(req, "system");
  if (str(req, "mode") == "chat") {
    json in = req.value("messages", json::array());
    bool has_system = false;
    for (auto& m : in)
      if (str(m, "role") == "system") has_system = true;
    if (!sys.empty() && !has_system) msgs.push_back(json{{"role", "system"}, {"content", sys}});
    for (auto& m : in) msgs.push_back(m);
    return msgs;
  }
  if (!sys.empty()) msgs.push_back(json{{"role", "system"}, {"content", sys}});
  msgs.push_back(json{{"role", "user"}, {"content", str(req, "prompt")}});
  return msgs;
}

}  // namespace

Result<std::string> render_prompt(const json& req, const tokenizer::Tokenizer& tok) {
  bool chat = str(req, "mode") == "chat";
  if (!chat && req.value("raw", false)) return str(req, "prompt");
  json msgs = conversation(req);
  chat_template::ChatRequest cr;
  cr.go_template = str(req, "template");
  cr.jinja_template = tok.chat_template();
  if (cr.go_template.empty() && cr.jinja_template.empty()) {
    // No template at all: the text as given (chat: the turns one per line).
    if (!chat) return str(req, "prompt");
    std::string out;
    for (auto& m : msgs) out += str(m, "role") + ": " + str(m, "content") + "\n";
    return out + "assistant: ";
  }
  cr.messages = nlohmann::ordered_json::parse(msgs.dump());
  if (req.contains("tools") && req["tools"].is_array() && !req["tools"].empty())
    cr.tools = nlohmann::ordered_json::parse(req["tools"].dump());
  json think = req.value("think", json(nullptr));
  if (think.is_boolean()) cr.think = think.get<bool>();
  else if (think.is_string()) cr.think = true;
  if (tok.bos() >= 0) cr.bos_token = tok.token_text(tok.bos());
  if (tok.eos() >= 0) cr.eos_token = tok.token_text(tok.eos());
  auto r = chat_template::render_chat(cr);
  if (!r.ok()) return Error(ErrorCode::kInvalidArgument, "template: " + r.error().message());
  return r->text;
}

}  // namespace paddock::runner
