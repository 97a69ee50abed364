// Shared by the engine-loop tests (engine_test, structured_output_test): a small random-weight GGUF
// model parsed from memory with its tokenizer, an Engine over it, and an Outcome that collects one
// request's events from the engine thread.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "gguf/gguf.h"

namespace paddock::engine::test_support {

struct ModelFixture {
  std::string bytes;  // the GGUF file, kept alive for the parsed view
  std::shared_ptr<const gguf::File> file;
  std::shared_ptr<const tokenizer::Tokenizer> tok;
};

// Serializes `w` and parses it back with its tokenizer. Meant for a function-local static (it is
// never freed); any failure is a test failure.
inline ModelFixture* make_model_fixture(Result<gguf::Writer> w) {
  auto* fx = new ModelFixture;
  EXPECT_TRUE(w.ok()) << w.error().message();
  auto bytes = w->serialize();
  EXPECT_TRUE(bytes.ok());
  fx->bytes = std::move(*bytes);
  auto file =
      gguf::File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(fx->bytes.data()), fx->bytes.size()));
  EXPECT_TRUE(file.ok()) << file.error().message();
  fx->file = std::make_shared<const gguf::File>(std::move(*file));
  auto tok = tokenizer::Tokenizer::from_gguf(*fx->file);
  EXPECT_TRUE(tok.ok()) << tok.error().message();
  fx->tok = std::shared_ptr<const tokenizer::Tokenizer>(std::move(*tok));
  return fx;
}

// An engine over the fixture's model (one compute thread, so runs are reproducible).
inline std::unique_ptr<Engine> start_engine(const ModelFixture& fx, Options o) {
  auto model = Model::load(fx.file, {.n_threads = 1});
  EXPECT_TRUE(model.ok()) << model.error().message();
  auto e = Engine::create(std::move(*model), fx.tok, o);
  EXPECT_TRUE(e.ok()) << e.error().message();
  return std::move(*e);
}

// Collects one request's events; the sink runs on the engine thread.
struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::vector<int32_t> tokens;
  std::string text, reason, error;
  std::vector<std::vector<TokenLogprob>> logprobs;
  Event final_event;
  int late_events = 0;  // anything after the terminal event is a bug

  Sink sink() {
    return [this](Event&& ev) {
      std::lock_guard<std::mutex> lk(mu);
      if (done) {
        ++late_events;
        return;
      }
      if (ev.kind == Event::Kind::kToken) {
        tokens.push_back(ev.token);
        text += ev.text;
        logprobs.push_back(ev.logprobs);
        return;
      }
      if (ev.kind == Event::Kind::kDone) reason = ev.done_reason;
      if (ev.kind == Event::Kind::kError) error = ev.error;
      final_event = std::move(ev);
      done = true;
      cv.notify_one();
    };
  }
  // Generous for sanitizer builds on a loaded 2-core machine; a hang fails instead of blocking.
  void wait() {
    std::unique_lock<std::mutex> lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(120), [&] { return done; })) << "request never finished";
  }
};

}  // namespace paddock::engine::test_support
