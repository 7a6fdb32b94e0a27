// Tests of the CPU thread pool: every task runs exactly once, statuses come back, nested
// and concurrent launches finish, and the pool size can be chosen and changed.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace {

struct CountClosure {
  std::vector<std::atomic<int>>* hits;
  std::atomic<int64_t>* seen_num_tasks_mismatch;
};

int32_t count_body(int64_t task, int64_t num_tasks, void* closure) {
  auto* c = static_cast<CountClosure*>(closure);
  if (static_cast<int64_t>(c->hits->size()) != num_tasks) c->seen_num_tasks_mismatch->fetch_add(1);
  (*c->hits)[task].fetch_add(1, std::memory_order_relaxed);
  return 0;
}

// Runs n tasks `reps` times on pool and checks that each ran once per repetition.
void check_all_run_once(mlcc::ThreadPool& pool, int64_t n, int reps) {
  std::vector<std::atomic<int>> hits(n);
  std::atomic<int64_t> mismatch{0};
  CountClosure c{&hits, &mismatch};
  for (int r = 0; r < reps; ++r) REQUIRE(pool.parallel_launch(count_body, &c, n) == 0);
  int64_t wrong = 0;
  for (auto& h : hits) wrong += h.load() != reps;
  CHECK(wrong == 0);
  CHECK(mismatch.load() == 0);
}

int32_t fail_on_odd(int64_t task, int64_t, void* closure) {
  static_cast<std::atomic<int>*>(closure)->fetch_add(1);
  return task % 2 == 1 ? 7 : 0;
}

int32_t fail_on_last(int64_t task, int64_t num_tasks, void*) {
  return task == num_tasks - 1 ? 42 : 0;
}

struct NestedClosure {
  mlcc::ThreadPool* pool;
  std::atomic<int> inner_runs{0};
  std::atomic<int> inner_status_sum{0};
};

int32_t inner_body(int64_t, int64_t, void* closure) {
  static_cast<NestedClosure*>(closure)->inner_runs.fetch_add(1);
  return 0;
}

int32_t outer_body(int64_t task, int64_t, void* closure) {
  auto* c = static_cast<NestedClosure*>(closure);
  int32_t s = c->pool->parallel_launch(inner_body, c, 16);
  c->inner_status_sum.fetch_add(s);
  return 0;
}

int32_t outer_body_global(int64_t, int64_t, void* closure) {
  return mlcc_runtime_parallel_launch(inner_body, closure, 8);
}

}  // namespace

TEST_CASE("runtime thread pool: every task runs exactly once", "[runtime][thread_pool]") {
  mlcc::ThreadPool pool(4);
  REQUIRE(pool.num_threads() == 4);
  check_all_run_once(pool, 1000, 200);
  // Fewer tasks than threads, and counts that do not divide evenly.
  check_all_run_once(pool, 2, 500);
  check_all_run_once(pool, 3, 500);
  check_all_run_once(pool, 17, 500);
}

TEST_CASE("runtime thread pool: zero and one task", "[runtime][thread_pool]") {
  mlcc::ThreadPool pool(3);
  std::atomic<int> calls{0};
  CHECK(pool.parallel_launch(fail_on_odd, &calls, 0) == 0);
  CHECK(pool.parallel_launch(fail_on_odd, &calls, -5) == 0);
  CHECK(calls.load() == 0);
  CHECK(pool.parallel_launch(fail_on_odd, &calls, 1) == 0);
  CHECK(calls.load() == 1);
  CHECK(pool.parallel_launch(fail_on_last, nullptr, 1) == 42);
}

TEST_CASE("runtime thread pool: a failing task's status comes back", "[runtime][thread_pool]") {
  mlcc::ThreadPool pool(4);
  for (int r = 0; r < 100; ++r) {
    std::atomic<int> calls{0};
    // Every task still runs after the first failure.
    REQUIRE(pool.parallel_launch(fail_on_odd, &calls, 100) == 7);
    REQUIRE(calls.load() == 100);
    REQUIRE(pool.parallel_launch(fail_on_last, nullptr, 64) == 42);
  }
  // The status does not stick to later launches.
  check_all_run_once(pool, 50, 10);
}

TEST_CASE("runtime thread pool: nested launches run serially", "[runtime][thread_pool]") {
  mlcc::ThreadPool pool(4);
  for (int r = 0; r < 50; ++r) {
    NestedClosure c;
    c.pool = &pool;
    REQUIRE(pool.parallel_launch(outer_body, &c, 8) == 0);
    REQUIRE(c.inner_runs.load() == 8 * 16);
    REQUIRE(c.inner_status_sum.load() == 0);
  }
  // Through the C entry point that kernels use, nested on the global pool.
  NestedClosure c;
  REQUIRE(mlcc_runtime_parallel_launch(outer_body_global, &c, 5) == 0);
  REQUIRE(c.inner_runs.load() == 5 * 8);
}

TEST_CASE("runtime thread pool: one thread runs everything on the caller",
          "[runtime][thread_pool]") {
  mlcc::ThreadPool pool(1);
  REQUIRE(pool.num_threads() == 1);
  check_all_run_once(pool, 100, 20);
  std::atomic<int> calls{0};
  CHECK(pool.parallel_launch(fail_on_odd, &calls, 10) == 7);
  CHECK(calls.load() == 10);
}

TEST_CASE("runtime thread pool: launches from several threads", "[runtime][thread_pool]") {
  mlcc::ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      std::vector<std::atomic<int>> hits(257);
      std::atomic<int64_t> mismatch{0};
      CountClosure c{&hits, &mismatch};
      for (int r = 0; r < 100; ++r)
        if (pool.parallel_launch(count_body, &c, 257) != 0) failures.fetch_add(1);
      for (auto& h : hits)
        if (h.load() != 100) failures.fetch_add(1);
    });
  }
  for (auto& t : callers) t.join();
  CHECK(failures.load() == 0);
}

TEST_CASE("runtime thread pool: size from the setter and MLCC_NUM_THREADS",
          "[runtime][thread_pool]") {
  mlcc::ThreadPool pool(2);
  pool.set_num_threads(5);
  CHECK(pool.num_threads() == 5);
  check_all_run_once(pool, 333, 20);
  pool.set_num_threads(1);
  CHECK(pool.num_threads() == 1);
  check_all_run_once(pool, 10, 5);
  CHECK_THROWS_AS(pool.set_num_threads(-1), mlcc::Error);

  const char* old = std::getenv("MLCC_NUM_THREADS");
  std::string saved = old != nullptr ? old : "";
  setenv("MLCC_NUM_THREADS", "3", 1);
  CHECK(mlcc::ThreadPool::default_num_threads() == 3);
  CHECK(mlcc::ThreadPool().num_threads() == 3);
  setenv("MLCC_NUM_THREADS", "many", 1);
  CHECK_THROWS_WITH(mlcc::ThreadPool::default_num_threads(),
                    Catch::Contains("MLCC_NUM_THREADS='many'"));
  setenv("MLCC_NUM_THREADS", "0", 1);
  CHECK_THROWS_AS(mlcc::ThreadPool::default_num_threads(), mlcc::Error);
  if (old != nullptr)
    setenv("MLCC_NUM_THREADS", saved.c_str(), 1);
  else
    unsetenv("MLCC_NUM_THREADS");
  CHECK(mlcc::ThreadPool::default_num_threads() >= 1);
}
