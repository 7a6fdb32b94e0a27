// The CPU thread pool that runs the outlined parallel loops of compiled kernels. Kernels
// reach it through the C function mlcc_runtime_parallel_launch (kernel_abi.h's
// MlccParallelLaunch), which the CPU module loader stores into every kernel module.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/kernel_abi.h"

namespace mlcc {

class ThreadPool {
 public:
  // num_threads counts the calling thread, which always takes part in a launch; 0 means
  // default_num_threads(). A pool of one thread runs everything on the caller.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs body(t, num_tasks, closure) for every t in [0, num_tasks), waits for all of
  // them, and returns the first non-zero status seen (0 when all succeed). Every task runs
  // even after one fails; body must not throw. Launches made from inside a task run
  // serially on that thread. Launches from several outside threads are taken in turn.
  int32_t parallel_launch(MlccParallelBody body, void* closure, int64_t num_tasks);

  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }
  // Stops the workers and starts n - 1 new ones (0 = default). Must not be called from
  // inside a task; waits for a launch in progress to end.
  void set_num_threads(int n);

  // MLCC_NUM_THREADS when set (a positive integer, else mlcc::Error), otherwise
  // std::thread::hardware_concurrency() (at least 1).
  static int default_num_threads();

  // The process-wide pool used by mlcc_runtime_parallel_launch, made on first use.
  static ThreadPool& global();

 private:
  struct Job {
    MlccParallelBody body = nullptr;
    void* closure = nullptr;
    int64_t num_tasks = 0;
    int64_t chunk = 1;  // tasks taken per claim
    // On their own cache lines: every claim writes next_task, and the fields above are
    // read by all threads.
    alignas(64) std::atomic<int64_t> next_task{0};
    alignas(64) std::atomic<int32_t> status{0};
  };

  void start_workers(int num_threads);
  void stop_workers();
  void worker_loop(int index, uint64_t seen);
  void run_tasks();
  void wait_for_workers();

  std::atomic<int> num_threads_{1};
  std::vector<std::thread> workers_;
  // Taken for a whole launch, so the single Job below is never shared by two launches.
  std::mutex launch_mu_;
  Job job_;

  // Bits 0..15: how many workers take part in the current job; above: a generation number
  // that each launch bumps. Packing both into one word lets a worker read them together.
  std::atomic<uint64_t> state_{0};
  std::atomic<bool> stop_{false};
  // Workers of the current job that have not finished yet.
  std::atomic<int> pending_{0};

  // Workers (and the launching thread) spin briefly and then sleep; these count the
  // sleepers so that the common no-sleeper case skips the mutex and the notify.
  std::atomic<int> sleeping_workers_{0};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::atomic<int> caller_sleeping_{0};
  std::mutex done_mu_;
  std::condition_variable done_cv_;
};

}  // namespace mlcc

extern "C" {
// The MlccParallelLaunch given to kernel modules: ThreadPool::global().parallel_launch.
// Never throws; returns kMlccParallelLaunchFailed if the pool could not be made.
int32_t mlcc_runtime_parallel_launch(MlccParallelBody body, void* closure, int64_t num_tasks);
}

// Status returned by mlcc_runtime_parallel_launch when the runtime itself failed (for
// example an invalid MLCC_NUM_THREADS); kernels return small positive codes of their own.
constexpr int32_t kMlccParallelLaunchFailed = -1;
