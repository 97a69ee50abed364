// runner_client: process spawn (posix_spawn + socketpair), the ready handshake, the reader
// thread that routes events to requests, and clean failure of in-flight requests on a crash.
#include "server/runner_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "runner/runner.h"
#include "util/log.h"

extern char** environ;

namespace paddock::server {

namespace {
// Reads one frame, giving up after `timeout_ms`.
Result<nlohmann::json> read_frame_timeout(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0) return make_error(ErrorCode::kTimeout, "timed out after {} ms waiting for the model to load", timeout_ms);
  if (r < 0) return make_error(ErrorCode::kIo, "poll: {}", std::strerror(errno));
  return runner::read_frame(fd);
}

std::string describe_status(int st) {
  if (WIFSIGNALED(st)) return fmt::format("killed by signal {} ({})", WTERMSIG(st), strsignal(WTERMSIG(st)));
  if (WIFEXITED(st)) return fmt::format("exited with status {}", WEXITSTATUS(st));
  return "ended";
}
}  // namespace

Result<std::shared_ptr<RunnerClient>> RunnerClient::spawn(const SpawnSpec& spec, std::function<void()> on_exit) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return make_error(ErrorCode::kIo, "socketpair: {}", std::strerror(errno));
  // The child end becomes fd 3 in the runner; make sure dup2 really happens (it clears CLOEXEC).
  int child_fd = sv[1];
  if (child_fd == 3) {
    child_fd = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    ::close(sv[1]);
  }
  std::vector<std::string> args = {spec.exe, "runner", "--model", spec.model_path, "--fd", "3",
                                   "--num-parallel", std::to_string(spec.num_parallel),
                                   "--num-ctx", std::to_string(spec.num_ctx),
                                   "--threads", std::to_string(spec.threads),
                                   "--device", spec.device};
  if (spec.embedding) args.push_back("--embedding");
  for (auto& a : spec.extra_args) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, child_fd, 3);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, spec.exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(child_fd);
  if (rc != 0) {
    ::close(sv[0]);
    return make_error(ErrorCode::kInternal, "cannot start runner '{}': {}", spec.exe, std::strerror(rc));
  }
  std::shared_ptr<RunnerClient> c(new RunnerClient());
  c->spec_ = spec;
  c->fd_ = sv[0];
  c->pid_ = pid;
  auto first = read_frame_timeout(c->fd_, spec.load_timeout_ms);
  auto fail = [&](Error e) -> Result<std::shared_ptr<RunnerClient>> {
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    ::close(c->fd_);
    c->fd_ = -1;
    return e;
  };
  if (!first.ok()) {
    if (first.error().code() == ErrorCode::kTimeout) return fail(first.error());
    int st = 0;
    ::waitpid(pid, &st, 0);
    ::close(c->fd_);
    c->fd_ = -1;
    return make_error(ErrorCode::kInternal, "runner for {} {} before it was ready", spec.display_name, describe_status(st));
  }
  const auto& msg = *first;
  if (msg.value("type", "") == "error") {
    std::string m = msg.value("message", "unknown error");
    ErrorCode code = msg.value("code", "") == "bad_request" ? ErrorCode::kInvalidArgument : ErrorCode::kInternal;
    return fail(Error(code, "error loading model " + spec.display_name + ": " + m));
  }
  if (msg.value("type", "") != "ready") return fail(make_error(ErrorCode::kInternal, "runner sent '{}' instead of ready", msg.value("type", "")));
  c->ready_ = msg;
  c->alive_ = true;
  c->on_exit_ = std::move(on_exit);
  // The reader thread owns a reference: the client lives until its reader has finished, even if
  // every other owner lets go from inside an event callback on that very thread.
  c->reader_ = std::thread([self = c] { self->reader_loop(); });
  log::info("runner pid {} ready for {}", pid, spec.display_name);
  return c;
}

