// Test helper: runs a piece of work on its own thread and ends the test binary loudly if it has not
// returned in time, so a hang or a runaway expansion fails one test at once instead of holding CI
// until its global timeout (or filling memory).
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

namespace paddock::testing {

template <typename F>
auto within_seconds(double seconds, const char* what, F f) -> decltype(f()) {
  using R = decltype(f());
  auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
  std::future<R> result = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (result.wait_for(std::chrono::duration<double>(seconds)) != std::future_status::ready) {
    std::fprintf(stderr, "FAILED: %s did not finish within %.0f s (unbounded work)\n", what, seconds);
    std::fflush(stderr);
    std::_Exit(1);
  }
  return result.get();
}

}  // namespace paddock::testing
