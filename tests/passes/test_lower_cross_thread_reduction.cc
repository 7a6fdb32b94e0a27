// lower_cross_thread_reduction: the warp-shuffle and shared-memory forms it emits, and
// numeric agreement (interpreter) with the thread_allreduce it replaces and with the
// unscheduled reduction, for warp sizes 32 and 1.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

#include "ir/interpreter.h"
#include "ir/printer.h"
#include "ir/te/lower.h"
#include "ir/verifier.h"
#include "passes/lower_cross_thread_reduction.h"

using namespace mlcc;
using namespace mlcc::ir;
using namespace mlcc::ir::te;
using Axes = std::vector<Var>;
using Catch::Contains;
using passes::lower_cross_thread_reduction;

namespace {

Target gpu_target(int warp_size) {
  Target t;
  t.kind = warp_size > 1 ? TargetKind::kCuda : TargetKind::kVulkan;
  t.warp_size = warp_size;
  t.max_threads_per_block = 1024;
  return t;
}

// out[i] = reduce_k A[i, k], rows on blockIdx.x (or threadIdx.y with `rows_on_threads`), the
// reduction split so that its inner part runs on `threads` threads of threadIdx.x.
PrimFunc row_reduce(ReduceKind kind, int rows, int cols, int threads, bool scheduled,
                    bool rows_on_threads = false) {
  IterVar k = reduce_axis(cols, "k");
  Tensor A = placeholder("A", {rows, cols});
  Tensor B = compute("B", {rows}, [&](const Axes& i) {
    Expr v = A(i[0], k.var());
    return kind == ReduceKind::kSum   ? sum(v, {k})
           : kind == ReduceKind::kMax ? max_reduce(v, {k})
                                      : min_reduce(v, {k});
  });
  Schedule s({B});
  if (scheduled) {
    auto [ko, ki] = s[B].split(k, threads);
    if (rows_on_threads) {
      auto [ro, ri] = s[B].split(s[B].axis(0), 2);
      s[B].bind(ro, ThreadAxis::kBlockX).bind(ri, ThreadAxis::kThreadY);
    } else {
      s[B].bind(s[B].axis(0), ThreadAxis::kBlockX);
    }
    s[B].bind(ki, ThreadAxis::kThreadX);
  }
  return lower(s, {A, B}, "row_reduce");
}

std::vector<float> run(const PrimFunc& f, const std::vector<float>& a, size_t rows, int warp) {
  verify(f);
  std::vector<float> in = a, out(rows, std::numeric_limits<float>::quiet_NaN());
  InterpreterOptions opts;
  opts.warp_size = warp > 1 ? warp : 32;
  interpret(f, {host_buffer(in), host_buffer(out)}, {}, opts);
  return out;
}

}  // namespace

