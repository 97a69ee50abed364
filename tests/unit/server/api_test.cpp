// Request parsing and configuration: OLLAMA_HOST forms, Go durations, the options map (types,
// ranges, unknown keys), keep_alive, JSON caps, timestamps, the early structured-output schema check. Expected values follow Ollama's
// documented behaviour (OLLAMA.md §1.5, §1.6, §2.1).
#include <gtest/gtest.h>

#include <fstream>

#include "grammar/json_schema.h"
#include "server/api_common.h"
#include "server/server.h"

namespace paddock::server {
namespace {

TEST(Config, ParseHostLikeOllama) {
  struct Case { const char* in; const char* host; uint16_t port; };
  for (auto c : {Case{"", "127.0.0.1", 11434}, Case{"1.2.3.4", "1.2.3.4", 11434}, Case{":1234", "0.0.0.0", 1234},
                 Case{"1.2.3.4:1234", "1.2.3.4", 1234}, Case{"http://1.2.3.4", "1.2.3.4", 80},
                 Case{"https://1.2.3.4", "1.2.3.4", 443}, Case{"http://1.2.3.4:4321/path", "1.2.3.4", 4321},
                 Case{"[::1]:1234", "::1", 1234}, Case{"[::1]", "::1", 11434}, Case{"  0.0.0.0:5 ", "0.0.0.0", 5},
                 Case{"example.com", "example.com", 11434}, Case{"localhost:0", "localhost", 0}}) {
    auto r = parse_host(c.in);
    ASSERT_TRUE(r.ok()) << c.in;
    EXPECT_EQ(r->first, c.host) << c.in;
    EXPECT_EQ(r->second, c.port) << c.in;
  }
  EXPECT_FALSE(parse_host("1.2.3.4:99999").ok());
  EXPECT_FALSE(parse_host("1.2.3.4:abc").ok());
}

TEST(Config, Loopback) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.1"));
}

TEST(Config, NonLoopbackBindRefusedWithoutFlag) {
  ServerConfig cfg;
  cfg.host = "0.0.0.0";
  cfg.port = 0;
  auto s = Server::create(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("--insecure-no-auth"), std::string::npos);
}

TEST(Config, Durations) {
  EXPECT_EQ(*parse_duration_ns("5m"), 300'000'000'000);
  EXPECT_EQ(*parse_duration_ns("1h30m"), 5400'000'000'000);
  EXPECT_EQ(*parse_duration_ns("1.5s"), 1'500'000'000);
  EXPECT_EQ(*parse_duration_ns("300"), 300'000'000'000);  // bare integer = seconds
  EXPECT_EQ(*parse_duration_ns("0"), 0);
  EXPECT_EQ(*parse_duration_ns("-1"), -1);
  EXPECT_EQ(*parse_duration_ns("-5m"), -1);
  EXPECT_EQ(*parse_duration_ns("250ms"), 250'000'000);
  EXPECT_FALSE(parse_duration_ns("abc").ok());
  EXPECT_FALSE(parse_duration_ns("5x").ok());
  EXPECT_FALSE(parse_duration_ns("").ok());
}

// keep_alive past any representable deadline is "forever" (-1), as in Ollama, not a 64-bit
// overflow into the past (2^63 and 1e308 seconds made expires_at a date before now).
TEST(KeepAlive, HugeValuesAreForever) {
  for (const char* body : {R"({"keep_alive":9223372036854775808})", R"({"keep_alive":1e308})",
                           R"({"keep_alive":9200000000})", R"({"keep_alive":"9223372036854775807"})",
                           R"({"keep_alive":"2562047h"})", R"({"keep_alive":"99999999999h"})"}) {
    auto r = parse_keep_alive(json::parse(body));
    ASSERT_TRUE(r.ok()) << body;
    ASSERT_TRUE(r->has_value()) << body;
    EXPECT_EQ(**r, -1) << body;
  }
  EXPECT_EQ(**parse_keep_alive(json::parse(R"({"keep_alive":"5m"})")), 300'000'000'000);
  EXPECT_EQ(**parse_keep_alive(json::parse(R"({"keep_alive":3600})")), 3600'000'000'000);
  EXPECT_EQ(**parse_keep_alive(json::parse(R"({"keep_alive":"870000h"})")), 870000ll * 3600 * 1000000000);  // 99 years
  EXPECT_EQ(*parse_duration_ns("9223372036854775807"), -1);
}

// The server refuses exactly the stop strings the runner would refuse (docs/API.md states the same).
TEST(Options, StopLengthAgreesWithTheRunner) {
  EXPECT_TRUE(parse_options(json{{"stop", {std::string(grammar::kMaxStopBytes, 'x')}}}).ok());
  EXPECT_FALSE(parse_options(json{{"stop", {std::string(grammar::kMaxStopBytes + 1, 'x')}}}).ok());
  EXPECT_EQ(kMaxStopLength, grammar::kMaxStopBytes);
  std::ifstream f(std::string(PADDOCK_SOURCE_DIR) + "/docs/API.md");
  std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(doc.find("stop strings of ≤ " + std::to_string(grammar::kMaxStopBytes) + " bytes"), std::string::npos);
}

TEST(Config, Environment) {
  setenv("OLLAMA_HOST", "127.0.0.1:5555", 1);
  setenv("PADDOCK_MAX_QUEUE", "7", 1);
  setenv("OLLAMA_KEEP_ALIVE", "10m", 1);
  setenv("OLLAMA_ORIGINS", "http://a.example, https://*.b.example", 1);
  auto c = config_from_env();
  unsetenv("OLLAMA_HOST");
  unsetenv("PADDOCK_MAX_QUEUE");
  unsetenv("OLLAMA_KEEP_ALIVE");
  unsetenv("OLLAMA_ORIGINS");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 5555);
  EXPECT_EQ(c->max_queue, 7);
  EXPECT_EQ(c->keep_alive_ns, 600'000'000'000);
  ASSERT_EQ(c->origins.size(), 2u);
  EXPECT_EQ(c->origins[1], "https://*.b.example");
  setenv("OLLAMA_NUM_PARALLEL", "zero", 1);
  EXPECT_FALSE(config_from_env().ok());
  unsetenv("OLLAMA_NUM_PARALLEL");
}

TEST(Body, JsonChecks) {
  EXPECT_TRUE(parse_body("{\"model\":\"x\"}").ok());
  EXPECT_FALSE(parse_body("").ok());
  EXPECT_FALSE(parse_body("[1,2]").ok());
  EXPECT_FALSE(parse_body("{\"model\":").ok());
  EXPECT_FALSE(parse_body("{\"a\":\"\xff\xfe\"}").ok());  // invalid UTF-8
  std::string deep(10000, '[');
  auto r = parse_body("{\"a\":" + deep + "}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("nested"), std::string::npos);
  EXPECT_EQ(json_depth("{\"a\":\"[[[[\"}", 64), 1);
  EXPECT_FALSE(parse_body("{\"options\":{\"temperature\":1e400}}").ok());  // number overflow
}

TEST(Options, TypesAndRanges) {
  auto ok = parse_options(json::parse(R"({"temperature":0.5,"num_ctx":2048,"stop":["a","b"],"seed":42,
      "top_k":10,"numa":false,"penalize_newline":true,"mirostat":0,"unknown_key":"whatever","num_predict":-1})"));
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->values["temperature"], 0.5);
  EXPECT_EQ(ok->values["num_ctx"], 2048);
  EXPECT_EQ(ok->values["stop"].size(), 2u);
  EXPECT_FALSE(ok->values.contains("unknown_key"));
  // Go clients send integers as floats.
  EXPECT_TRUE(parse_options(json::parse(R"({"num_ctx":4096.0})")).ok());

  for (const char* bad : {R"({"num_ctx":-1})", R"({"num_ctx":0})", R"({"num_ctx":2147483648})",
                          R"({"num_ctx":9223372036854775808})", R"({"num_ctx":1e30})", R"({"num_ctx":"abc"})",
                          R"({"num_ctx":1.5})", R"({"num_predict":2147483648})", R"({"num_predict":-3})",
                          R"({"top_k":-1})", R"({"top_p":1.5})", R"({"top_p":-0.1})", R"({"min_p":2})",
                          R"({"temperature":-1})", R"({"temperature":"hot"})",
                          R"({"seed":18446744073709551616})", R"({"seed":18446744073709551615})",
                          R"({"num_keep":-2})", R"({"stop":"x","use_mmap":"yes"})", R"({"stop":[1]})",
                          R"({"stop":[""]})", R"({"repeat_last_n":-2})", R"([1])"}) {
    auto j = json::parse(bad);
    EXPECT_FALSE(parse_options(j).ok()) << bad;
  }
  json many_stops = json::object();
  many_stops["stop"] = json::array();
  for (int i = 0; i < 10000; ++i) many_stops["stop"].push_back("s");
  EXPECT_FALSE(parse_options(many_stops).ok());
  EXPECT_FALSE(parse_options(json{{"stop", {std::string(1 << 20, 'x')}}}).ok());
}

TEST(Options, MergeOverrides) {
  auto model = parse_options(json::parse(R"({"temperature":0.6,"stop":["<|eot_id|>"]})"));
  auto req = parse_options(json::parse(R"({"temperature":0.1})"));
  GenOptions m = *model;
  m.merge(*req);
  EXPECT_EQ(m.values["temperature"], 0.1);
  EXPECT_EQ(m.values["stop"][0], "<|eot_id|>");
}

TEST(KeepAlive, NumbersAndStrings) {
  auto ka = [](const char* j) { return parse_keep_alive(json::parse(j)); };
  EXPECT_FALSE(ka("{}")->has_value());
  EXPECT_EQ(**ka(R"({"keep_alive":0})"), 0);
  EXPECT_EQ(**ka(R"({"keep_alive":60})"), 60'000'000'000);
  EXPECT_EQ(**ka(R"({"keep_alive":-1})"), -1);
  EXPECT_EQ(**ka(R"({"keep_alive":"10m"})"), 600'000'000'000);
  EXPECT_EQ(**ka(R"({"keep_alive":"-1m"})"), -1);
  EXPECT_EQ(**ka(R"({"keep_alive":"0"})"), 0);
  EXPECT_FALSE(ka(R"({"keep_alive":"forever"})").ok());
  EXPECT_FALSE(ka(R"({"keep_alive":true})").ok());
}

TEST(Fields, TypedAccess) {
  json o = json::parse(R"({"s":"x","b":true,"i":5,"f":0.5,"n":null})");
  EXPECT_EQ(**opt_string(o, "s"), "x");
  EXPECT_FALSE(opt_string(o, "n")->has_value());
  EXPECT_FALSE(opt_string(o, "missing")->has_value());
  EXPECT_FALSE(opt_string(o, "b").ok());
  EXPECT_FALSE(opt_bool(o, "s").ok());
  EXPECT_EQ(**opt_int(o, "i", 0, 10), 5);
  EXPECT_FALSE(opt_int(o, "i", 0, 4).ok());
  EXPECT_FALSE(opt_int(o, "f", 0, 10).ok());
  EXPECT_EQ(**opt_number(o, "f", 0, 1), 0.5);
}

TEST(Time, Rfc3339Nanoseconds) {
  EXPECT_EQ(rfc3339_ns(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(rfc3339_ns(1714566896123456789LL), "2024-05-01T12:34:56.123456789Z");
}

TEST(Errors, StatusMapping) {
  EXPECT_EQ(http_status(Error(ErrorCode::kInvalidArgument, "")), 400);
  EXPECT_EQ(http_status(Error(ErrorCode::kNotFound, "")), 404);
  EXPECT_EQ(http_status(Error(ErrorCode::kResourceExhausted, "")), 503);
  EXPECT_EQ(http_status(Error(ErrorCode::kCancelled, "")), 499);
  EXPECT_EQ(http_status(Error(ErrorCode::kInternal, "")), 500);
}

// The server's early schema check refuses what the runner's compile (runner.cpp generate()) refuses,
// with the same message, and compiles the same input: the schema's text in the order it was written,
// which decides the problem named first.
TEST(Format, EarlyCheckRefusesWhatTheRunnerRefuses) {
  EXPECT_TRUE(check_format(nullptr, "").ok());
  EXPECT_TRUE(check_format("", "").ok());
  EXPECT_TRUE(check_format("json", "").ok());
  EXPECT_TRUE(
      check_format(json::parse(R"({"type":"object","properties":{"a":{"enum":[1,2]}},"required":["a"]})"), "").ok());

  const std::string body = R"({"model":"m","format":{"type":"object","properties":{)"
                           R"("zeta":{"type":"string","pattern":"^a"},"alpha":{"type":"number","minimum":0}}}})";
  auto parsed = parse_body(body);
  ASSERT_TRUE(parsed.ok());
  const json& format = (*parsed)["format"];
  const std::string text = ordered_member_text(body, {"format"});
  auto runner = grammar::compile_format(nlohmann::ordered_json::parse(text));
  ASSERT_FALSE(runner.ok());
  auto st = check_format(format, text);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(st.error().message(), runner.error().message());
  EXPECT_NE(st.error().message().find("#/properties/zeta"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find("pattern"), std::string::npos) << st.error().message();
  // Without the text the keys are sorted: alpha's `minimum` on a number comes first.
  auto sorted = check_format(format, "");
  ASSERT_FALSE(sorted.ok());
  EXPECT_NE(sorted.error().message().find("#/properties/alpha"), std::string::npos) << sorted.error().message();
  EXPECT_NE(sorted.error().message().find("minimum"), std::string::npos) << sorted.error().message();

  for (const char* bad :
       {R"("yaml")", R"(42)", R"([])", R"({"$ref":"#/nowhere"})", R"({"not":{}})", R"({"$ref":"#"})"}) {
    const json f = json::parse(bad);
    auto want = grammar::compile_format(f);
    ASSERT_FALSE(want.ok()) << bad;
    auto got = check_format(f, "");
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.error().message(), want.error().message()) << bad;
  }
}

}  // namespace
}  // namespace paddock::server
