// The metrics registry's text format (escaping, cumulative buckets), bounded labels, and the
// settings layering (precedence, config file errors, print-config masking) without a server.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "server/metrics.h"
#include "server/settings.h"

namespace paddock::server {
namespace {

TEST(Metrics, HistogramIsCumulativeWithInfAndSum) {
  MetricFamily h("x_seconds", "Help with a \\ and\na newline.", MetricFamily::Type::kHistogram, {"model"}, {0.1, 1});
  h.observe({"m"}, 0.05);
  h.observe({"m"}, 0.1);  // le is inclusive
  h.observe({"m"}, 0.5);
  h.observe({"m"}, 7);
  std::string out;
  h.render(out);
  EXPECT_NE(out.find("# HELP x_seconds Help with a \\\\ and\\na newline.\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# TYPE x_seconds histogram\n"), std::string::npos);
  EXPECT_NE(out.find("x_seconds_bucket{model=\"m\",le=\"0.1\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{model=\"m\",le=\"1\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_sum{model=\"m\"} 7.65\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_count{model=\"m\"} 4\n"), std::string::npos) << out;
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricFamily c("y_total", "h", MetricFamily::Type::kCounter, {"a"});
  c.add({"q\"b\\s\nn"}, 2);
  std::string out;
  c.render(out);
  EXPECT_NE(out.find("y_total{a=\"q\\\"b\\\\s\\nn\"} 2\n"), std::string::npos) << out;
}

TEST(Metrics, RoutesAndModelsAreBounded) {
  EXPECT_EQ(Metrics::route_label("/api/generate"), "/api/generate");
  EXPECT_EQ(Metrics::route_label("/api/blobs/sha256:abc"), "/api/blobs/:digest");
  EXPECT_EQ(Metrics::route_label("/api/../../etc/passwd"), "other");
  EXPECT_EQ(Metrics::route_label("/v1/models/x"), "/v1/models/:model");
  auto m = std::make_shared<Metrics>();
  for (size_t i = 0; i < Metrics::kMaxModelLabels; ++i) EXPECT_EQ(m->model_label("m" + std::to_string(i)), "m" + std::to_string(i));
  EXPECT_EQ(m->model_label("one-too-many"), "other");
  EXPECT_EQ(m->model_label("m3"), "m3");  // known names keep their label
  EXPECT_EQ(m->model_label(""), "");
}

TEST(Settings, PrecedenceFlagEnvFileDefault) {
  std::string path = ::testing::TempDir() + "/paddock_settings_test.yaml";
  {
    std::ofstream f(path);
    f << "max-queue: 10\nnum_parallel: 2\nkeep-alive: 10m\nmetrics: {addr: '127.0.0.1:9', token: hush}\n";
  }
  std::map<std::string, std::string> env = {{"OLLAMA_MAX_QUEUE", "20"}, {"PADDOCK_NUM_PARALLEL", "3"},
                                            {"OLLAMA_NUM_PARALLEL", "4"}};
  ConfigInputs in;
  in.file = path;
  in.flags["num-parallel"] = "5";
  in.getenv = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto eff = resolve_config(in);
  ASSERT_TRUE(eff.ok()) << eff.error().message();
  EXPECT_EQ(eff->cfg.num_parallel, 5);
  EXPECT_EQ(eff->cfg.max_queue, 20);
  EXPECT_EQ(eff->source.at("max-queue"), "env OLLAMA_MAX_QUEUE");
  EXPECT_EQ(eff->cfg.keep_alive_ns, 600'000'000'000);
  EXPECT_EQ(eff->cfg.metrics_port, 9);
  EXPECT_TRUE(eff->cfg.metrics_required);
  EXPECT_EQ(eff->cfg.metrics_token, "hush");
  std::string printed = print_config(*eff);
  EXPECT_EQ(printed.find("hush"), std::string::npos);
  EXPECT_NE(printed.find("metrics-token: \"********\"  # file " + path), std::string::npos) << printed;
  in.flags.clear();
  env.erase("PADDOCK_NUM_PARALLEL");
  eff = resolve_config(in);
  ASSERT_TRUE(eff.ok());
  EXPECT_EQ(eff->cfg.num_parallel, 4);  // OLLAMA_* over the file
  env.clear();
  eff = resolve_config(in);
  ASSERT_TRUE(eff.ok());
  EXPECT_EQ(eff->cfg.num_parallel, 2);  // the file over the default
  EXPECT_FALSE(ServerConfig{}.metrics_required);
  std::remove(path.c_str());
}

TEST(Settings, ConfigFileErrorsNameTheProblem) {
  std::string path = ::testing::TempDir() + "/paddock_settings_bad.yaml";
  auto err = [&](const std::string& text) {
    std::ofstream(path) << text;
    auto r = read_config_file(path);
    return r.ok() ? std::string("ok") : r.error().message();
  };
  EXPECT_NE(err("max-qeueu: 1\n").find("unknown key 'max-qeueu'"), std::string::npos);
  EXPECT_NE(err("max-queue: [1]\n").find("must be a single value"), std::string::npos);
  EXPECT_NE(err("max-queue: 1\nmax_queue: 2\n").find("given twice"), std::string::npos);
  EXPECT_NE(err("a: [\n").find("line "), std::string::npos);
  EXPECT_NE(err("origins: [a, {b: c}]\n").find("list of strings"), std::string::npos);
  EXPECT_EQ(err(""), "ok");
  EXPECT_EQ(err("origins: [https://a, https://b]\npreload: x,y\n"), "ok");
  EXPECT_NE(err(std::string(2 << 20, '#')).find("larger than"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace paddock::server
