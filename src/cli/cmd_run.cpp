// `paddock run MODEL [PROMPT]`: chat with a model through the server. With a prompt (or piped
// stdin) it answers once; otherwise an interactive session with history, /bye, /clear and
// """ multi-line input. --verbose prints Ollama's timing statistics after each answer.
#include <unistd.h>

#include <iostream>

#include "cli/client.h"
#include "cli/command.h"

namespace paddock::cli {
namespace {

using json = nlohmann::json;

struct RunFlags {
  std::string model;
  std::vector<std::string> prompt;
  bool verbose = false;
  std::string keep_alive, format;
  bool think = false, hide_thinking = false;
};

void print_stats(const json& d) {
  auto dur = [](int64_t ns) {
    char b[64];
    if (ns >= 1000000000) std::snprintf(b, sizeof b, "%.6fs", double(ns) / 1e9);
    else std::snprintf(b, sizeof b, "%.6fms", double(ns) / 1e6);
    return std::string(b);
  };
  auto rate = [](int64_t n, int64_t ns) {
    char b[64];
    std::snprintf(b, sizeof b, "%.2f tokens/s", ns > 0 ? double(n) / (double(ns) / 1e9) : 0.0);
    return std::string(b);
  };
  int64_t pc = d.value("prompt_eval_count", int64_t(0)), pd = d.value("prompt_eval_duration", int64_t(0));
  int64_t ec = d.value("eval_count", int64_t(0)), ed = d.value("eval_duration", int64_t(0));
  std::cerr << "total duration:       " << dur(d.value("total_duration", int64_t(0))) << "\n"
            << "load duration:        " << dur(d.value("load_duration", int64_t(0))) << "\n"
            << "prompt eval count:    " << pc << " token(s)\n"
            << "prompt eval duration: " << dur(pd) << "\n"
            << "prompt eval rate:     " << rate(pc, pd) << "\n"
            << "eval count:           " << ec << " token(s)\n"
            << "eval duration:        " << dur(ed) << "\n"
            << "eval rate:            " << rate(ec, ed) << "\n";
}

// One chat turn; appends the answer to `messages`. Returns false on error.
bool chat_turn(const Client& c, const RunFlags& f, json& messages) {
  json req{{"model", f.model}, {"messages", messages}, {"stream", true}};
  if (!f.keep_alive.empty()) req["keep_alive"] = f.keep_alive;
  if (!f.format.empty()) req["format"] = f.format;
  if (f.think) req["think"] = true;
  std::string answer;
  json final_line;
  auto st = c.stream("/api/chat", req, [&](const json& line) {
    if (line.contains("message")) {
      const auto& m = line["message"];
      if (m.contains("thinking") && m["thinking"].is_string() && !f.hide_thinking)
        std::cout << m["thinking"].get<std::string>();
      if (m.contains("content") && m["content"].is_string()) {
        std::string t = m["content"].get<std::string>();
        answer += t;
        std::cout << t << std::flush;
      }
    }
    if (line.value("done", false)) final_line = line;
    return true;
  });
  std::cout << "\n";
  if (!st.ok()) {
    std::cerr << "Error: " << st.error().message() << "\n";
    return false;
  }
  messages.push_back(json{{"role", "assistant"}, {"content", answer}});
  if (f.verbose && final_line.is_object()) print_stats(final_line);
  return true;
}

int run(const RunFlags& f) {
  Client c = Client::from_env();
  // Does the model exist? (Also loads nothing; a clear 404 before any chat.)
  auto show = c.request("POST", "/api/show", json{{"model", f.model}}.dump());
  if (!show.ok()) {
    std::cerr << "Error: " << show.error().message() << "\n";
    return 1;
  }
  if (show->status != 200) {
    std::cerr << "Error: " << server_error(*show) << "\n";
    return 1;
  }
  std::string prompt;
  for (size_t i = 0; i < f.prompt.size(); ++i) prompt += (i ? " " : "") + f.prompt[i];
  bool interactive = prompt.empty() && isatty(STDIN_FILENO);
  if (!interactive && !isatty(STDIN_FILENO)) {
    std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    prompt = prompt.empty() ? in : prompt + "\n" + in;
  }
  json messages = json::array();
  if (!interactive) {
    messages.push_back(json{{"role", "user"}, {"content", prompt}});
    return chat_turn(c, f, messages) ? 0 : 1;
  }
  // Load the model first so the first answer is not mistaken for a slow one.
  json load{{"model", f.model}};
  if (!f.keep_alive.empty()) load["keep_alive"] = f.keep_alive;
  auto l = c.request("POST", "/api/generate", load.dump());
  if (!l.ok() || l->status != 200) {
    std::cerr << "Error: " << (l.ok() ? server_error(*l) : l.error().message()) << "\n";
    return 1;
  }
  std::cerr << "Type /? for help, /bye to quit, \"\"\" to begin and end multi-line input.\n";
  std::string line;
  for (;;) {
    std::cout << ">>> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line.rfind("\"\"\"", 0) == 0) {
      std::string text = line.substr(3), more;
      bool closed = false;
      if (auto end = text.find("\"\"\""); end != std::string::npos) {
        text = text.substr(0, end);
        closed = true;
      }
      while (!closed) {
        std::cout << "... " << std::flush;
        if (!std::getline(std::cin, more)) break;
        if (auto end = more.find("\"\"\""); end != std::string::npos) {
          text += "\n" + more.substr(0, end);
          closed = true;
        } else {
          text += "\n" + more;
        }
      }
      line = text;
      while (!line.empty() && line[0] == '\n') line.erase(0, 1);
    } else if (line == "/bye" || line == "/exit") {
      break;
    } else if (line == "/clear") {
      messages = json::array();
      std::cerr << "Cleared session context\n";
      continue;
    } else if (line == "/?" || line == "/help") {
      std::cerr << "  /clear   forget the conversation\n  /bye     exit\n  \"\"\"      begin/end multi-line input\n";
      continue;
    } else if (!line.empty() && line[0] == '/') {
      std::cerr << "Unknown command '" << line << "'. Type /? for help\n";
      continue;
    }
    if (line.empty()) continue;
    messages.push_back(json{{"role", "user"}, {"content", line}});
    if (!chat_turn(c, f, messages)) messages.erase(messages.size() - 1);
  }
  return 0;
}

Registration reg({"run", 20, [](CLI::App& app, std::function<int()>& run_fn) {
  auto* sub = app.add_subcommand("run", "Run a model (interactive chat, or one answer for a prompt)");
  auto f = std::make_shared<RunFlags>();
  sub->add_option("model", f->model, "Model name")->required();
  sub->add_option("prompt", f->prompt, "Prompt (else stdin, else interactive)");
  sub->add_flag("--verbose", f->verbose, "Show timings for the response");
  sub->add_option("--keepalive", f->keep_alive, "How long to keep the model loaded (e.g. 5m)");
  sub->add_option("--format", f->format, "Response format (e.g. json)");
  sub->add_flag("--think", f->think, "Enable thinking for models that support it");
  sub->add_flag("--hidethinking", f->hide_thinking, "Do not print the thinking text");
  run_fn = [f] { return run(*f); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
