// bench/load: worker threads (one io_context each, no locks on the request path) driving a closed
// or open loop, and the progress line.
#include "bench/load.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <csignal>
#include <cstdio>
#include <deque>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bench/conn.h"

namespace paddock::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process
}

struct Shared {
  const LoadPlan& plan;
  Clock::time_point t0;          // set when every worker has finished its warm-up
  Clock::time_point deadline;    // closed loop with a duration
  std::atomic<int64_t> next{0};  // closed loop: the next request number
  bool stop_now() const {
    return g_interrupted.load(std::memory_order_relaxed) || (plan.duration_s > 0 && Clock::now() >= deadline);
  }
};

class Worker {
 public:
  Worker(Shared& sh, int index, int nthreads, const tcp::resolver::results_type& addrs)
      : sh_(sh),
        io_(1),
        env_{io_,
             sh.plan.tls.get(),
             sh.plan.verify_host,
             sh.plan.ep,
             addrs,
             sh.plan.api,
             sh.plan.stream,
             sh.plan.timeout_s,
             sh.t0,
             &data_,
             [this](Conn* c, Sample&& s) { on_done(c, std::move(s)); }},
        timer_(io_) {
    const auto& p = sh.plan;
    auto share = [&](int64_t n) { return n / nthreads + (index < n % nthreads ? 1 : 0); };
    warm_left_ = static_cast<int>(share(p.warmup));
    if (p.arrivals.empty()) {
      clients_ = static_cast<int>(share(p.concurrency));
    } else {
      for (size_t i = static_cast<size_t>(index); i < p.arrivals.size(); i += static_cast<size_t>(nthreads))
        mine_.push_back(i);
      cap_ = p.max_inflight > 0 ? static_cast<int>(share(p.max_inflight)) : 0;
    }
  }

  // Warm-up (its connections stay open for the run), then wait for every worker, then the run.
  template <class Barrier>
  void run(Barrier& warm) {
    if (warm_left_ > 0) {
      const int n = std::min(warm_left_, mine_.empty() ? clients_ : (cap_ > 0 ? cap_ : 8));
      warming_ = true;
      for (int i = 0; i < n && warm_left_ > 0; ++i) warm_next();
      io_.run();
      io_.restart();
      warming_ = false;
      data_ = RunData{};
    }
    warm.arrive_and_wait();
    env_.t0 = sh_.t0;
    if (mine_.empty()) {
      for (int i = 0; i < clients_; ++i) next_closed();
    } else {
      arm();
    }
    io_.run();
    data_.elapsed = last_done_;
  }

  RunData data_;
  std::atomic<int64_t> done{0}, failed{0}, inflight{0}, tokens{0};

 private:
  void warm_next() {
    if (g_interrupted.load(std::memory_order_relaxed)) return;
    --warm_left_;
    dispatch(static_cast<size_t>(warm_left_), 0);
  }

  void next_closed() {
    if (sh_.stop_now()) return;
    const int64_t n = sh_.next.fetch_add(1, std::memory_order_relaxed);
    if (sh_.plan.total > 0 && n >= sh_.plan.total) return;
    dispatch(static_cast<size_t>(n), -1);
  }

  void arm() {
    if (next_ >= mine_.size()) return;
    const auto at = sh_.t0 + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(sh_.plan.arrivals[mine_[next_]]));
    timer_.expires_at(at);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      if (g_interrupted.load(std::memory_order_relaxed)) {
        due_.clear();
        return;
      }
      const auto now = Clock::now();
      while (next_ < mine_.size() && sh_.t0 + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(sh_.plan.arrivals[mine_[next_]])) <=
                                         now)
        due_.push_back(mine_[next_++]);
      pump();
      arm();
    });
  }

  // Open loop: sends what is due, as far as the in-flight cap allows.
  void pump() {
    while (!due_.empty() && (cap_ == 0 || inflight_ < cap_)) {
      const size_t n = due_.front();
      due_.pop_front();
      dispatch(n, sh_.plan.arrivals[n]);
    }
  }

  // scheduled < 0: closed loop (the sample's schedule is its send time).
  void dispatch(size_t n, double scheduled) {
    Conn* c;
    if (idle_.empty()) {
      conns_.push_back(Conn::make(env_));
      c = conns_.back().get();
    } else {
      c = idle_.back();
      idle_.pop_back();
    }
    ++inflight_;
    if (!warming_) inflight.fetch_add(1, std::memory_order_relaxed);
    const auto& reqs = sh_.plan.requests;
    c->start(&reqs[n % reqs.size()], scheduled >= 0 ? scheduled : env_.since_start(Clock::now()));
  }

  void on_done(Conn* c, Sample&& s) {
    idle_.push_back(c);
    --inflight_;
    if (warming_) {
      if (warm_left_ > 0) warm_next();
      return;
    }
    inflight.fetch_add(-1, std::memory_order_relaxed);
    (s.ok() ? done : failed).fetch_add(1, std::memory_order_relaxed);
    tokens.fetch_add(s.out_tokens >= 0 ? s.out_tokens : s.events, std::memory_order_relaxed);
    last_done_ = env_.since_start(Clock::now());
    data_.samples.push_back(std::move(s));
    if (mine_.empty()) next_closed();
    else pump();
  }

  Shared& sh_;
  asio::io_context io_;
  ConnEnv env_;
  asio::steady_timer timer_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> idle_;
  int clients_ = 0;
  std::vector<size_t> mine_;  // open loop: the arrivals this worker sends
  size_t next_ = 0;
  std::deque<size_t> due_;
  int cap_ = 0, inflight_ = 0;
  int warm_left_ = 0;
  bool warming_ = false;
  double last_done_ = 0;
};

