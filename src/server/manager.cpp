// manager: the model scheduler. A single thread loads models (one at a time, like Ollama),
// expires idle ones and evicts to make room; acquire/release only touch the table under a lock
// and never block on a process.
#include "server/manager.h"

#include <fstream>
#include <sstream>

#include "server/metrics.h"
#include "util/log.h"

namespace paddock::server {

uint64_t available_memory() {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream is(line.substr(13));
      uint64_t kb = 0;
      is >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

uint64_t estimate_memory(uint64_t weight_bytes, const nlohmann::json& info, int num_ctx, int num_parallel) {
  std::string arch = info.value("general.architecture", "");
  auto get = [&](const std::string& k) -> uint64_t {
    auto it = info.find(arch + "." + k);
    if (it == info.end() || !it->is_number_unsigned()) {
      if (it != info.end() && it->is_number_integer() && it->get<int64_t>() > 0) return uint64_t(it->get<int64_t>());
      return 0;
    }
    return it->get<uint64_t>();
  };
  uint64_t n_layer = get("block_count"), n_embd = get("embedding_length"), n_head = get("attention.head_count");
  uint64_t n_head_kv = get("attention.head_count_kv");
  if (n_head_kv == 0) n_head_kv = n_head;
  uint64_t head_dim = get("attention.key_length");
  if (head_dim == 0 && n_head > 0) head_dim = n_embd / n_head;
  uint64_t tokens = uint64_t(std::max(num_ctx, 1)) * uint64_t(std::max(num_parallel, 1));
  uint64_t kv = 2ull * n_layer * n_head_kv * head_dim * 2ull * tokens;  // K and V, f16
  uint64_t total = weight_bytes + kv;
  return total + total / 10 + (64ull << 20);  // activations and runtime overhead
}

Slot::~Slot() {
  if (mgr_) mgr_->release(key_, generation_);
}

Manager::Manager(ManagerOptions opts) : opts_(std::move(opts)) {
  if (opts_.memory_budget == 0) opts_.memory_budget = available_memory() / 10 * 9;
  if (opts_.num_parallel < 1) opts_.num_parallel = 1;
  if (opts_.max_loaded < 1) opts_.max_loaded = 1;
  thread_ = std::thread([this] { loop(); });
}

Manager::~Manager() { shutdown(); }

void Manager::shutdown() {
  std::vector<std::shared_ptr<RunnerClient>> runners;
  std::vector<Done> failed;
  {
    std::lock_guard lk(mu_);
    if (stop_) return;
    stop_ = true;
    for (auto& [k, m] : models_) {
      for (auto& w : m.waiters) failed.push_back(std::move(w.done));
      m.waiters.clear();
      if (m.runner) runners.push_back(m.runner);
    }
    waiting_ = 0;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& d : failed) d(make_error(ErrorCode::kCancelled, "server is shutting down"));
  for (auto& r : runners) r->shutdown();
  // Their readers call back into this manager when they end: let them finish first.
  for (auto& r : runners) r->wait_finished(5000);
  std::map<std::string, Loaded> gone;
  {
    std::lock_guard lk(mu_);
    gone.swap(models_);
  }
  gone.clear();     // joins reader threads, which may need mu_ for their exit callback
  runners.clear();
}

bool Manager::try_reserve() {
  std::lock_guard lk(mu_);
  if (stop_ || waiting_ + reserved_ >= opts_.max_queue) return false;
  reserved_++;
  return true;
}

void Manager::unreserve() {
  std::lock_guard lk(mu_);
  if (reserved_ > 0) reserved_--;
}

uint64_t Manager::acquire(const ModelRef& ref, std::optional<int64_t> keep_alive_ns, Done done, bool reserved) {
  std::vector<std::function<void()>> run;
  std::shared_ptr<RunnerClient> graveyard;
  uint64_t ticket;
  {
    std::unique_lock lk(mu_);
    ticket = next_ticket_++;
    if (reserved && reserved_ > 0) reserved_--;
    if (stop_) {
      lk.unlock();
      done(make_error(ErrorCode::kCancelled, "server is shutting down"));
      return ticket;
    }
    const std::string& key = ref.model_path;
    auto it = models_.find(key);
    bool ready_free = it != models_.end() && it->second.state == Loaded::State::kReady &&
                      it->second.active < opts_.num_parallel && it->second.waiters.empty() &&
                      it->second.runner && it->second.runner->alive() && it->second.reload_ctx == 0 &&
                      ref.num_ctx <= it->second.num_ctx;
    if (!ready_free && !reserved && waiting_ + reserved_ >= opts_.max_queue) {
      lk.unlock();
      done(make_error(ErrorCode::kResourceExhausted,
                      "server busy, please try again.  maximum pending requests exceeded"));
      return ticket;
    }
    if (it == models_.end()) {
      it = models_.emplace(key, Loaded{}).first;
      it->second.ref = ref;
      it->second.queued_at = Clock::now();
      it->second.num_ctx = std::max(opts_.num_ctx, ref.num_ctx);
      load_order_.push_back(key);
    } else if (it->second.state == Loaded::State::kDead && it->second.active == 0) {
      note_restart_locked(it->second);
      it->second.state = Loaded::State::kQueued;
      graveyard = std::move(it->second.runner);  // destroyed after the lock is released
      it->second.num_ctx = std::max(it->second.num_ctx, ref.num_ctx);
      load_order_.push_back(key);
    } else {
      want_context_locked(it->second, ref);
    }
    it->second.waiters.push_back(Waiter{ticket, keep_alive_ns, std::move(done), Clock::now()});
    waiting_++;
    run = grant(it->second, key);
  }
  cv_.notify_all();
  for (auto& f : run) f();
  return ticket;
}

void Manager::want_context_locked(Loaded& m, const ModelRef& ref) {
  int want = ref.num_ctx;
  if (m.ctx_cap > 0) want = std::min(want, m.ctx_cap);
  if (want <= m.num_ctx || want <= m.reload_ctx) return;
  if (m.state == Loaded::State::kQueued) {  // not started yet: start it big enough
    m.num_ctx = want;
    return;
  }
  log::info("{}: a request needs context {} (runner has {}): restarting it once idle", m.ref.name, want, m.num_ctx);
  m.reload_ctx = want;
  m.ref.mem_estimate = std::max(m.ref.mem_estimate, ref.mem_estimate);
}

std::vector<std::function<void()>> Manager::grant(Loaded& m, const std::string& key) {
  std::vector<std::function<void()>> out;
  if (m.reload_ctx > m.num_ctx) return out;  // waiting to restart with a bigger context
  while (m.state == Loaded::State::kReady && m.runner && m.runner->alive() && m.active < opts_.num_parallel &&
         !m.waiters.empty()) {
    Waiter w = std::move(m.waiters.front());
    m.waiters.pop_front();
    waiting_--;
    m.active++;
    m.expires.reset();
    m.keep_alive_ns = w.keep_alive_ns.value_or(opts_.default_keep_alive_ns);
    auto slot = std::make_shared<std::unique_ptr<Slot>>(new Slot());
    (*slot)->mgr_ = this;
    (*slot)->key_ = key;
    (*slot)->generation_ = m.generation;
    (*slot)->runner_ = m.runner;
    (*slot)->load_duration_ = m.load_duration > Clock::duration(0) ? std::min(m.load_duration, Clock::now() - w.since)
                                                                 : Clock::duration(0);
    out.push_back([d = std::move(w.done), slot] { d(std::move(*slot)); });
  }
  return out;
}

void Manager::cancel_wait(uint64_t ticket) {
  Done d;
  {
    std::lock_guard lk(mu_);
    for (auto& [k, m] : models_) {
      for (auto it = m.waiters.begin(); it != m.waiters.end(); ++it) {
        if (it->ticket == ticket) {
          d = std::move(it->done);
          m.waiters.erase(it);
          waiting_--;
          break;
        }
      }
      if (d) break;
    }
  }
  cv_.notify_all();
  if (d) d(make_error(ErrorCode::kCancelled, "request canceled"));
}

void Manager::release(const std::string& key, uint64_t generation) {
  std::vector<std::function<void()>> run;
  {
    std::lock_guard lk(mu_);
    auto it = models_.find(key);
    if (it == models_.end() || it->second.generation != generation) return;
    Loaded& m = it->second;
    if (m.active > 0) m.active--;
    run = grant(m, key);
    if (m.active == 0 && m.waiters.empty()) {
      if (m.unload_requested || m.keep_alive_ns == 0) m.expires = Clock::now();
      else if (m.keep_alive_ns < 0) m.expires.reset();
      else m.expires = Clock::now() + std::chrono::nanoseconds(m.keep_alive_ns);
      if (m.keep_alive_ns < 0 && !m.unload_requested) m.expires.reset();
    }
  }
  cv_.notify_all();
  for (auto& f : run) f();
}

void Manager::unload(const std::string& model_path) {
  {
    std::lock_guard lk(mu_);
    auto it = models_.find(model_path);
    if (it == models_.end()) return;
    it->second.unload_requested = true;
    if (it->second.active == 0) it->second.expires = Clock::now();
  }
  cv_.notify_all();
}

void Manager::note_restart_locked(Loaded& m) {
  if (!m.crashed) return;
  m.crashed = false;
  log::info("restarting the runner for {} (its previous process ended unexpectedly)", m.ref.name);
  if (opts_.metrics) opts_.metrics->runner_restarts.add({opts_.metrics->model_label(m.ref.name)});
}

std::vector<Manager::QueueStatus> Manager::queue_status(int* total_waiting) const {
  std::vector<QueueStatus> out;
  std::lock_guard lk(mu_);
  for (auto& [k, m] : models_) {
    QueueStatus q;
    q.name = m.ref.name;
    q.waiting = int(m.waiters.size());
    q.active = m.active;
    q.ready = m.state == Loaded::State::kReady;
    q.runner = m.runner;
    out.push_back(std::move(q));
  }
  if (total_waiting) *total_waiting = waiting_ + reserved_;
  return out;
}

int Manager::waiting() const {
  std::lock_guard lk(mu_);
  return waiting_;
}

std::vector<PsEntry> Manager::ps() {
  std::vector<PsEntry> out;
  std::lock_guard lk(mu_);
  auto now_s = Clock::now();
  auto now_sys = std::chrono::system_clock::now();
  auto to_unix = [&](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>((now_sys + (t - now_s)).time_since_epoch()).count();
  };
  for (auto& [k, m] : models_) {
    if (m.state != Loaded::State::kReady && m.state != Loaded::State::kLoading) continue;
    PsEntry e;
    e.ref = m.ref;
    e.num_ctx = m.num_ctx > 0 ? m.num_ctx : opts_.num_ctx;
    e.active = m.active;
    e.loading = m.state == Loaded::State::kLoading;
    e.runner = m.runner;
    e.pid = m.runner ? m.runner->pid() : -1;
    if (m.runner && m.runner->ready().contains("num_ctx")) e.num_ctx = m.runner->ready().value("num_ctx", e.num_ctx);
    if (m.expires) e.expires_at_unix_ns = to_unix(*m.expires);
    else if (m.keep_alive_ns >= 0 && !e.loading) e.expires_at_unix_ns = to_unix(now_s + std::chrono::nanoseconds(m.keep_alive_ns));
    out.push_back(std::move(e));
  }
  return out;
}

uint64_t Manager::used_memory_locked(const std::string& except) const {
  uint64_t used = 0;
  for (auto& [k, m] : models_)
    if (k != except && (m.state == Loaded::State::kReady || m.state == Loaded::State::kLoading))
      used += m.ref.mem_estimate;
  return used;
}

bool Manager::evict_one_idle_locked(const std::string& except, std::vector<std::shared_ptr<RunnerClient>>& to_stop) {
  // Prefer the idle model that expires soonest (never-expiring ones last).
  auto best = models_.end();
  for (auto it = models_.begin(); it != models_.end(); ++it) {
    auto& m = it->second;
    if (it->first == except || m.state != Loaded::State::kReady || m.active > 0 || !m.waiters.empty()) continue;
    if (best == models_.end()) best = it;
    else {
      auto& b = best->second;
      bool m_sooner = m.expires && (!b.expires || *m.expires < *b.expires);
      if (m_sooner) best = it;
    }
  }
  if (best == models_.end()) return false;
  log::info("evicting idle model {} to make room", best->second.ref.name);
  if (best->second.runner) to_stop.push_back(best->second.runner);
  models_.erase(best);
  return true;
}

void Manager::loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    std::vector<std::shared_ptr<RunnerClient>> to_stop;
    std::vector<std::function<void()>> run;
    auto now = Clock::now();
    std::optional<Clock::time_point> next_wake;
    for (auto it = models_.begin(); it != models_.end();) {
      auto& m = it->second;
      if (m.state == Loaded::State::kReady && m.runner && !m.runner->alive()) m.state = Loaded::State::kDead;
      if (m.state == Loaded::State::kDead && m.active == 0) {
        // Never destroy a RunnerClient under mu_: its destructor joins a reader thread that may
        // be waiting for mu_ in its exit callback.
        if (m.runner) to_stop.push_back(std::move(m.runner));
        if (m.waiters.empty()) {
          // A crashed runner's entry stays (without a process, counted nowhere) so that the
          // next request's load is seen as a restart.
          if (!m.crashed) it = models_.erase(it);
          else ++it;
          continue;
        }
        note_restart_locked(m);
        m.state = Loaded::State::kQueued;
        load_order_.push_back(it->first);
      }
      if (m.state == Loaded::State::kReady && m.reload_ctx > m.num_ctx && m.active == 0) {
        // Idle now: stop the runner and queue a load with the bigger context (waiters keep
        // their place; requests that were running finished undisturbed).
        log::info("restarting {} with context {}", m.ref.name, m.reload_ctx);
        if (m.runner) to_stop.push_back(std::move(m.runner));
        m.num_ctx = m.reload_ctx;
        m.reload_ctx = 0;
        m.expires.reset();
        m.generation = next_generation_++;  // slots of the old runner release into nothing
        if (m.waiters.empty()) {
          it = models_.erase(it);
          continue;
        }
        m.state = Loaded::State::kQueued;
        load_order_.push_back(it->first);
        ++it;
        continue;
      }
      if (m.state == Loaded::State::kReady && m.active == 0 && m.waiters.empty() && m.expires) {
        if (*m.expires <= now) {
          log::info("unloading {} (keep_alive expired)", m.ref.name);
          if (m.runner) to_stop.push_back(m.runner);
          it = models_.erase(it);
          continue;
        }
        if (!next_wake || *m.expires < *next_wake) next_wake = *m.expires;
      }
      ++it;
    }
    bool loaded_something = false;
    while (!load_order_.empty()) {
      std::string key = load_order_.front();
      auto it = models_.find(key);
      if (it == models_.end() || it->second.state != Loaded::State::kQueued) {
        load_order_.pop_front();
        continue;
      }
      if (it->second.waiters.empty()) {
        models_.erase(it);
        load_order_.pop_front();
        continue;
      }
      auto count = [&] {
        int n = 0;
        for (auto& [k, m] : models_)
          if (k != key && (m.state == Loaded::State::kReady || m.state == Loaded::State::kLoading)) n++;
        return n;
      };
      uint64_t need = it->second.ref.mem_estimate;
      while ((count() >= opts_.max_loaded || used_memory_locked(key) + need > opts_.memory_budget) &&
             evict_one_idle_locked(key, to_stop)) {
      }
      it = models_.find(key);
      if (count() >= opts_.max_loaded || (used_memory_locked(key) + need > opts_.memory_budget && count() > 0)) {
        break;  // wait for a busy model to go idle
      }
      load_order_.pop_front();
      if (need > opts_.memory_budget) {
        std::vector<Done> failed;
        for (auto& w : it->second.waiters) failed.push_back(std::move(w.done));
        waiting_ -= int(it->second.waiters.size());
        std::string name = it->second.ref.name;
        models_.erase(it);
        auto err = make_error(ErrorCode::kInternal,
                              "model {} requires more memory ({:.1f} GiB) than is available ({:.1f} GiB)", name,
                              double(need) / double(1ull << 30), double(opts_.memory_budget) / double(1ull << 30));
        log::error("loading {} failed: {}", name, err.message());
        if (opts_.metrics) opts_.metrics->model_load_failures.add({opts_.metrics->model_label(name)});
        for (auto& d : failed) run.push_back([d = std::move(d), err] { d(err); });
        continue;
      }
      Loaded& m = it->second;
      m.state = Loaded::State::kLoading;
      uint64_t gen = next_generation_++;
      m.generation = gen;
      SpawnSpec spec;
      spec.exe = opts_.runner_exe;
      spec.model_path = key;
      spec.display_name = m.ref.name;
      spec.num_parallel = m.ref.embedding ? 1 : opts_.num_parallel;
      spec.num_ctx = m.num_ctx > 0 ? m.num_ctx : opts_.num_ctx;
      spec.threads = opts_.threads;
      spec.device = opts_.device;
      spec.embedding = m.ref.embedding;
      spec.load_timeout_ms = opts_.load_timeout_ms;
      spec.extra_args = opts_.runner_args;
      auto t0 = Clock::now();
      lk.unlock();
      for (auto& r : to_stop) r->shutdown();
      to_stop.clear();
      auto res = RunnerClient::spawn(spec, [this, key, gen] {
        {
          std::lock_guard l(mu_);
          auto f = models_.find(key);
          if (f != models_.end() && f->second.generation == gen) {
            f->second.state = Loaded::State::kDead;
            std::string why = f->second.runner ? f->second.runner->unexpected_exit() : "";
            if (!why.empty()) {
              f->second.crashed = true;
              if (opts_.metrics)
                opts_.metrics->runner_exits.add({opts_.metrics->model_label(f->second.ref.name), why});
            }
          }
        }
        cv_.notify_all();
      });
      lk.lock();
      it = models_.find(key);
      if (it == models_.end()) {  // shut down meanwhile
        if (res.ok()) to_stop.push_back(*res);
        break;
      }
      if (!res.ok()) {
        log::error("loading {} failed: {}", it->second.ref.name, res.error().message());
        if (opts_.metrics) opts_.metrics->model_load_failures.add({opts_.metrics->model_label(it->second.ref.name)});
        std::vector<Done> failed;
        for (auto& w : it->second.waiters) failed.push_back(std::move(w.done));
        waiting_ -= int(it->second.waiters.size());
        models_.erase(it);
        auto err = res.error();
        for (auto& d : failed) run.push_back([d = std::move(d), err] { d(err); });
        continue;
      }
      it->second.runner = *res;
      it->second.state = (*res)->alive() ? Loaded::State::kReady : Loaded::State::kDead;
      if (int got = (*res)->ready().value("num_ctx", 0); got > 0) {
        // The runner caps the context at the model's trained length: remember it as the limit.
        if (got < it->second.num_ctx) it->second.ctx_cap = got;
        it->second.num_ctx = got;
      }
      if (it->second.ctx_cap > 0 && it->second.reload_ctx > it->second.ctx_cap) it->second.reload_ctx = 0;
      it->second.load_duration = Clock::now() - t0;
      if (opts_.metrics)
        opts_.metrics->model_load_seconds.observe({opts_.metrics->model_label(it->second.ref.name)},
                                                  std::chrono::duration<double>(it->second.load_duration).count());
      auto g = grant(it->second, key);
      for (auto& f : g) run.push_back(std::move(f));
      loaded_something = true;
    }
    if (!to_stop.empty() || !run.empty()) {
      lk.unlock();
      for (auto& r : to_stop) r->shutdown();
      for (auto& f : run) f();
      lk.lock();
      continue;
    }
    if (loaded_something) continue;
    auto until = next_wake.value_or(Clock::now() + std::chrono::seconds(1));
    cv_.wait_until(lk, std::min(until, Clock::now() + std::chrono::seconds(1)));
  }
}

}  // namespace paddock::server
