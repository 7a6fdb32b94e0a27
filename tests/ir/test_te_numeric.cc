// Numeric checks of scheduled lowering: each schedule, run by the interpreter on random
// inputs with poisoned outputs, must compute what the unscheduled default lowering does.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

#include "ir/interpreter.h"
#include "ir/te/lower.h"
#include "ir/verifier.h"

using namespace mlcc::ir;
using namespace mlcc::ir::te;
using Axes = std::vector<Var>;

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Runs f on `inputs` (in parameter order) followed by NaN-poisoned outputs of the given
// sizes; returns the outputs.
std::vector<std::vector<float>> run(const PrimFunc& f, std::vector<std::vector<float>> inputs,
                                    const std::vector<size_t>& out_sizes,
                                    const std::vector<ScalarValue>& scalars = {}) {
  verify(f);
  for (size_t n : out_sizes) inputs.emplace_back(n, std::numeric_limits<float>::quiet_NaN());
  std::vector<HostBuffer> bufs;
  for (auto& v : inputs) bufs.push_back(host_buffer(v));
  interpret(f, bufs, scalars);
  return {inputs.end() - out_sizes.size(), inputs.end()};
}

void check_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    REQUIRE(!std::isnan(got[i]));
    err += (got[i] - want[i]) * double(got[i] - want[i]);
    norm += double(want[i]) * want[i];
  }
  CHECK(std::sqrt(err) <= 1e-5 * std::sqrt(norm) + 1e-6);
}

}  // namespace

TEST_CASE("te numeric: GPU matmul with shared caches, compute_at and bindings", "[te][numeric]") {
  const int M = 60, N = 48, K = 64;  // M is not a multiple of the block rows: bound checks
  IterVar k = reduce_axis(K, "k");
  Tensor A = placeholder("A", {M, K});
  Tensor B = placeholder("B", {K, N});
  auto mm = [&](const std::vector<Var>& i) {
    return sum(A(i[0], k.var()) * B(k.var(), i[1]), {k});
  };
  Tensor C = compute("C", {M, N}, mm);
  Schedule ref_s({C});
  PrimFunc ref = lower(ref_s, {A, B, C}, "matmul_ref");

  Schedule s({C});
  Tensor AS = s.cache_read(A, MemScope::kShared, {C});
  Tensor BS = s.cache_read(B, MemScope::kShared, {C});
  auto [bi, ti] = s[C].split(s[C].axis(0), 16);
  auto [bj, tj] = s[C].split(s[C].axis(1), 16);
  auto [ko, ki] = s[C].split(s[C].reduce_axis(0), 16);
  s[C].reorder({bi, bj, ti, tj, ko, ki});
  s[C].bind(bi, ThreadAxis::kBlockY).bind(bj, ThreadAxis::kBlockX);
  s[C].bind(ti, ThreadAxis::kThreadY).bind(tj, ThreadAxis::kThreadX);
  for (const Tensor& t : {AS, BS}) {
    s[t].compute_at(s[C], ko);
    s[t].bind(s[t].axis(0), ThreadAxis::kThreadY).bind(s[t].axis(1), ThreadAxis::kThreadX);
  }
  PrimFunc f = lower(s, {A, B, C}, "matmul");

  auto a = random_floats(M * K, 1), b = random_floats(K * N, 2);
  auto want = run(ref, {a, b}, {M * N})[0];
  check_close(run(f, {a, b}, {M * N})[0], want);
}

TEST_CASE("te numeric: row sum with rfactor over a symbolic row length", "[te][numeric]") {
  Var n("n");
  IterVar k = reduce_axis(n, "k");
  Tensor A = placeholder("A", {8, n});
  Tensor B =
      compute("B", {8}, [&](const std::vector<Var>& i) { return sum(A(i[0], k.var()), {k}); });
  Schedule ref_s({B});
  PrimFunc ref = lower(ref_s, {A, B}, "rowsum_ref");
  Schedule s({B});
  auto [ko, ki] = s[B].split(k, 4);
  Tensor BF = s.rfactor(B, ki);
  s[BF].parallel(s[BF].axis(0));
  PrimFunc f = lower(s, {A, B}, "rowsum");
  for (int len : {37, 40}) {
    auto a = random_floats(8 * len, len);
    check_close(run(f, {a}, {8}, {len})[0], run(ref, {a}, {8}, {len})[0]);
  }
}

