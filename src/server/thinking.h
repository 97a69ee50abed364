// thinking: splits a model's streamed output into its thinking section (`<think>`…`</think>`, as
// Qwen3 and DeepSeek-R1 emit it) and the answer, the way Ollama returns them (`thinking` beside
// `response` / `message.content`). Pure text processing: tags split across chunks are handled.
#pragma once
#include <string>
#include <string_view>

namespace paddock::server {

class ThinkingSplitter {
 public:
  struct Out {
    std::string thinking;
    std::string content;
  };
  // `start_inside`: the prompt already opened the thinking section (the template's generation
  // prompt ends with the opening tag), so the output starts inside it.
  explicit ThinkingSplitter(bool start_inside = false, std::string open = "<think>", std::string close = "</think>");

  // Feeds the next piece of output; returns what can be emitted now. Text that may still turn
  // into a tag (a partial tag at the end, whitespace before a possible closing tag) is held back.
  Out push(std::string_view text);
  // End of output: returns whatever was held back.
  Out flush();

 private:
  enum class State { kLooking, kThinkingStart, kThinking, kAfterClose, kContent };
  Out step();
  State state_;
  std::string open_, close_;
  std::string pending_;
};

// Whether a chat template's generation prompt ends inside an opened thinking section: the last
// `<think>` in the template is followed by no `</think>` and by nothing but whitespace, quotes,
// escaped newlines and end-of-block template actions (`{{ end }}`, `{% endif %}`, ...).
// A heuristic on the template text, since the server does not see the rendered prompt.
bool template_opens_thinking(std::string_view tmpl, std::string_view open = "<think>",
                             std::string_view close = "</think>");

}  // namespace paddock::server
