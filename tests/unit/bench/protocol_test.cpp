// bench/protocol: URLs, request bodies, and the response decoder fed NDJSON, SSE and whole
// bodies split at every byte boundary (a stream's chunks may break anywhere).
#include "bench/protocol.h"

#include <gtest/gtest.h>

namespace paddock::bench {
namespace {

TEST(ParseUrl, Forms) {
  auto a = parse_url("http://example.com:8080/base/");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->tls);
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->path_prefix, "/base");
  EXPECT_EQ(a->authority(), "example.com:8080");
  auto b = parse_url("https://[::1]");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->tls);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(b->authority(), "[::1]");
  auto c = parse_url("127.0.0.1:11434");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 11434);
  auto d = parse_url("localhost");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 11434);  // Ollama's port when no scheme is given
  for (const char* bad : {"ftp://x", "http://", "http://x:0", "http://x:70000", "http://x:12ab", "http://u:p@x",
                          "http://x/a?b", "http://[::1"})
    EXPECT_FALSE(parse_url(bad).ok()) << bad;
}

TEST(RequestBody, PerApi) {
  Prompt p;
  p.text = "hello there";
  p.output_tokens = 7;
  RequestSpec s;
  s.model = "m";
  s.api = Api::kGenerate;
  auto j = nlohmann::json::parse(*request_body(s, p));
  EXPECT_EQ(j["prompt"], "hello there");
  EXPECT_EQ(j["options"]["num_predict"], 7);
  EXPECT_EQ(j["stream"], true);
  s.api = Api::kOpenAIChat;
  s.ignore_eos = true;
  s.extra = {{"temperature", 0}};
  j = nlohmann::json::parse(*request_body(s, p));
  EXPECT_EQ(j["messages"][0]["content"], "hello there");
  EXPECT_EQ(j["max_tokens"], 7);
  EXPECT_EQ(j["stream_options"]["include_usage"], true);
  EXPECT_EQ(j["ignore_eos"], true);
  EXPECT_EQ(j["temperature"], 0);
  p.messages = nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}});
  s.api = Api::kOpenAICompletions;
  EXPECT_FALSE(request_body(s, p).ok());  // messages need a chat route
  s.api = Api::kChat;
  j = nlohmann::json::parse(*request_body(s, p));
  EXPECT_EQ(j["messages"][0]["content"], "hi");
  EXPECT_EQ(j["options"]["temperature"], 0);
}

TEST(HttpRequest, HeadersAndKey) {
  Endpoint ep = *parse_url("http://h:81/p");
  RequestSpec s;
  s.api = Api::kOpenAIChat;
  s.api_key = "sekret";
  const std::string r = http_request(ep, s, "{}");
  EXPECT_TRUE(r.starts_with("POST /p/v1/chat/completions HTTP/1.1\r\nHost: h:81\r\n"));
  EXPECT_NE(r.find("Authorization: Bearer sekret\r\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_TRUE(r.ends_with("\r\n\r\n{}"));
}

// Feeds `body` cut at `cut` (and as a whole); returns the decoder.
ResponseDecoder decode(Api api, bool stream, const std::string& body, size_t cut, int* events) {
  ResponseDecoder d(api, stream);
  *events = d.feed(std::string_view(body).substr(0, cut));
  *events += d.feed(std::string_view(body).substr(cut));
  d.finish();
  return d;
}

TEST(Decoder, OllamaStreamAtEveryCut) {
  const std::string body =
      "{\"response\":\"a\",\"done\":false}\n{\"response\":\"\",\"done\":false}\n{\"response\":\"b\",\"done\":false}\n"
      "{\"response\":\"\",\"done\":true,\"prompt_eval_count\":12,\"eval_count\":3}\n";
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    int ev = 0;
    auto d = decode(Api::kGenerate, true, body, cut, &ev);
    ASSERT_FALSE(d.failed()) << cut << d.error();
    EXPECT_EQ(ev, 2) << cut;  // the empty response is not a token
    EXPECT_EQ(d.events(), 2);
    EXPECT_EQ(d.in_tokens(), 12);
    EXPECT_EQ(d.out_tokens(), 3);
    EXPECT_TRUE(d.done());
  }
}

TEST(Decoder, OllamaChatThinkingAndToolCallsAreTokens) {
  const std::string body =
      "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"hm\"},\"done\":false}\n"
      "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{}]},\"done\":false}\n"
      "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true}";  // no final newline
  int ev = 0;
  auto d = decode(Api::kChat, true, body, 10, &ev);
  ASSERT_FALSE(d.failed()) << d.error();
  EXPECT_EQ(d.events(), 2);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(d.out_tokens(), -1);  // the server gave no counts
}

TEST(Decoder, OpenAiSseAtEveryCut) {
  const std::string body =
      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
      ": keep-alive comment\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n"
      "data:{\"choices\":[{\"delta\":{\"content\":\"y\"},\"finish_reason\":\"length\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    int ev = 0;
    auto d = decode(Api::kOpenAIChat, true, body, cut, &ev);
    ASSERT_FALSE(d.failed()) << cut << d.error();
    EXPECT_EQ(ev, 2) << cut;  // the role-only chunk is not a token
    EXPECT_EQ(d.in_tokens(), 5);
    EXPECT_EQ(d.out_tokens(), 2);
  }
}

TEST(Decoder, CompletionsTextAndWholeBodies) {
  int ev = 0;
  auto d = decode(Api::kOpenAICompletions, true, "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n", 3, &ev);
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(ev, 1);
  const std::string whole =
      "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":9}}";
  for (size_t cut = 0; cut <= whole.size(); ++cut) {
    d = decode(Api::kOpenAIChat, false, whole, cut, &ev);
    ASSERT_FALSE(d.failed()) << d.error();
    EXPECT_EQ(ev, 0);  // a whole answer has no token events until it completes
    EXPECT_EQ(d.out_tokens(), 9);
  }
  d = decode(Api::kGenerate, false, "{\"response\":\"hi\",\"done\":true,\"eval_count\":4,\"prompt_eval_count\":2}", 5,
             &ev);
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.out_tokens(), 4);
  EXPECT_EQ(d.in_tokens(), 2);
}

TEST(Decoder, Failures) {
  int ev = 0;
  auto d = decode(Api::kGenerate, true, "{\"response\":\"a\",\"done\":false}\n{\"error\":\"model crashed\"}\n", 4, &ev);
  EXPECT_TRUE(d.failed());
  EXPECT_TRUE(d.stream_error());
  EXPECT_EQ(d.error(), "model crashed");
  d = decode(Api::kOpenAIChat, true, "data: {\"error\":{\"message\":\"overloaded\"}}\n\n", 4, &ev);
  EXPECT_TRUE(d.stream_error());
  EXPECT_EQ(d.error(), "overloaded");
  d = decode(Api::kGenerate, true, "{\"response\":\"a\",\"done\":false}\n", 4, &ev);
  EXPECT_TRUE(d.failed());  // ended without done
  EXPECT_FALSE(d.stream_error());
  d = decode(Api::kGenerate, true, "not json\n", 4, &ev);
  EXPECT_TRUE(d.failed());
  d = decode(Api::kOpenAIChat, true, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", 4, &ev);
  EXPECT_TRUE(d.failed());  // no [DONE]
  EXPECT_EQ(d.events(), 1);
  ResponseDecoder big(Api::kGenerate, true);
  std::string chunk(1 << 20, 'x');
  for (int i = 0; i < 17 && !big.failed(); ++i) big.feed(chunk);
  EXPECT_TRUE(big.failed());  // a line over the bound, not unbounded memory
}

}  // namespace
}  // namespace paddock::bench
