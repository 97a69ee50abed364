// `paddock template`: prints the chat prompt a model's template renders for a conversation —
// from a Jinja file (--template), an Ollama Go TEMPLATE file (--go-template) or a GGUF's
// tokenizer.chat_template (--model). With both a Go template and a model, the Go template wins,
// as an Ollama TEMPLATE layer does.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "template/template.h"
#include "util/fs.h"

namespace paddock::cli {
namespace {

constexpr size_t kMaxInput = 64u << 20;  // bytes of any one input file

struct Options {
  std::string jinja_file, go_file, model, messages_file, tools_file;
  bool no_generation_prompt = false;
  bool think = false;
  bool no_think = false;
};

Result<nlohmann::ordered_json> read_json(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxInput));
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::kInvalidArgument, "{}: not valid JSON", path);
  return j;
}

Status load_model(const std::string& path, chat_template::ChatRequest& r) {
  ASSIGN_OR_RETURN(gguf::File f, gguf::File::open(path));
  ASSIGN_OR_RETURN(chat_template::GgufChatInfo info, chat_template::chat_info_from_gguf(f));
  r.jinja_template = std::move(info.chat_template);
  r.bos_token = std::move(info.bos_token);
  r.eos_token = std::move(info.eos_token);
  return Status::Ok();
}

Result<std::string> run_template(const Options& o) {
  chat_template::ChatRequest r;
  if (!o.model.empty()) RETURN_IF_ERROR(load_model(o.model, r));
  if (!o.jinja_file.empty()) {
    ASSIGN_OR_RETURN(r.jinja_template, read_file(o.jinja_file, kMaxInput));
  }
  if (!o.go_file.empty()) {
    ASSIGN_OR_RETURN(r.go_template, read_file(o.go_file, kMaxInput));
  }
  ASSIGN_OR_RETURN(nlohmann::ordered_json msgs, read_json(o.messages_file));
  if (msgs.is_object()) {  // {"messages": [...], "tools": [...]} as in a chat request body
    if (msgs.contains("tools")) r.tools = msgs["tools"];
    msgs = msgs.contains("messages") ? msgs["messages"] : nlohmann::ordered_json();
  }
  if (!msgs.is_array()) return Error(ErrorCode::kInvalidArgument, o.messages_file + ": expected a JSON array of messages");
  r.messages = std::move(msgs);
  if (!o.tools_file.empty()) {
    ASSIGN_OR_RETURN(r.tools, read_json(o.tools_file));
  }
  r.add_generation_prompt = !o.no_generation_prompt;
  if (o.think) r.think = true;
  if (o.no_think) r.think = false;
  ASSIGN_OR_RETURN(chat_template::RenderedPrompt p, chat_template::render_chat(r));
  return p.text;
}

Registration reg({"template", 60, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("template", "Render a chat prompt with a model's chat template");
  auto o = std::make_shared<Options>();
  auto* src = sub->add_option_group("source", "where the template comes from");
  src->add_option("--template", o->jinja_file, "Jinja chat template file (Hugging Face / GGUF style)");
  src->add_option("--go-template", o->go_file, "Ollama Go TEMPLATE file (wins over --model's template)");
  src->add_option("--model", o->model, "GGUF file whose tokenizer.chat_template is used");
  src->require_option(1, 3);
  sub->add_option("--messages", o->messages_file, "JSON array of {role, content, ...} (or a chat request body)")
      ->required();
  sub->add_option("--tools", o->tools_file, "JSON array of tool definitions");
  sub->add_flag("--no-generation-prompt", o->no_generation_prompt, "do not open the assistant's turn");
  sub->add_flag("--think", o->think, "enable thinking (enable_thinking / .Think)");
  sub->add_flag("--no-think", o->no_think, "disable thinking explicitly");
  run = [o] {
    auto out = run_template(*o);
    if (!out.ok()) {
      std::cerr << "paddock: " << out.error().message() << "\n";
      return 1;
    }
    std::cout << *out << std::flush;
    return 0;
  };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
