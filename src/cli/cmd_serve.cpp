// `paddock serve`: starts the server (Ollama and OpenAI APIs) on PADDOCK_HOST / OLLAMA_HOST,
// default 127.0.0.1:11434. Every setting comes from server/settings.h's table: flags override the
// environment, which overrides the config file. SIGINT/SIGTERM drain and stop; SIGHUP reloads TLS and the keys file.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <thread>

#include "cli/command.h"
#include "server/server.h"
#include "server/settings.h"
#include "util/log.h"

namespace paddock::cli {
namespace {

// What the command line gave: each setting's value (lists comma-joined) by key.
struct ServeFlags {
  std::string config;
  bool print_config = false;
  std::vector<std::pair<const server::Setting*, CLI::Option*>> options;
  std::map<std::string, std::string> values;
  std::map<std::string, std::vector<std::string>> lists;
  std::map<std::string, bool> bools;
};

int serve(ServeFlags& f) {
  server::ConfigInputs in;
  in.file = f.config;
  if (in.file.empty())
    if (const char* c = std::getenv("PADDOCK_CONFIG"); c && *c) in.file = c;
  for (auto& [st, opt] : f.options) {
    if (opt->count() == 0) continue;
    switch (st->kind) {
      case server::Setting::Kind::kBool: in.flags[st->key] = f.bools[st->key] ? "true" : "false"; break;
      case server::Setting::Kind::kList: {
        std::string joined;
        for (auto& x : f.lists[st->key]) joined += (joined.empty() ? "" : ",") + x;
        in.flags[st->key] = joined;
        break;
      }
      default: in.flags[st->key] = f.values[st->key];
    }
  }
  server::ServerConfig defaults;
  const char* home = std::getenv("HOME");
  defaults.models_dir = std::string(home && *home ? home : ".") + "/.paddock/models";
  auto eff = server::resolve_config(in, defaults);
  if (!eff.ok()) {
    std::cerr << "Error: " << eff.error().message() << "\n";
    return 1;
  }
  if (f.print_config) {
    std::cout << server::print_config(*eff);
    return 0;
  }
  server::ServerConfig cfg = eff->cfg;

  // Block the stop signals in every thread; this one waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
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
  // Machine-readable lines for scripts and tests (port 0 picks a free port).
  std::cout << "paddock listening on " << (cfg.tls_cert.empty() ? "http" : "https") << "://" << cfg.host << ":"
            << (*srv)->port() << std::endl;
  if ((*srv)->metrics_port() != 0)
    std::cout << "paddock metrics on http://" << cfg.metrics_host << ":" << (*srv)->metrics_port() << std::endl;
  int sig = 0;
  for (;;) {
    sigwait(&set, &sig);
    if (sig != SIGHUP) break;
    log::info("received SIGHUP: reloading the TLS certificate and the API keys");
    (void)(*srv)->reload();  // logged and counted; the old certificate stays on failure
  }
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
  sigdelset(&set, SIGHUP);  // still blocked: a SIGHUP during the drain is ignored
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
  sub->footer(
      "Precedence: flags > PADDOCK_* > OLLAMA_* > config file > defaults. docs/OPERATIONS.md lists every setting.");
  auto f = std::make_shared<ServeFlags>();
  sub->add_option("--config", f->config, "YAML config file of settings by flag name (env PADDOCK_CONFIG)");
  sub->add_flag("--print-config", f->print_config, "Print the effective configuration (secrets masked) and exit");
  for (const auto& st : server::serve_settings()) {
    std::string names = "--" + st.key;
    for (auto& a : st.alias) names += ",--" + a;
    std::string help = st.help;
    if (!st.env.empty()) {
      help += " (env ";
      for (size_t i = 0; i < st.env.size(); ++i) help += (i ? ", " : "") + st.env[i];
      help += ")";
    }
    CLI::Option* opt = nullptr;
    switch (st.kind) {
      case server::Setting::Kind::kBool: opt = sub->add_flag(names, f->bools[st.key], help); break;
      case server::Setting::Kind::kList: opt = sub->add_option(names, f->lists[st.key], help); break;
      default: opt = sub->add_option(names, f->values[st.key], help);
    }
    f->options.emplace_back(&st, opt);
  }
  run = [f] { return serve(*f); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
