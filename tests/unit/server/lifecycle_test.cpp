// Server lifecycle: background jobs (create, blob commits) run on tracked workers that stop()
// joins, so stopping a server mid-create never touches freed memory (this runs under ASan in CI)
// and never leaves a half-made model or a temp file in the store. Also parse_size.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "gguf/gguf.h"
#include "server/app.h"
#include "server/server.h"
#include "test_client.h"
#include "util/sha256.h"

namespace paddock::server {
namespace {

namespace fs = std::filesystem;
using testing::RawClient;

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("paddock-lifecycle-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(Workers, StopJoinsRunningJobsAndRefusesNewOnes) {
  Workers w;
  std::atomic<int> done{0};
  std::atomic<bool> saw_stopping{false};
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(w.spawn([&] {
      while (!w.stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      saw_stopping = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // still working after the signal
      done++;
    }));
  EXPECT_EQ(w.running(), 4u);
  w.stop_and_join();
  EXPECT_EQ(done.load(), 4);  // every job finished before stop_and_join returned
  EXPECT_TRUE(saw_stopping.load());
  EXPECT_FALSE(w.spawn([] {}));
  EXPECT_EQ(w.running(), 0u);
}

// A finished job's thread is joined and dropped at the next spawn, so a server that runs many jobs
// holds only the threads of those still running.
TEST(Workers, FinishedJobsAreReaped) {
  Workers w;
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  // 50 jobs held at a gate: none can finish (or be reaped) while they are spawned.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(w.spawn([gate] { gate.wait(); }));
  EXPECT_EQ(w.running(), 50u);
  EXPECT_EQ(w.tracked(), 50u);
  go.set_value();
  // running() counts jobs not marked done (marked after the job returns): wait for that event,
  // not for a counter the jobs bump before they are marked.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (w.running() != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(w.running(), 0u);
  EXPECT_EQ(w.tracked(), 50u);  // finished, their threads not yet joined
  std::promise<void> go2;
  std::shared_future<void> gate2 = go2.get_future().share();
  ASSERT_TRUE(w.spawn([gate2] { gate2.wait(); }));
  EXPECT_EQ(w.tracked(), 1u) << "spawn did not reap the 50 finished threads";
  EXPECT_EQ(w.running(), 1u);
  go2.set_value();
  w.stop_and_join();
  EXPECT_EQ(w.tracked(), 0u);
}

TEST(Config, Sizes) {
  EXPECT_EQ(*parse_size("1048576"), 1048576u);
  EXPECT_EQ(*parse_size("512G"), 512ull << 30);
  EXPECT_EQ(*parse_size("64MiB"), 64ull << 20);
  EXPECT_EQ(*parse_size("2t"), 2ull << 40);
  EXPECT_EQ(*parse_size("10KB"), 10ull << 10);
  EXPECT_FALSE(parse_size("").ok());
  EXPECT_FALSE(parse_size("G").ok());
  EXPECT_FALSE(parse_size("5X").ok());
  EXPECT_FALSE(parse_size("99999999999999999999").ok());
  EXPECT_FALSE(parse_size("99999999999T").ok());
}

// Reads one whole response (headers + body) from a raw client.
std::string post(uint16_t port, const std::string& path, const std::string& body) {
  RawClient c(port);
  if (!c.ok()) return "";  // connected after the server stopped listening
  c.send("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body);
  return c.read_until("\r\n0\r\n\r\n", 10000);
}

TEST(Lifecycle, StopDuringCreatesAndUploadsIsSafeAndLeavesNoPartialModel) {
  TempDir tmp;
  gguf::TinyLlamaSpec spec;
  spec.n_embd = 256;
  spec.n_ff = 512;
  auto w = gguf::make_tiny_llama(spec);
  ASSERT_TRUE(w.ok());
  const std::string gguf_path = (tmp.path / "m.gguf").string();
  ASSERT_TRUE(w->write(gguf_path).ok());
  const std::string digest = "sha256:" + *sha256_file_hex(gguf_path);
  std::string bytes;
  {
    std::ifstream f(gguf_path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  const fs::path models = tmp.path / "models";
  for (int round = 0; round < 6; ++round) {
    ServerConfig cfg;
    cfg.port = 0;
    cfg.models_dir = models.string();
    auto s = Server::create(cfg);
    ASSERT_TRUE(s.ok()) << s.error().message();
    ASSERT_TRUE((*s)->start().ok());
    uint16_t port = (*s)->port();
    std::string up = post(port, "/api/blobs/" + digest, bytes);
    ASSERT_NE(up.find("201"), std::string::npos) << up;
    // Several creates in flight, and an upload left half-sent, when the server stops.
    std::vector<std::thread> clients;
    for (int i = 0; i < 3; ++i)
      clients.emplace_back([&, i] {
        post(port, "/api/create",
             "{\"model\":\"m" + std::to_string(round) + "-" + std::to_string(i) + "\",\"files\":{\"m.gguf\":\"" +
                 digest + "\"},\"system\":\"s\",\"parameters\":{\"temperature\":0.5}}");
      });
    RawClient half(port);
    half.send("POST /api/blobs/sha256:" + std::string(64, 'c') +
              " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n" + std::string(20000, 'x'));
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 3));
    (*s)->stop();
    s->reset();  // the App and everything it owns are freed here
    for (auto& t : clients) t.join();
  }
  // Every model present is whole (its manifest names existing blobs); no temp files remain.
  auto st = fs::exists(models / "blobs");
  ASSERT_TRUE(st);
  for (auto& e : fs::directory_iterator(models / "blobs"))
    EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << e.path();
  ServerConfig cfg;
  cfg.port = 0;
  cfg.models_dir = models.string();
  auto s = Server::create(cfg);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->start().ok());
  RawClient c((*s)->port());
  c.send("GET /api/tags HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  std::string tags = c.read_until("]}", 10000);
  EXPECT_NE(tags.find("200 OK"), std::string::npos) << tags;
  size_t listed = 0;
  for (size_t p = tags.find("\"name\":\"m"); p != std::string::npos; p = tags.find("\"name\":\"m", p + 1)) listed++;
  size_t manifests = 0;
  if (fs::exists(models / "manifests"))
    for (auto& e : fs::recursive_directory_iterator(models / "manifests"))
      if (e.is_regular_file()) manifests++;
  EXPECT_EQ(listed, manifests);  // every manifest on disk is a valid, listable model
  (*s)->stop();
}

}  // namespace
}  // namespace paddock::server