TEST_CASE("te numeric: element-wise chain with compute_inline", "[te][numeric]") {
  Var n("n");
  Tensor A = placeholder("A", {n, 16});
  Tensor B = compute("B", {n, 16}, [&](const std::vector<Var>& i) { return A(i[0], i[1]) * 3.0; });
  Tensor C = compute("C", {n, 16}, [&](const std::vector<Var>& i) { return exp(B(i[0], i[1])); });
  Tensor D = compute("D", {16, n}, [&](const std::vector<Var>& i) { return C(i[1], i[0]) + 1.0; });
  Schedule ref_s({D});
  PrimFunc ref = lower(ref_s, {A, D}, "chain_ref");
  Schedule s({D});
  s[B].compute_inline();
  s[C].compute_inline();
  PrimFunc f = lower(s, {A, D}, "chain");
  auto a = random_floats(5 * 16, 3);
  check_close(run(f, {a}, {80}, {5})[0], run(ref, {a}, {80}, {5})[0]);
}

TEST_CASE("te numeric: vectorized and parallel CPU schedule with compute_at", "[te][numeric]") {
  Var n("n");
  Tensor A = placeholder("A", {n, 64});
  Tensor B = compute("B", {n, 64}, [&](const std::vector<Var>& i) { return A(i[0], i[1]) + 1.0; });
  Tensor C = compute("C", {n, 64},
                     [&](const std::vector<Var>& i) { return B(i[0], i[1]) * B(i[0], 63 - i[1]); });
  Schedule ref_s({C});
  PrimFunc ref = lower(ref_s, {A, C}, "cpu_ref");
  Schedule s({C});
  auto [io, ii] = s[C].split(s[C].axis(0), 3);
  auto [jo, ji] = s[C].split(s[C].axis(1), 8);
  s[C].reorder({io, ii, jo, ji});
  s[C].parallel(io).vectorize(ji).unroll(jo);
  s[B].compute_at(s[C], ii);
  s[B].vectorize(s[B].split(s[B].axis(1), 16).second);
  PrimFunc f = lower(s, {A, C}, "cpu");
  auto a = random_floats(7 * 64, 4);
  check_close(run(f, {a}, {7 * 64}, {7})[0], run(ref, {a}, {7 * 64}, {7})[0]);
}

TEST_CASE("te numeric: GPU cache_write into local with a shared cache_read", "[te][numeric]") {
  IterVar k = reduce_axis(32, "k");
  Tensor A = placeholder("A", {32, 32});
  Tensor B = placeholder("B", {32, 24});
  Tensor C = compute("C", {32, 24}, [&](const std::vector<Var>& i) {
    return sum(A(i[0], k.var()) * B(k.var(), i[1]), {k});
  });
  Schedule ref_s({C});
  PrimFunc ref = lower(ref_s, {A, B, C}, "cw_ref");
  Schedule s({C});
  Tensor CL = s.cache_write(C, MemScope::kLocal);
  auto [bi, ti] = s[C].split(s[C].axis(0), 4);
  s[C].bind(bi, ThreadAxis::kBlockX).bind(ti, ThreadAxis::kThreadX);
  s[CL].compute_at(s[C], ti);
  Tensor AS = s.cache_read(A, MemScope::kShared, {CL});
  s[AS].compute_at(s[C], bi);
  s[AS].storage_align(s[AS].axis(0), 32, 1);
  s[AS].bind(s[AS].axis(0), ThreadAxis::kThreadX);
  PrimFunc f = lower(s, {A, B, C}, "cw");
  auto a = random_floats(32 * 32, 5), b = random_floats(32 * 24, 6);
  check_close(run(f, {a, b}, {32 * 24})[0], run(ref, {a, b}, {32 * 24})[0]);
}

TEST_CASE("te numeric: rfactor feeding a cross-thread reduction", "[te][numeric]") {
  // The TVM pattern: partial sums per thread (the rf stage, in registers) attached at the
  // thread loop of the final reduction, which reduces across threadIdx.x.
  Var n("n");
  IterVar k = reduce_axis(n, "k");
  Tensor A = placeholder("A", {6, n});
  Tensor B = compute("B", {6}, [&](const Axes& i) { return sum(A(i[0], k.var()) * 2.0, {k}); });
  Schedule ref_s({B});
  PrimFunc ref = lower(ref_s, {A, B}, "rf_ref");
  Schedule s({B});
  auto [ko, ki] = s[B].split(k, 16);
  Tensor BF = s.rfactor(B, ki);
  IterVar tx = s[B].reduce_axis(0);
  s[B].bind(s[B].axis(0), ThreadAxis::kBlockX).bind(tx, ThreadAxis::kThreadX);
  s[BF].compute_at(s[B], tx);
  s[BF].set_scope(MemScope::kLocal);
  PrimFunc f = lower(s, {A, B}, "rf_cross");
  auto a = random_floats(6 * 50, 8);
  check_close(run(f, {a}, {6}, {50})[0], run(ref, {a}, {6}, {50})[0]);
}