void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

Result<RunData> run_load(const LoadPlan& plan) {
  tcp::resolver::results_type addrs;
  {
    asio::io_context io;
    tcp::resolver res(io);
    boost::system::error_code ec;
    addrs = res.resolve(plan.ep.host, std::to_string(plan.ep.port), ec);
    if (ec || addrs.empty())
      return make_error(ErrorCode::kInvalidArgument, "cannot resolve {}: {}", plan.ep.host, ec.message());
  }
  raise_fd_limit();
  std::signal(SIGPIPE, SIG_IGN);
  g_interrupted = false;
  auto old_int = std::signal(SIGINT, on_sigint);

  int nthreads = std::max(1, plan.threads);
  if (plan.arrivals.empty()) nthreads = std::min(nthreads, std::max(1, plan.concurrency));
  else if (plan.max_inflight > 0) nthreads = std::min(nthreads, plan.max_inflight);

  Shared sh{plan, Clock::now(), {}};
  auto set_start = [&sh]() noexcept {  // runs once, when the last worker is warm
    sh.t0 = Clock::now();
    sh.deadline =
        sh.t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(sh.plan.duration_s));
  };
  std::barrier warm(nthreads, set_start);
  std::vector<std::unique_ptr<Worker>> ws;
  for (int i = 0; i < nthreads; ++i) ws.push_back(std::make_unique<Worker>(sh, i, nthreads, addrs));
  std::atomic<int> running{nthreads};
  std::vector<std::thread> ts;
  for (auto& w : ws)
    ts.emplace_back([&running, &warm, wp = w.get()] {
      wp->run(warm);
      running.fetch_sub(1);
    });
  const auto launched = Clock::now();

  const bool show = plan.progress && isatty(STDERR_FILENO);
  const int64_t expected = plan.arrivals.empty() ? plan.total : static_cast<int64_t>(plan.arrivals.size());
  auto last_print = Clock::now();
  int64_t last_done = 0, last_tokens = 0;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto now = Clock::now();
    const double dt = std::chrono::duration<double>(now - last_print).count();
    if (!show || dt < 0.5) continue;
    int64_t done = 0, failed = 0, inflight = 0, tokens = 0;
    for (auto& w : ws) {
      done += w->done.load(std::memory_order_relaxed);
      failed += w->failed.load(std::memory_order_relaxed);
      inflight += w->inflight.load(std::memory_order_relaxed);
      tokens += w->tokens.load(std::memory_order_relaxed);
    }
    const std::string of = expected > 0 ? fmt::format("/{}", expected) : "";
    std::fprintf(stderr, "\r\033[K%s[%6.1fs] %lld%s done, %lld failed, %lld in flight, %.1f req/s, %.0f tok/s",
                 plan.label.c_str(), std::chrono::duration<double>(now - launched).count(),
                 static_cast<long long>(done + failed), of.c_str(), static_cast<long long>(failed),
                 static_cast<long long>(inflight), static_cast<double>(done + failed - last_done) / dt,
                 static_cast<double>(tokens - last_tokens) / dt);
    last_done = done + failed;
    last_tokens = tokens;
    last_print = now;
  }
  for (auto& t : ts) t.join();
  if (show) std::fprintf(stderr, "\r\033[K");
  std::signal(SIGINT, old_int);

  RunData all;
  for (auto& w : ws) all.merge(std::move(w->data_));
  std::sort(all.samples.begin(), all.samples.end(),
            [](const Sample& a, const Sample& b) { return a.scheduled < b.scheduled; });
  all.interrupted = g_interrupted.load();
  return all;
}

}  // namespace paddock::bench
