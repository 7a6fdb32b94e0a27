// The CPU thread pool: a fixed set of workers that spin briefly and then sleep, woken by a
// generation counter, so that a launch costs no thread creation and, in decode loops where
// launches follow each other closely, usually no system call either.
#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>

#include "runtime/error.h"

namespace mlcc {
namespace {

// Set on pool workers for their whole life and on a launching thread while it runs tasks:
// a launch made under it runs serially, since waiting for workers that are all busy in
// the outer launch (possibly including this very thread) would deadlock.
thread_local bool t_in_task = false;

constexpr uint64_t kWorkerBits = 16;
constexpr uint64_t kWorkerMask = (uint64_t{1} << kWorkerBits) - 1;
constexpr int kMaxThreads = static_cast<int>(kWorkerMask) + 1;

// Long enough to cover the gap between consecutive kernel launches of a decode step, short
// enough that idle workers do not hold cores for long.
constexpr auto kSpinTime = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or kSpinTime has passed; returns done()'s last value.
template <typename Done>
bool spin_until(Done done) {
  auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    // The clock costs tens of nanoseconds; read it only now and then.
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return done();
  }
}

void check_size(int num_threads) {
  if (num_threads < 0 || num_threads > kMaxThreads)
    throw Error("thread pool size " + std::to_string(num_threads) +
                " is out of range: expected 1 to " + std::to_string(kMaxThreads) +
                " (0 for the default)");
}

int32_t run_serially(MlccParallelBody body, void* closure, int64_t num_tasks) {
  int32_t first = 0;
  for (int64_t t = 0; t < num_tasks; ++t) {
    int32_t s = body(t, num_tasks, closure);
    if (s != 0 && first == 0) first = s;
  }
  return first;
}

}  // namespace

