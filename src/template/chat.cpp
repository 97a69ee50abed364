// template: render_chat — picks the engine (Ollama Go TEMPLATE over GGUF Jinja) and builds the
// data each expects: transformers.js' apply_chat_template context for Jinja, Ollama's values
// (collated messages, .System, typed tools and tool calls, legacy per-turn rendering) for Go.
#include "template/go_ast.h"
#include "template/jinja_value.h"
#include "template/template.h"

namespace paddock::chat_template {
namespace {

using jinja::Value;
using ojson = nlohmann::ordered_json;

Error bad(const std::string& m) { return Error(ErrorCode::kInvalidArgument, m); }

std::string str_field(const ojson& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Go maps marshal with sorted keys: convert through the key-sorted json type.
Result<Value> sorted_value(const ojson& j) {
  nlohmann::json sorted = nlohmann::json::parse(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return jinja::from_json(ojson::parse(sorted.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

Value with_repr(Value access, Value printed) {
  access.repr = std::make_shared<const Value>(std::move(printed));
  return access;
}

struct GoMessage {
  std::string role, content, thinking, tool_name, tool_call_id;
  ojson images = ojson::array();
  ojson tool_calls = ojson::array();
};

Result<std::vector<GoMessage>> go_messages(const ojson& messages) {
  if (!messages.is_array()) return bad("messages must be an array");
  std::vector<GoMessage> out;
  for (const auto& m : messages) {
    if (!m.is_object()) return bad("each message must be an object");
    GoMessage g;
    g.role = str_field(m, "role");
    auto c = m.find("content");
    if (c != m.end() && !c->is_null() && !c->is_string())
      return bad("message content must be a string (Ollama templates take text content)");
    g.content = str_field(m, "content");
    g.thinking = str_field(m, "thinking");
    g.tool_name = str_field(m, "tool_name");
    if (g.tool_name.empty()) g.tool_name = str_field(m, "name");
    g.tool_call_id = str_field(m, "tool_call_id");
    if (m.contains("images") && m["images"].is_array()) g.images = m["images"];
    if (m.contains("tool_calls") && m["tool_calls"].is_array()) g.tool_calls = m["tool_calls"];
    out.push_back(std::move(g));
  }
  return out;
}

Result<Value> tool_call_value(const ojson& tc, int64_t position) {
  const ojson fn = tc.contains("function") && tc["function"].is_object() ? tc["function"] : ojson::object();
  ojson args = fn.contains("arguments") ? fn["arguments"] : ojson::object();
  if (args.is_string()) {  // OpenAI style: arguments as a JSON string
    args = ojson::parse(args.get<std::string>(), nullptr, false);
    if (args.is_discarded()) return bad("tool call arguments are not valid JSON");
  }
  if (!args.is_object()) args = ojson::object();
  ASSIGN_OR_RETURN(Value a, sorted_value(args));
  a = with_repr(a, a);  // Ollama's argument map prints as its JSON
  int64_t index = fn.contains("index") && fn["index"].is_number_integer() ? fn["index"].get<int64_t>() : position;
  std::string name = str_field(fn, "name"), id = str_field(tc, "id");

  Value f = Value::object(), fj = Value::object();
  f.obj->set("Index", Value::integer(index));
  f.obj->set("Name", Value::str(name));
  f.obj->set("Arguments", a);
  fj.obj->set("index", Value::integer(index));
  fj.obj->set("name", Value::str(name));
  fj.obj->set("arguments", a);
  Value v = Value::object(), vj = Value::object();
  v.obj->set("ID", Value::str(id));
  v.obj->set("Function", with_repr(f, fj));
  if (!id.empty()) vj.obj->set("id", Value::str(id));
  vj.obj->set("function", fj);
  return with_repr(v, vj);
}

Result<Value> message_value(const GoMessage& g) {
  Value calls = Value::array(), calls_json = Value::array();
  for (size_t k = 0; k < g.tool_calls.size(); ++k) {
    ASSIGN_OR_RETURN(Value c, tool_call_value(g.tool_calls[k], static_cast<int64_t>(k)));
    calls.arr->push_back(c);
    calls_json.arr->push_back(*c.repr);
  }
  ASSIGN_OR_RETURN(Value images, jinja::from_json(g.images));
  Value m = Value::object(), mj = Value::object();
  m.obj->set("Role", Value::str(g.role));
  m.obj->set("Content", Value::str(g.content));
  m.obj->set("Thinking", Value::str(g.thinking));
  m.obj->set("Images", images);
  m.obj->set("ToolCalls", calls);
  m.obj->set("ToolName", Value::str(g.tool_name));
  m.obj->set("ToolCallID", Value::str(g.tool_call_id));
  mj.obj->set("role", Value::str(g.role));
  mj.obj->set("content", Value::str(g.content));
  if (!g.thinking.empty()) mj.obj->set("thinking", Value::str(g.thinking));
  if (!g.images.empty()) mj.obj->set("images", images);
  if (!calls_json.arr->empty()) mj.obj->set("tool_calls", calls_json);
  if (!g.tool_name.empty()) mj.obj->set("tool_name", Value::str(g.tool_name));
  if (!g.tool_call_id.empty()) mj.obj->set("tool_call_id", Value::str(g.tool_call_id));
  return with_repr(m, mj);
}

// Ollama's tool types: {Type, Function{Name, Description, Parameters{Type, Required, Properties}}},
// printed (String/json) with json tags and omitempty.
Result<Value> tools_value(const ojson& tools) {
  Value out = Value::array();
  if (tools.is_null()) return out;
  if (!tools.is_array()) return bad("tools must be an array");
  for (const auto& t : tools) {
    if (!t.is_object()) return bad("each tool must be an object");
    const ojson fn = t.contains("function") && t["function"].is_object() ? t["function"] : ojson::object();
    const ojson params = fn.contains("parameters") && fn["parameters"].is_object() ? fn["parameters"] : ojson::object();
    Value props = Value::object(), props_json = Value::object();
    if (params.contains("properties") && params["properties"].is_object()) {
      nlohmann::json sorted_keys = nlohmann::json::object();
      for (auto it = params["properties"].begin(); it != params["properties"].end(); ++it) sorted_keys[it.key()] = 0;
      for (auto it = sorted_keys.begin(); it != sorted_keys.end(); ++it) {
        const ojson& p = params["properties"][it.key()];
        Value pv = Value::object(), pj = Value::object();
        std::string type = p.is_object() ? str_field(p, "type") : "";
        std::string desc = p.is_object() ? str_field(p, "description") : "";
        Value en = Value::array();
        if (p.is_object() && p.contains("enum") && p["enum"].is_array()) {
          ASSIGN_OR_RETURN(en, jinja::from_json(p["enum"]));
        }
        pv.obj->set("Type", Value::str(type));
        pv.obj->set("Description", Value::str(desc));
        pv.obj->set("Enum", en);
        if (!type.empty()) pj.obj->set("type", Value::str(type));
        if (!desc.empty()) pj.obj->set("description", Value::str(desc));
        if (!en.arr->empty()) pj.obj->set("enum", en);
        props.obj->set(it.key(), with_repr(pv, pj));
        props_json.obj->set(it.key(), pj);
      }
    }
    Value required = Value::array();
    if (params.contains("required") && params["required"].is_array()) {
      ASSIGN_OR_RETURN(required, jinja::from_json(params["required"]));
    }
    std::string ptype = str_field(params, "type");
    Value pa = Value::object(), paj = Value::object();
    pa.obj->set("Type", Value::str(ptype));
    pa.obj->set("Required", required);
    pa.obj->set("Properties", props);
    paj.obj->set("type", Value::str(ptype));
    if (!required.arr->empty()) paj.obj->set("required", required);
    paj.obj->set("properties", props_json);
    std::string name = str_field(fn, "name"), desc = str_field(fn, "description");
    Value f = Value::object(), fj = Value::object();
    f.obj->set("Name", Value::str(name));
    f.obj->set("Description", Value::str(desc));
    f.obj->set("Parameters", with_repr(pa, paj));
    fj.obj->set("name", Value::str(name));
    if (!desc.empty()) fj.obj->set("description", Value::str(desc));
    fj.obj->set("parameters", paj);
    std::string type = str_field(t, "type");
    Value tv = Value::object(), tj = Value::object();
    tv.obj->set("Type", Value::str(type));
    tv.obj->set("Function", with_repr(f, fj));
    tj.obj->set("type", Value::str(type));
    tj.obj->set("function", fj);
    out.arr->push_back(with_repr(tv, tj));
  }
  return out;
}

Result<std::string> render_ollama(const ChatRequest& r, const RenderLimits& limits) {
  ASSIGN_OR_RETURN(gotmpl::Template t, gotmpl::parse(r.go_template));
  if (!t.uses_messages && !t.uses_response) gotmpl::append_response_action(t);
  ASSIGN_OR_RETURN(std::vector<GoMessage> msgs, go_messages(r.messages));
  // Collate: system contents joined; consecutive same-role messages merged (tool messages kept).
  std::vector<std::string> systems;
  std::vector<GoMessage> collated;
  for (const auto& m : msgs) {
    if (m.role == "system") systems.push_back(m.content);
    if (!collated.empty() && collated.back().role == m.role && m.role != "tool") {
      collated.back().content += "\n\n" + m.content;
    } else {
      collated.push_back(m);
    }
  }
  std::string system;
  for (size_t k = 0; k < systems.size(); ++k) system += (k ? "\n\n" : "") + systems[k];
  bool think = r.think.value_or(false), think_set = r.think.has_value();

  if (t.uses_messages) {
    Value data = Value::object();
    Value list = Value::array();
    for (const auto& m : collated) {
      ASSIGN_OR_RETURN(Value v, message_value(m));
      list.arr->push_back(std::move(v));
    }
    ASSIGN_OR_RETURN(Value tools, tools_value(r.tools));
    data.obj->set("System", Value::str(system));
    data.obj->set("Messages", list);
    data.obj->set("Tools", tools);
    data.obj->set("Response", Value::str(""));
    data.obj->set("Think", Value::boolean(think));
    data.obj->set("IsThinkSet", Value::boolean(think_set));
    data.obj->set("Query", Value::str(""));
    data.obj->set("Document", Value::str(""));
    data.obj->set("Instruction", Value::str(""));
    return gotmpl::execute(t, data, limits, false);
  }
  // Legacy templates (.System/.Prompt/.Response): one execution per turn; the last is cut after
  // {{ .Response }} so the prompt ends where the model's reply begins.
  std::string out, prompt, response;
  system.clear();
  auto values = [&]() {
    Value d = Value::object();
    d.obj->set("System", Value::str(system));
    d.obj->set("Prompt", Value::str(prompt));
    d.obj->set("Response", Value::str(response));
    d.obj->set("Think", Value::boolean(think));
    d.obj->set("IsThinkSet", Value::boolean(think_set));
    return d;
  };
  RenderLimits budget = limits;
  auto turn = [&](bool cut) -> Status {
    budget.max_output = limits.max_output - std::min<uint64_t>(limits.max_output, out.size());
    ASSIGN_OR_RETURN(std::string s, gotmpl::execute(t, values(), budget, cut));
    out += s;
    system.clear();
    prompt.clear();
    response.clear();
    return Status::Ok();
  };
  for (const auto& m : collated) {
    if (m.role == "system") {
      if (!prompt.empty() || !response.empty()) RETURN_IF_ERROR(turn(false));
      system = m.content;
    } else if (m.role == "user") {
      if (!response.empty()) RETURN_IF_ERROR(turn(false));
      prompt = m.content;
    } else if (m.role == "assistant") {
      response = m.content;
    }
  }
  RETURN_IF_ERROR(turn(true));
  return out;
}

// A chat template that knows nothing of tools (no "tool" anywhere in it, as Gemma's) and refuses
// an agent's history still gets it: the tool turns are written as text it can render. An assistant turn's
// tool calls become JSON after its content, a `tool` result becomes a user turn holding
// {"tool_response": {"name", "content"}}, and turns of one role in a row are joined, since such
// templates often insist that roles alternate.
ojson tool_turns_as_text(const ojson& messages) {
  ojson out = ojson::array();
  for (const auto& m : messages) {
    if (!m.is_object()) {
      out.push_back(m);
      continue;
    }
    ojson t = m;
    std::string role = str_field(m, "role");
    std::string content = str_field(m, "content");
    if (role == "tool") {
      ojson resp = ojson::object();
      std::string name = str_field(m, "tool_name");
      if (name.empty()) name = str_field(m, "name");
      if (!name.empty()) resp["name"] = name;
      resp["content"] = content;
      t = ojson{{"role", "user"}, {"content", ojson{{"tool_response", resp}}.dump()}};
    } else if (m.contains("tool_calls") && m["tool_calls"].is_array() && !m["tool_calls"].empty()) {
      ojson calls = ojson::array();
      for (const auto& c : m["tool_calls"]) calls.push_back(c.contains("function") ? c["function"] : c);
      std::string text = ojson{{"tool_calls", calls}}.dump();
      t.erase("tool_calls");
      t["content"] = content.empty() ? text : content + "\n" + text;
    }
    if (!out.empty() && out.back().is_object() && str_field(out.back(), "role") == str_field(t, "role") &&
        str_field(t, "role") != "system") {
      out.back()["content"] = str_field(out.back(), "content") + "\n\n" + str_field(t, "content");
      continue;
    }
    out.push_back(std::move(t));
  }
  return out;
}

bool has_tool_turns(const ojson& messages) {
  for (const auto& m : messages)
    if (m.is_object() && (str_field(m, "role") == "tool" || (m.contains("tool_calls") && m["tool_calls"].is_array() &&
                                                             !m["tool_calls"].empty())))
      return true;
  return false;
}

}  // namespace

Result<RenderedPrompt> render_chat(const ChatRequest& r, const RenderLimits& limits) {
  if (!r.go_template.empty()) {
    ASSIGN_OR_RETURN(std::string s, render_ollama(r, limits));
    return RenderedPrompt{std::move(s), TemplateEngine::kGo};
  }
  if (r.jinja_template.empty())
    return Error(ErrorCode::kNotFound, "the model has no chat template (neither an Ollama TEMPLATE nor tokenizer.chat_template)");
  ojson ctx = ojson::object();
  ctx["messages"] = r.messages;
  ctx["add_generation_prompt"] = r.add_generation_prompt;
  ctx["tools"] = r.tools.is_array() ? r.tools : ojson(nullptr);
  ctx["documents"] = nullptr;
  if (!r.bos_token.empty()) ctx["bos_token"] = r.bos_token;
  if (!r.eos_token.empty()) ctx["eos_token"] = r.eos_token;
  if (r.think.has_value()) ctx["enable_thinking"] = *r.think;
  if (r.extra.is_object())
    for (auto it = r.extra.begin(); it != r.extra.end(); ++it) ctx[it.key()] = it.value();
  auto s = render_jinja(r.jinja_template, ctx, limits);
  // The history as given first (what transformers' apply_chat_template renders); only when a
  // template that knows nothing of tools refuses an agent's tool turns are they written as text.
  if (!s.ok() && has_tool_turns(r.messages) && r.jinja_template.find("tool") == std::string::npos) {
    ctx["messages"] = tool_turns_as_text(r.messages);
    if (auto again = render_jinja(r.jinja_template, ctx, limits); again.ok()) s = std::move(again);
  }
  if (!s.ok()) return s.error();
  return RenderedPrompt{std::move(*s), TemplateEngine::kJinja};
}

}  // namespace paddock::chat_template