TEST_CASE("cross-thread reduction: warp butterfly within one warp", "[passes][cross_thread]") {
  PrimFunc f =
      lower_cross_thread_reduction(row_reduce(ReduceKind::kMax, 4, 64, 16, true), gpu_target(32));
  CHECK(to_string(f) ==
        "func row_reduce(A: f32[4, 64], B: f32[4]) {\n"
        "  for i in range(0, 4) bind(blockIdx.x) {\n"
        "    for k.inner in range(0, 16) bind(threadIdx.x) {\n"
        "      alloc B.partial: f32[1] local\n"
        "      B.partial[0] = -inff\n"
        "      for k.outer in range(0, 4) {\n"
        "        B.partial[0] = max(B.partial[0], A[i, ((k.outer * 16) + k.inner)])\n"
        "      }\n"
        "      alloc red_buf: f32[1] local\n"
        "      red_buf[0] = B.partial[0]\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 8, 16))\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 4, 16))\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 2, 16))\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 1, 16))\n"
        "      B.partial[0] = red_buf[0]\n"
        "      if (k.inner == 0) {\n"
        "        B[i] = B.partial[0]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("cross-thread reduction: several warps meet in shared memory", "[passes][cross_thread]") {
  PrimFunc f =
      lower_cross_thread_reduction(row_reduce(ReduceKind::kMax, 4, 64, 64, true), gpu_target(32));
  CHECK(to_string(f) ==
        "func row_reduce(A: f32[4, 64], B: f32[4]) {\n"
        "  for i in range(0, 4) bind(blockIdx.x) {\n"
        "    alloc red_warp: f32[2] shared\n"
        "    for k.inner in range(0, 64) bind(threadIdx.x) {\n"
        "      alloc B.partial: f32[1] local\n"
        "      B.partial[0] = -inff\n"
        "      B.partial[0] = max(B.partial[0], A[i, k.inner])\n"
        "      alloc red_buf: f32[1] local\n"
        "      red_buf[0] = B.partial[0]\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 16, 32))\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 8, 32))\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 4, 32))\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 2, 32))\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 1, 32))\n"
        "      if ((k.inner % 32) == 0) {\n"
        "        red_warp[(k.inner / 32)] = red_buf[0]\n"
        "      }\n"
        "      sync_threads()\n"
        "      red_buf[0] = red_warp[((k.inner % 32) % 2)]\n"
        "      red_buf[0] = max(red_buf[0], warp_shuffle_xor(red_buf[0], 1, 32))\n"
        "      B.partial[0] = red_buf[0]\n"
        "      sync_threads()\n"
        "      if (k.inner == 0) {\n"
        "        B[i] = B.partial[0]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("cross-thread reduction: shared-memory tree without warps", "[passes][cross_thread]") {
  PrimFunc f =
      lower_cross_thread_reduction(row_reduce(ReduceKind::kMax, 4, 64, 6, true), gpu_target(1));
  CHECK(to_string(f) ==
        "func row_reduce(A: f32[4, 64], B: f32[4]) {\n"
        "  for i in range(0, 4) bind(blockIdx.x) {\n"
        "    alloc red_buf: f32[6] shared\n"
        "    for k.inner in range(0, 6) bind(threadIdx.x) {\n"
        "      alloc B.partial: f32[1] local\n"
        "      B.partial[0] = -inff\n"
        "      for k.outer in range(0, 11) {\n"
        "        if (((k.outer * 6) + k.inner) < 64) {\n"
        "          B.partial[0] = max(B.partial[0], A[i, ((k.outer * 6) + k.inner)])\n"
        "        }\n"
        "      }\n"
        "      red_buf[k.inner] = B.partial[0]\n"
        "      sync_threads()\n"
        "      if ((k.inner + 4) < 6) {\n"
        "        red_buf[k.inner] = max(red_buf[k.inner], red_buf[(k.inner + 4)])\n"
        "      }\n"
        "      sync_threads()\n"
        "      if (k.inner < 2) {\n"
        "        red_buf[k.inner] = max(red_buf[k.inner], red_buf[(k.inner + 2)])\n"
        "      }\n"
        "      sync_threads()\n"
        "      if (k.inner < 1) {\n"
        "        red_buf[k.inner] = max(red_buf[k.inner], red_buf[(k.inner + 1)])\n"
        "      }\n"
        "      sync_threads()\n"
        "      B.partial[0] = red_buf[0]\n"
        "      sync_threads()\n"
        "      if (k.inner == 0) {\n"
        "        B[i] = B.partial[0]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  // Asked for, the tree is used even where warps exist.
  PrimFunc g = lower_cross_thread_reduction(row_reduce(ReduceKind::kMax, 4, 64, 32, true),
                                            gpu_target(32), {/*use_warp_shuffle=*/false});
  CHECK(to_string(g).find("warp_shuffle_xor") == std::string::npos);
  CHECK(to_string(g).find("alloc red_buf: f32[32] shared") != std::string::npos);
}

TEST_CASE("cross-thread reduction: numeric agreement for warp sizes 32, 8 and 1",
          "[passes][cross_thread][numeric]") {
  const int rows = 6, cols = 300;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> a(rows * cols);
  for (float& x : a) x = dist(rng);
  for (ReduceKind kind : {ReduceKind::kSum, ReduceKind::kMax, ReduceKind::kMin}) {
    std::vector<float> want = run(row_reduce(kind, rows, cols, 0, false), a, rows, 32);
    for (int threads : {8, 32, 64, 128, 48, 256}) {
      for (bool rows_on_threads : {false, true}) {
        PrimFunc before = row_reduce(kind, rows, cols, threads, true, rows_on_threads);
        for (int warp : {32, 8, 1}) {  // 8: lavapipe's subgroups; 256 > 8 * 8
          INFO("kind " << reduce_name(kind) << ", threads " << threads << ", warp " << warp
                       << (rows_on_threads ? ", rows on threadIdx.y" : ""));
          PrimFunc after = lower_cross_thread_reduction(before, gpu_target(warp));
          CHECK(to_string(after).find("thread_allreduce") == std::string::npos);
          std::vector<float> got_before = run(before, a, rows, warp);
          std::vector<float> got_after = run(after, a, rows, warp);
          for (int r = 0; r < rows; ++r) {
            REQUIRE(!std::isnan(got_after[r]));
            CHECK(std::fabs(got_after[r] - got_before[r]) <= 1e-5f);
            CHECK(std::fabs(got_after[r] - want[r]) <= 1e-4f);
          }
        }
      }
    }
  }
}

TEST_CASE("cross-thread reduction: malformed uses are errors", "[passes][cross_thread]") {
  Var tx("tx"), other("other");
  Buffer out = Buffer::make("out", DataType::f32(), {1});
  Expr red = call(DataType::f32(), Intrinsic::kThreadAllReduce,
                  {Expr(1.0), Expr(static_cast<int>(ReduceKind::kSum)), tx});
  PrimFunc nested = make_prim_func(
      "nested", {out}, thread_loop(tx, 32, ThreadAxis::kThreadX, store(out, {Expr(0)}, red + 1.0)));
  CHECK_THROWS_WITH(lower_cross_thread_reduction(nested, gpu_target(32)),
                    Contains("thread_allreduce must be the whole value of a store"));
  Expr bad = call(DataType::f32(), Intrinsic::kThreadAllReduce,
                  {Expr(1.0), Expr(static_cast<int>(ReduceKind::kSum)), other});
  PrimFunc unbound = make_prim_func(
      "unbound", {out}, thread_loop(tx, 32, ThreadAxis::kThreadX, store(out, {Expr(0)}, bad)));
  CHECK_THROWS_WITH(lower_cross_thread_reduction(unbound, gpu_target(32)),
                    Contains("other is not the variable of an enclosing threadIdx loop"));
}
