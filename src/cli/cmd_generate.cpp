// `paddock generate`: offline completion with a local model — loads the GGUF (a file or a store
// name), runs the engine on the raw prompt (no chat template), streams the text to stdout and
// prints Ollama-style timings to stderr. Sampling flags are named after Ollama's options.
// Also holds open_model_file (model_open.h), shared with `paddock perplexity`.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "cli/command.h"
#include "cli/model_open.h"
#include "engine/engine.h"
#include "model/model.h"
#include "store/store.h"

namespace paddock::cli {

Result<OpenedModel> open_model_file(const std::string& file_or_name) {
  OpenedModel m;
  std::error_code ec;
  if (std::filesystem::is_regular_file(file_or_name, ec)) {
    m.path = file_or_name;
  } else {
    ASSIGN_OR_RETURN(auto store, store::Store::open(default_models_dir(), false));
    auto shown = store.show(file_or_name);
    if (!shown.ok()) return shown.error().wrap("model '" + file_or_name + "'");
    m.path = shown->model_path;
  }
  auto f = gguf::File::open(m.path);
  if (!f.ok()) return f.error().wrap(m.path);
  m.file = std::make_shared<const gguf::File>(std::move(*f));
  auto tok = tokenizer::Tokenizer::from_gguf(*m.file);
  if (!tok.ok()) return tok.error().wrap("tokenizer");
  m.tok = std::shared_ptr<const tokenizer::Tokenizer>(std::move(*tok));
  return m;
}

namespace {

struct GenerateArgs {
  std::string model, prompt;
  float temperature = 0.8f, top_p = 0.9f, min_p = 0.0f, repeat_penalty = 1.0f;
  int32_t top_k = 40, num_predict = -1, num_ctx = 4096, repeat_last_n = 64, threads = 0;
  int64_t seed = -1;
  bool kv_q8 = false;
  std::string device = "auto";
};

std::string fmt_duration(int64_t ns) {
  if (ns >= 1000000000) return fmt::format("{:.6f}s", static_cast<double>(ns) / 1e9);
  return fmt::format("{:.6f}ms", static_cast<double>(ns) / 1e6);
}

int run_generate(const GenerateArgs& a) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto opened = open_model_file(a.model);
  if (!opened.ok()) {
    std::cerr << "Error: " << opened.error().message() << "\n";
    return 1;
  }
  auto model = Model::load(opened->file, LoadOptions{a.threads, a.device});
  if (!model.ok()) {
    std::cerr << "Error: " << model.error().message() << "\n";
    return 1;
  }
  const int32_t n_ctx = std::min(a.num_ctx, std::max(1, (*model)->info().n_ctx_train));
  engine::Options eo;
  eo.max_seqs = 1;
  eo.num_ctx = n_ctx;
  auto eng = engine::Engine::create(std::move(*model), opened->tok, eo);
  if (!eng.ok()) {
    std::cerr << "Error: " << eng.error().message() << "\n";
    return 1;
  }
  const int64_t load_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();

  engine::Request req;
  req.prompt = opened->tok->encode(a.prompt, true, false);
  req.num_predict = a.num_predict;
  req.num_ctx = n_ctx;
  req.sampling.temperature = a.temperature;
  req.sampling.top_k = a.top_k;
  req.sampling.top_p = a.top_p;
  req.sampling.min_p = a.min_p;
  req.sampling.repeat_penalty = a.repeat_penalty;
  req.sampling.repeat_last_n = a.repeat_last_n;
  req.sampling.seed = a.seed;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<engine::Event> events;
  auto id = (*eng)->submit(std::move(req), [&](engine::Event&& e) {
    std::lock_guard<std::mutex> lk(mu);
    events.push_back(std::move(e));
    cv.notify_one();
  });
  if (!id.ok()) {
    std::cerr << "Error: " << id.error().message() << "\n";
    return 1;
  }
  for (;;) {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return !events.empty(); });
    engine::Event e = std::move(events.front());
    events.pop_front();
    lk.unlock();
    if (e.kind == engine::Event::Kind::kToken) {
      std::cout << e.text << std::flush;
    } else if (e.kind == engine::Event::Kind::kError) {
      std::cerr << "\nError: " << e.error << "\n";
      return 1;
    } else {
      std::cout << e.text << "\n" << std::flush;
      const int64_t total = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
      auto rate = [](int32_t n, int64_t ns) { return ns > 0 ? n / (static_cast<double>(ns) / 1e9) : 0.0; };
      std::cerr << fmt::format("total duration:       {}\n", fmt_duration(total))
                << fmt::format("load duration:        {}\n", fmt_duration(load_ns))
                << fmt::format("prompt eval count:    {} token(s)\n", e.prompt_tokens)
                << fmt::format("prompt eval duration: {}\n", fmt_duration(e.prompt_ns))
                << fmt::format("prompt eval rate:     {:.2f} tokens/s\n", rate(e.prompt_tokens, e.prompt_ns))
                << fmt::format("eval count:           {} token(s)\n", e.eval_tokens)
                << fmt::format("eval duration:        {}\n", fmt_duration(e.eval_ns))
                << fmt::format("eval rate:            {:.2f} tokens/s\n", rate(e.eval_tokens, e.eval_ns))
                << fmt::format("done reason:          {}\n", e.done_reason);
      break;
    }
  }
  (*eng)->shutdown();
  return 0;
}

Registration reg({"generate", 60, [](CLI::App& app, std::function<int()>& run) {
  auto a = std::make_shared<GenerateArgs>();
  auto* sub = app.add_subcommand("generate", "Generate text from a prompt with a local model (offline, raw prompt)");
  sub->add_option("--model,-m", a->model, "GGUF file or model name")->required();
  sub->add_option("--prompt,-p", a->prompt, "Prompt text (no chat template applied)")->required();
  sub->add_option("--temperature", a->temperature, "Sampling temperature (0 = greedy)")->check(CLI::Range(0.0f, 100.0f));
  sub->add_option("--num-predict", a->num_predict, "Tokens to generate (-1 = until end or context)")->check(CLI::Range(-1, 1 << 30));
  sub->add_option("--top-k", a->top_k, "Top-k (0 = off)")->check(CLI::Range(0, 1 << 30));
  sub->add_option("--top-p", a->top_p, "Top-p")->check(CLI::Range(0.0f, 1.0f));
  sub->add_option("--min-p", a->min_p, "Min-p")->check(CLI::Range(0.0f, 1.0f));
  sub->add_option("--seed", a->seed, "Random seed (-1 = random)");
  sub->add_option("--num-ctx", a->num_ctx, "Context length")->check(CLI::Range(16, 1 << 24));
  sub->add_option("--repeat-penalty", a->repeat_penalty, "Repeat penalty")->check(CLI::Range(0.0f, 100.0f));
  sub->add_option("--repeat-last-n", a->repeat_last_n, "Repeat penalty window")->check(CLI::Range(-1, 1 << 24));
  sub->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->check(CLI::Range(0, 1024));
  sub->add_option("--device", a->device, "auto (a GPU when one is usable), cpu, cuda or cuda:N");
  run = [a] { return run_generate(*a); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
