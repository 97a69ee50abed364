// thinking_test: the thinking/content splitter — whole-input results, then the same inputs cut
// at every byte position and fed byte by byte (tags split across chunks), and the template
// heuristic on real templates' endings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/thinking.h"

namespace paddock::server {
namespace {

struct Split {
  std::string thinking, content;
};

Split run(bool inside, const std::vector<std::string>& chunks) {
  ThinkingSplitter s(inside);
  Split r;
  for (auto& c : chunks) {
    auto o = s.push(c);
    r.thinking += o.thinking;
    r.content += o.content;
  }
  auto o = s.flush();
  r.thinking += o.thinking;
  r.content += o.content;
  return r;
}

struct Case {
  bool inside;
  std::string input, thinking, content;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {false, "<think>plan it</think>answer", "plan it", "answer"},
      {false, "  \n<think>\n a b \n</think>\n\n answer  ", "a b", "answer  "},
      {false, "no thinking here", "", "no thinking here"},
      {false, "  leading space kept", "", "  leading space kept"},
      {false, "<thin but not a tag", "", "<thin but not a tag"},
      {false, "answer <think>x</think> later", "", "answer <think>x</think> later"},
      {false, "<think>unterminated  ", "unterminated", ""},
      {false, "<think></think>", "", ""},
      {false, "<think>a</thinkx</think>b", "a</thinkx", "b"},
      {false, "<think>é中😀</think>ü", "é中😀", "ü"},
      {true, "reasoning</think>the answer", "reasoning", "the answer"},
      {true, "\n\nr1\nr2 </think>\n\nA </think> B", "r1\nr2", "A </think> B"},
      {true, "all thinking, never closed", "all thinking, never closed", ""},
      {true, "</think>", "", ""},
      {false, "", "", ""},
      {false, "   ", "", "   "},
  };
  return c;
}

TEST(ThinkingSplitter, WholeInput) {
  for (auto& c : cases()) {
    auto r = run(c.inside, {c.input});
    EXPECT_EQ(r.thinking, c.thinking) << c.input;
    EXPECT_EQ(r.content, c.content) << c.input;
  }
}

TEST(ThinkingSplitter, SplitAtEveryBytePosition) {
  for (auto& c : cases()) {
    for (size_t i = 0; i <= c.input.size(); ++i) {
      for (size_t j = i; j <= c.input.size(); ++j) {
        auto r = run(c.inside, {c.input.substr(0, i), c.input.substr(i, j - i), c.input.substr(j)});
        ASSERT_EQ(r.thinking, c.thinking) << c.input << " cut at " << i << "," << j;
        ASSERT_EQ(r.content, c.content) << c.input << " cut at " << i << "," << j;
      }
    }
  }
}

TEST(ThinkingSplitter, ByteByByte) {
  for (auto& c : cases()) {
    std::vector<std::string> bytes;
    for (char ch : c.input) bytes.emplace_back(1, ch);
    auto r = run(c.inside, bytes);
    EXPECT_EQ(r.thinking, c.thinking) << c.input;
    EXPECT_EQ(r.content, c.content) << c.input;
  }
}

TEST(ThinkingSplitter, StreamsBeforeTheEnd) {
  // Thinking and content reach the client as they arrive, not only at flush.
  ThinkingSplitter s(false);
  auto a = s.push("<think>first ");
  EXPECT_EQ(a.thinking, "first");
  auto b = s.push("second</thi");
  EXPECT_EQ(b.thinking, " second");
  auto c = s.push("nk>answer");
  EXPECT_EQ(c.thinking, "");
  EXPECT_EQ(c.content, "answer");
}

TEST(ThinkingTemplate, OpensThinking) {
  // Go template ending in the tag (a Modelfile TEMPLATE), DeepSeek-R1's Jinja generation prompt.
  EXPECT_TRUE(template_opens_thinking("{{ .Prompt }}<think>"));
  EXPECT_TRUE(template_opens_thinking("{{ .Prompt }}\n<think>\n{{ end }}"));
  EXPECT_TRUE(
      template_opens_thinking("{% if add_generation_prompt %}{{'<\xef\xbd\x9c"
                              "Assistant\xef\xbd\x9c><think>\\n'}}{% endif %}"));
  // Qwen3: the tag is closed again (thinking disabled) or not in the generation prompt at all.
  EXPECT_FALSE(
      template_opens_thinking("{%- if enable_thinking is defined and enable_thinking is false %}{{- "
                              "'<think>\\n\\n</think>\\n\\n' }}{%- endif %}"));
  EXPECT_FALSE(template_opens_thinking("{{ .Prompt }}"));
  EXPECT_FALSE(template_opens_thinking("<think>{{ .Thinking }}</think>{{ .Response }}"));
  EXPECT_FALSE(template_opens_thinking("<think>{{ .Prompt }}"));
}

}  // namespace
}  // namespace paddock::server
