// Modelfile parsing: instructions, quoting, multi-line values, comments, typed PARAMETERs,
// and errors with line numbers for unknown instructions, bad values and oversized input.
#include <gtest/gtest.h>

#include "store/store.h"

namespace paddock::store {
namespace {

TEST(Modelfile, Basic) {
  auto mf = Modelfile::parse(
      "# a comment\n"
      "FROM ./model.gguf\n"
      "\n"
      "parameter temperature 0.7\n"
      "PARAMETER stop \"<|end|>\"\n"
      "PARAMETER stop <|user|>\n"
      "PARAMETER num_ctx 4096\n"
      "SYSTEM You are helpful.\n"
      "TEMPLATE \"\"\"{{ .System }}\n"
      "{{ .Prompt }}\"\"\"\n"
      "LICENSE \"\"\"line one\n"
      "line two\n"
      "\"\"\"\n"
      "LICENSE second\n"
      "MESSAGE user hi there\n"
      "MESSAGE assistant \"\"\"hello\n"
      "again\"\"\"\n");
  ASSERT_TRUE(mf.ok()) << mf.error().message();
  const auto& c = mf->commands;
  ASSERT_EQ(c.size(), 11u);
  EXPECT_EQ(c[0].name, "from");
  EXPECT_EQ(c[0].value, "./model.gguf");
  EXPECT_EQ(c[0].line, 2);
  EXPECT_EQ(c[1].name, "parameter");
  EXPECT_EQ(c[1].key, "temperature");
  EXPECT_EQ(c[1].value, "0.7");
  EXPECT_EQ(c[2].value, "<|end|>");
  EXPECT_EQ(c[3].value, "<|user|>");
  EXPECT_EQ(c[5].name, "system");
  EXPECT_EQ(c[5].value, "You are helpful.");
  EXPECT_EQ(c[6].value, "{{ .System }}\n{{ .Prompt }}");
  EXPECT_EQ(c[7].value, "line one\nline two\n");
  EXPECT_EQ(c[8].value, "second");
  EXPECT_EQ(c[9].key, "user");
  EXPECT_EQ(c[9].value, "hi there");
  EXPECT_EQ(c[10].value, "hello\nagain");
  EXPECT_EQ(c[10].line, 16);
}

TEST(Modelfile, EscapedQuotesAndCrlf) {
  auto mf = Modelfile::parse("FROM m\r\nSYSTEM \"say \\\"hi\\\"\"\r\nTEMPLATE \"\"\"a\r\nb\"\"\"\r\n");
  ASSERT_TRUE(mf.ok()) << mf.error().message();
  EXPECT_EQ(mf->commands[0].value, "m");
  EXPECT_EQ(mf->commands[1].value, "say \"hi\"");
  EXPECT_EQ(mf->commands[2].value, "a\nb");
}

TEST(Modelfile, Errors) {
  struct Case { std::string text; std::string want; };
  const Case cases[] = {
      {"FROM m\nFOO bar\n", "line 2: unknown instruction \"FOO\""},
      {"PARAMETER temperature 1\n", "no FROM"},
      {"FROM m\nTEMPLATE \"\"\"never closed\nmore\n", "line 2: unterminated"},
      {"FROM m\nSYSTEM \"open\n", "line 2: unterminated quoted"},
      {"FROM m\nMESSAGE robot hi\n", "line 2: MESSAGE role"},
      {"FROM m\nPARAMETER\n", "line 2: PARAMETER needs"},
      {"FROM\n", "line 1: from needs a value"},
      {"FROM m\nTEMPLATE \"\"\"x\"\"\" trailing\n", "line 2: text after"},
      {"FROM m\n" + std::string(1 << 20, 'a') + "\n", "line 2: line longer"},
      {std::string(kMaxModelfileBytes + 1, '#'), "larger than"},
      {"FROM m\nSYSTEM \xff\xfe\n", "UTF-8"},
      {std::string("FROM m\nSYSTEM a\0b\n", 17), "NUL"},
  };
  for (const auto& c : cases) {
    auto mf = Modelfile::parse(c.text);
    ASSERT_FALSE(mf.ok()) << c.text.substr(0, 60);
    EXPECT_NE(mf.error().message().find(c.want), std::string::npos) << mf.error().message();
  }
}

TEST(Parameters, Typed) {
  auto j = parameters_to_json({{"temperature", "0.6"}, {"num_ctx", "4096"}, {"stop", "<a>"}, {"stop", "b"},
                               {"use_mmap", "false"}, {"seed", "-1"}, {"top_p", "1e-1"}, {"penalize_newline", "T"}});
  ASSERT_TRUE(j.ok()) << j.error().message();
  EXPECT_EQ(j->dump(),
            R"({"num_ctx":4096,"penalize_newline":true,"seed":-1,"stop":["<a>","b"],"temperature":0.6,"top_p":0.1,"use_mmap":false})");
  EXPECT_TRUE((*j)["num_ctx"].is_number_integer());
  EXPECT_TRUE((*j)["temperature"].is_number_float());
}

TEST(Parameters, Errors) {
  const std::pair<std::string, std::string> bad[] = {
      {"num_ctx", "abc"}, {"num_ctx", "1.5"}, {"num_ctx", "99999999999999999999999"}, {"num_ctx", ""},
      {"temperature", "hot"}, {"temperature", "nan"}, {"temperature", "inf"}, {"temperature", "1e999"},
      {"temperature", "0x1p3"}, {"use_mmap", "yes"}, {"no_such_param", "1"}, {"top_k", "4 0"},
  };
  for (const auto& p : bad) {
    auto j = parameters_to_json({p});
    EXPECT_FALSE(j.ok()) << p.first << "=" << p.second;
    if (!j.ok()) {
      EXPECT_NE(j.error().message().find(p.first), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace paddock::store
