// A fixed pool of worker threads for data-parallel kernels: parallel_for splits [0, n) into
// contiguous chunks, one per thread, and the calling thread takes part. No allocation per call.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace paddock {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads total, including the caller; <=0 = hardware
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // fn(thread_index, begin, end) on disjoint chunks covering [0, n). Blocks until all are done.
  void parallel_for(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn);
  // fn(thread_index, n_threads) once on every thread.
  void run_on_all(const std::function<void(int, int)>& fn);

 private:
  void worker(int index);
  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const std::function<void(int, int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

}  // namespace paddock