int ThreadPool::default_num_threads() {
  if (const char* env = std::getenv("MLCC_NUM_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (*end != '\0' || n < 1 || n > kMaxThreads)
      throw Error("MLCC_NUM_THREADS='" + std::string(env) +
                  "' is not a thread count: expected an integer from 1 to " +
                  std::to_string(kMaxThreads));
    return static_cast<int>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, kMaxThreads));
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::ThreadPool(int num_threads) { start_workers(num_threads); }

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::set_num_threads(int n) {
  if (t_in_task) throw Error("ThreadPool::set_num_threads called from inside a parallel task");
  check_size(n);
  std::lock_guard<std::mutex> lock(launch_mu_);
  stop_workers();
  start_workers(n);
}

void ThreadPool::start_workers(int num_threads) {
  check_size(num_threads);
  int n = num_threads == 0 ? default_num_threads() : num_threads;
  stop_.store(false);
  // Workers start out having seen this state, not whatever state_ holds once they run:
  // a launch may already have been posted by then.
  uint64_t initial = state_.load();
  workers_.reserve(n - 1);
  try {
    for (int i = 0; i < n - 1; ++i)
      workers_.emplace_back([this, i, initial] { worker_loop(i, initial); });
  } catch (const std::system_error& e) {
    stop_workers();
    throw Error("could not start " + std::to_string(n - 1) + " thread pool workers: " + e.what() +
                "; set MLCC_NUM_THREADS lower");
  }
  num_threads_.store(n);
}

void ThreadPool::stop_workers() {
  stop_.store(true);
  // Bump the generation so spinning workers notice, then wake the sleeping ones. Taking
  // wake_mu_ orders this against a worker that is between its check and its wait.
  state_.fetch_add(uint64_t{1} << kWorkerBits);
  { std::lock_guard<std::mutex> lock(wake_mu_); }
  wake_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  num_threads_.store(1);
}

void ThreadPool::run_tasks() {
  const MlccParallelBody body = job_.body;
  void* const closure = job_.closure;
  const int64_t num_tasks = job_.num_tasks;
  const int64_t chunk = job_.chunk;
  for (;;) {
    int64_t begin = job_.next_task.fetch_add(chunk, std::memory_order_relaxed);
    if (begin >= num_tasks) return;
    int64_t end = std::min(begin + chunk, num_tasks);
    for (int64_t t = begin; t < end; ++t) {
      int32_t s = body(t, num_tasks, closure);
      if (s != 0) {
        int32_t expected = 0;
        job_.status.compare_exchange_strong(expected, s, std::memory_order_relaxed);
      }
    }
  }
}

void ThreadPool::worker_loop(int index, uint64_t seen) {
  t_in_task = true;
  for (;;) {
    uint64_t now = seen;
    auto changed = [&] {
      now = state_.load(std::memory_order_acquire);
      return now != seen;
    };
    if (!spin_until(changed)) {
      // Announce the sleep before the final check: a launcher that bumps state_ then reads
      // sleeping_workers_ either sees us here or we see its bump below (both seq_cst).
      sleeping_workers_.fetch_add(1);
      {
        std::unique_lock<std::mutex> lock(wake_mu_);
        wake_cv_.wait(lock, changed);
      }
      sleeping_workers_.fetch_sub(1);
    }
    seen = now;
    if (stop_.load()) return;
    if (static_cast<uint64_t>(index) >= (now & kWorkerMask)) continue;  // not needed this time
    run_tasks();
    // After this decrement the job may be reused by the next launch: touch it no more.
    if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load() != 0) {
      { std::lock_guard<std::mutex> lock(done_mu_); }
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::wait_for_workers() {
  auto done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (spin_until(done)) return;
  caller_sleeping_.fetch_add(1);
  {
    std::unique_lock<std::mutex> lock(done_mu_);
    done_cv_.wait(lock, done);
  }
  caller_sleeping_.fetch_sub(1);
}

int32_t ThreadPool::parallel_launch(MlccParallelBody body, void* closure, int64_t num_tasks) {
  if (num_tasks <= 0) return 0;
  if (num_tasks == 1) return body(0, 1, closure);
  if (t_in_task || num_threads_.load(std::memory_order_relaxed) <= 1)
    return run_serially(body, closure, num_tasks);

  std::lock_guard<std::mutex> lock(launch_mu_);
  int64_t helpers = std::min<int64_t>(static_cast<int64_t>(workers_.size()), num_tasks - 1);
  if (helpers == 0) return run_serially(body, closure, num_tasks);  // resized meanwhile
  job_.body = body;
  job_.closure = closure;
  job_.num_tasks = num_tasks;
  // Many small tasks are claimed a few at a time, so the shared counter is not bounced
  // between cores once per task; eight claims per thread still leave room to balance.
  job_.chunk = std::max<int64_t>(1, num_tasks / ((helpers + 1) * 8));
  job_.next_task.store(0, std::memory_order_relaxed);
  job_.status.store(0, std::memory_order_relaxed);
  pending_.store(static_cast<int>(helpers), std::memory_order_relaxed);

  // Publishing the new generation releases the job fields above to the workers.
  uint64_t gen = (state_.load(std::memory_order_relaxed) >> kWorkerBits) + 1;
  state_.store((gen << kWorkerBits) | static_cast<uint64_t>(helpers));
  if (sleeping_workers_.load() != 0) {
    { std::lock_guard<std::mutex> wake_lock(wake_mu_); }
    wake_cv_.notify_all();
  }

  t_in_task = true;
  run_tasks();
  t_in_task = false;
  wait_for_workers();
  return job_.status.load(std::memory_order_relaxed);
}

}  // namespace mlcc

extern "C" int32_t mlcc_runtime_parallel_launch(MlccParallelBody body, void* closure,
                                                int64_t num_tasks) {
  // Kernels are C code without unwind tables: no exception may cross this boundary.
  try {
    return mlcc::ThreadPool::global().parallel_launch(body, closure, num_tasks);
  } catch (const std::exception& e) {
    static std::once_flag reported;
    std::call_once(reported, [&] { std::fprintf(stderr, "mlcc: %s\n", e.what()); });
    return kMlccParallelLaunchFailed;
  }
}
