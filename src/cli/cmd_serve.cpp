// `paddock serve`: starts the server (Ollama and OpenAI APIs) on PADDOCK_HOST / OLLAMA_HOST,
// default 127.0.0.1:11434. Flags override the environment. Stops on SIGINT/SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "server/server.h"
#include "util/log.h"

namespace paddock::cli {
namespace {

struct ServeFlags {
  std::string host, models, keep_alive, request_timeout, max_blob_size, drain_timeout, max_body_memory;
  std::string device;
  int max_connections = -1;
  int max_queue = -1, num_parallel = -1, max_loaded = -1, num_ctx = -1, threads = -1, header_timeout_ms = -1;
  std::vector<std::string> origins;
  bool insecure_no_auth = false, debug_endpoints = false;
  double memory_gib = 0;
};

int serve(const ServeFlags& f) {
  auto cfg_r = server::config_from_env();
  if (!cfg_r.ok()) {
    std::cerr << "Error: " << cfg_r.error().message() << "\n";
    return 1;
  }
  server::ServerConfig cfg = *cfg_r;
  if (!f.host.empty()) {
    auto hp = server::parse_host(f.host);
    if (!hp.ok()) {
      std::cerr << "Error: " << hp.error().message() << "\n";
      return 1;
    }
    cfg.host = hp->first;
    cfg.port = hp->second;
  }
  cfg.models_dir = f.models.empty() ? default_models_dir() : f.models;
  if (!f.keep_alive.empty()) {
    auto d = server::parse_duration_ns(f.keep_alive);
    if (!d.ok()) {
      std::cerr << "Error: --keep-alive: " << d.error().message() << "\n";
      return 1;
    }
    cfg.keep_alive_ns = *d;
  }
  if (!f.request_timeout.empty()) {
    auto d = server::parse_duration_ns(f.request_timeout);
    if (!d.ok()) {
      std::cerr << "Error: --request-timeout: " << d.error().message() << "\n";
      return 1;
    }
    cfg.request_timeout_ms = *d < 0 ? 0 : *d / 1000000;
  }
  if (!f.max_blob_size.empty()) {
    auto v = server::parse_size(f.max_blob_size);
    if (!v.ok()) {
      std::cerr << "Error: --max-blob-size: " << v.error().message() << "\n";
      return 1;
    }
    cfg.max_blob = *v;
  }
  if (!f.drain_timeout.empty()) {
    auto d = server::parse_duration_ns(f.drain_timeout);
    if (!d.ok()) {
      std::cerr << "Error: --drain-timeout: " << d.error().message() << "\n";
      return 1;
    }
    cfg.drain_timeout_ms = *d < 0 ? (1 << 30) : int(std::min<int64_t>(*d / 1000000, 1 << 30));
  }
  if (!f.max_body_memory.empty()) {
    auto v = server::parse_size(f.max_body_memory);
    if (!v.ok()) {
      std::cerr << "Error: --max-body-memory: " << v.error().message() << "\n";
      return 1;
    }
    cfg.max_body_memory = *v;
  }
  if (f.max_connections > 0) cfg.max_connections = size_t(f.max_connections);
  if (f.max_queue >= 0) cfg.max_queue = f.max_queue;
  if (f.num_parallel > 0) cfg.num_parallel = f.num_parallel;
  if (f.max_loaded > 0) cfg.max_loaded = f.max_loaded;
  if (f.num_ctx > 0) cfg.num_ctx = f.num_ctx;
  if (f.threads >= 0) cfg.threads = f.threads;
  if (!f.device.empty()) cfg.device = f.device;
  if (f.header_timeout_ms > 0) cfg.header_timeout_ms = f.header_timeout_ms;
  if (f.memory_gib > 0) cfg.memory_budget = uint64_t(f.memory_gib * double(1ull << 30));
  for (auto& o : f.origins) cfg.origins.push_back(o);
  cfg.insecure_no_auth = f.insecure_no_auth;
  cfg.debug_endpoints = f.debug_endpoints || std::getenv("PADDOCK_DEBUG_ENDPOINTS") != nullptr;

  // Block the stop signals in every thread; this one waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto srv = server::Server::create(cfg);
  if (!srv.ok()) {
    std::cerr << "Error: " << srv.error().message() << "\n";
    return 1;
  }
  auto st = (*srv)->start();
  if (!st.ok()) {
    std::cerr << "Error: " << st.error().message() << "\n";
    return 1;
  }
  // Machine-readable line for scripts and tests (port 0 picks a free port).
  std::cout << "paddock listening on http://" << cfg.host << ":" << (*srv)->port() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  log::info("received signal {}, draining (up to {} ms; a second signal exits at once)", sig, cfg.drain_timeout_ms);
  // The drain runs beside this thread, which keeps listening: a second signal, or a stop that
  // overruns the drain timeout by far (a request stuck where it cannot be cancelled), ends the
  // process anyway.
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    (*srv)->stop();
    done = true;
    ::kill(::getpid(), SIGTERM);  // wakes the sigwait below
  });
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.drain_timeout_ms) + std::chrono::seconds(15);
  for (;;) {
    timespec ts{0, 200 * 1000 * 1000};
    int got = sigtimedwait(&set, nullptr, &ts);
    if (done) break;
    if (got > 0 || std::chrono::steady_clock::now() > deadline) {
      log::warn(got > 0 ? "second signal: exiting without finishing the drain" : "shutdown is stuck: exiting");
      std::_Exit(got > 0 ? 130 : 1);
    }
  }
  stopper.join();
  return 0;
}