RunnerClient::~RunnerClient() {
  shutdown();
  if (reader_.joinable()) {
    if (reader_.get_id() == std::this_thread::get_id()) reader_.detach();
    else reader_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

std::string RunnerClient::unexpected_exit() const {
  std::lock_guard lk(exit_mu_);
  return unexpected_exit_;
}

size_t RunnerClient::in_flight() const {
  std::lock_guard lk(mu_);
  return pending_.size();
}

uint64_t RunnerClient::submit(nlohmann::json req, EventFn fn) {
  uint64_t id = next_id_++;
  req["id"] = id;
  {
    std::lock_guard lk(mu_);
    if (!alive_) {
      std::string why = exit_reason_.empty() ? "runner is not running" : exit_reason_;
      fn(nlohmann::json{{"type", "error"}, {"id", id}, {"message", why}});
      return id;
    }
    pending_[id] = std::move(fn);
  }
  std::lock_guard wl(write_mu_);
  auto st = runner::write_frame(fd_, req);
  if (!st.ok()) {
    EventFn f;
    {
      std::lock_guard lk(mu_);
      auto it = pending_.find(id);
      if (it != pending_.end()) {
        f = std::move(it->second);
        pending_.erase(it);
      }
    }
    if (f) f(nlohmann::json{{"type", "error"}, {"id", id}, {"message", "runner connection lost: " + st.error().message()}});
  }
  return id;
}

void RunnerClient::cancel(uint64_t id) {
  if (!alive_) return;
  std::lock_guard wl(write_mu_);
  (void)runner::write_frame(fd_, nlohmann::json{{"type", "cancel"}, {"id", id}});
}

Result<nlohmann::json> RunnerClient::stats(int timeout_ms) {
  std::unique_lock lk(stats_mu_);
  if (!alive_) return make_error(ErrorCode::kInternal, "runner is not running");
  stats_ready_ = false;
  {
    std::lock_guard wl(write_mu_);
    RETURN_IF_ERROR(runner::write_frame(fd_, nlohmann::json{{"type", "stats"}}));
  }
  if (!stats_cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return stats_ready_ || !alive_; }))
    return make_error(ErrorCode::kTimeout, "runner did not answer a stats query");
  if (!stats_ready_) return make_error(ErrorCode::kInternal, "runner exited");
  return stats_;
}

void RunnerClient::fail_all(const std::string& why) {
  std::map<uint64_t, EventFn> p;
  {
    std::lock_guard lk(mu_);
    alive_ = false;
    exit_reason_ = why;
    p.swap(pending_);
  }
  for (auto& [id, fn] : p) fn(nlohmann::json{{"type", "error"}, {"id", id}, {"message", why}});
  {
    std::lock_guard lk(stats_mu_);
  }
  stats_cv_.notify_all();
}

void RunnerClient::reader_loop() {
  runner::FrameDecoder dec;
  char buf[65536];
  std::string why;
  bool bad = false;
  for (;;) {
    ssize_t r = ::read(fd_, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    dec.feed(buf, size_t(r));
    for (;;) {
      auto f = dec.next();
      if (!f.ok()) {
        why = f.error().message();
        bad = true;
        break;
      }
      if (!f->has_value()) break;
      nlohmann::json& m = **f;
      std::string type = m.value("type", "");
      if (type == "stats") {
        std::lock_guard lk(stats_mu_);
        stats_ = std::move(m);
        stats_ready_ = true;
        stats_cv_.notify_all();
        continue;
      }
      if (!m.contains("id") || !m["id"].is_number_unsigned()) {
        if (type == "error") log::warn("runner {}: {}", spec_.display_name, m.value("message", ""));
        continue;
      }
      uint64_t id = m["id"].get<uint64_t>();
      bool last = type == "done" || type == "error" || type == "rendered";
      EventFn fn;
      {
        std::lock_guard lk(mu_);
        auto it = pending_.find(id);
        if (it == pending_.end()) continue;
        if (last) {
          fn = std::move(it->second);
          pending_.erase(it);
        } else {
          fn = it->second;  // copy: the callback may run while others are added
        }
      }
      fn(m);
    }
    if (bad) {
      log::error("runner {} sent a bad frame: {}", spec_.display_name, why);
      ::kill(pid_, SIGKILL);
      break;
    }
  }
  int st = 0;
  pid_t w;
  do w = ::waitpid(pid_, &st, 0);
  while (w < 0 && errno == EINTR);
  std::string desc = w == pid_ ? describe_status(st) : "ended";
  std::string msg = stopping_ ? "model was unloaded" : fmt::format("runner process for {} {}", spec_.display_name, desc);
  if (!stopping_) {
    std::string kind = bad                                           ? "protocol"
                       : w == pid_ && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed"
                       : w == pid_ && WIFSIGNALED(st)                ? "crashed"
                       : w == pid_ && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? ""
                                                                     : "exited";
    std::lock_guard lk(exit_mu_);
    unexpected_exit_ = kind;
  }
  if (!stopping_) log::error("{} (pid {}); failing its in-flight requests", msg, pid_);
  fail_all(msg);
  if (on_exit_) on_exit_();
  finished_ = true;
}

void RunnerClient::wait_finished(int timeout_ms) const {
  for (int i = 0; i < timeout_ms / 5 && !finished_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void RunnerClient::shutdown() {
  if (stopping_.exchange(true)) return;
  if (!alive_) return;
  {
    std::lock_guard wl(write_mu_);
    (void)runner::write_frame(fd_, nlohmann::json{{"type", "shutdown"}});
    ::shutdown(fd_, SHUT_WR);
  }
  // The reader thread reaps it; give it a moment to exit on its own.
  for (int i = 0; i < 100 && alive_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (alive_) ::kill(pid_, SIGKILL);
}

}  // namespace paddock::server