Registration reg({"serve", 10, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("serve", "Start the server (Ollama and OpenAI APIs)");
  auto f = std::make_shared<ServeFlags>();
  sub->add_option("--host", f->host, "Address to listen on, [scheme://]host[:port] (env PADDOCK_HOST, OLLAMA_HOST)");
  sub->add_option("--models,--model-dir", f->models, "Model store directory (env PADDOCK_MODELS, OLLAMA_MODELS)");
  sub->add_option("--keep-alive", f->keep_alive, "Default keep-alive, e.g. 5m, 1h, -1 forever (env PADDOCK_KEEP_ALIVE)");
  sub->add_option("--max-queue", f->max_queue, "Waiting requests before 503 (env PADDOCK_MAX_QUEUE, default 512)");
  sub->add_option("--num-parallel", f->num_parallel, "Parallel sequences per model (env PADDOCK_NUM_PARALLEL)");
  sub->add_option("--max-loaded-models", f->max_loaded, "Models loaded at once (env PADDOCK_MAX_LOADED_MODELS)");
  sub->add_option("--num-ctx", f->num_ctx, "Context length per sequence (env PADDOCK_CONTEXT_LENGTH, default 4096)");
  sub->add_option("--threads", f->threads, "CPU threads per runner (0 = all)");
  sub->add_option("--device", f->device, "Where runners compute: auto (a GPU when one is usable, else the CPU), cpu, cuda, cuda:N")
      ->check([](const std::string& d) -> std::string {
        if (d == "auto" || d == "cpu" || d == "cuda") return {};
        if (d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() <= 9 &&
            d.find_first_not_of("0123456789", 5) == std::string::npos)
          return {};
        return "expected auto, cpu, cuda or cuda:N";
      });
  sub->add_option("--memory-gib", f->memory_gib, "Memory budget for loaded models (default 90% of available)");
  sub->add_option("--request-timeout", f->request_timeout, "Per-request time limit, e.g. 10m (default none)");
  sub->add_option("--header-timeout-ms", f->header_timeout_ms, "Time allowed for request headers (default 30000)");
  sub->add_option("--max-blob-size", f->max_blob_size,
                  "Largest blob upload, e.g. 512G (env PADDOCK_MAX_BLOB_SIZE, default 512G)");
  sub->add_option("--origins", f->origins, "Extra allowed CORS origins (env PADDOCK_ORIGINS, OLLAMA_ORIGINS)");
  sub->add_option("--drain-timeout", f->drain_timeout,
                  "On SIGTERM, how long in-flight requests may finish before they are ended (default 30s)");
  sub->add_option("--max-connections", f->max_connections, "Open connections before 503 (default 512)");
  sub->add_option("--max-body-memory", f->max_body_memory,
                  "Request bodies held in memory at once before 503, e.g. 256M (default 256M)");
  sub->add_flag("--insecure-no-auth", f->insecure_no_auth, "Allow listening on a non-loopback address without auth");
  sub->add_flag("--debug-endpoints", f->debug_endpoints, "Enable /api/debug/runners (runner KV statistics)");
  run = [f] { return serve(*f); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
