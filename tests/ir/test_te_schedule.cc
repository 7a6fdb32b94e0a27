// Schedule primitives lowered to loop IR: for each primitive, the printed function that a
// small compute definition lowers to (checked by the verifier too).
#include <catch2/catch.hpp>

#include "ir/printer.h"
#include "ir/te/lower.h"
#include "ir/verifier.h"

using namespace mlcc::ir;
using namespace mlcc::ir::te;
using Axes = std::vector<Var>;

namespace {
std::string leaf_names(const Stage& s) {
  std::string out;
  for (const IterVar& iv : s.leaf_iter_vars()) out += (out.empty() ? "" : " ") + iv.name();
  return out;
}
}  // namespace

TEST_CASE("te schedule: loop order after split, fuse and reorder", "[te][schedule]") {
  IterVar k = reduce_axis(8, "k");
  Tensor A = placeholder("A", {4, 6, 8});
  Tensor B = compute("B", {4, 6}, [&](const Axes& i) { return sum(A(i[0], i[1], k.var()), {k}); });
  Schedule s({B});
  Stage st = s[B];
  CHECK(leaf_names(st) == "i j k");
  auto [ko, ki] = st.split(k, 2);
  CHECK(leaf_names(st) == "i j k.outer k.inner");
  IterVar ij = st.fuse(st.axis(0), st.axis(1));
  CHECK(leaf_names(st) == "i.j.fused k.outer k.inner");
  st.reorder({ki, ij});
  CHECK(leaf_names(st) == "k.inner k.outer i.j.fused");
  CHECK(s.stages().size() == 2);  // the placeholder has a stage too
}

TEST_CASE("te lower: default schedule of an element-wise compute over a symbolic shape",
          "[te][lower]") {
  Var n("n");
  Tensor A = placeholder("A", {n, 4096});
  Tensor B = compute("B", {n, 4096}, [&](const Axes& i) { return A(i[0], i[1]) * 2.0; });
  Schedule s({B});
  PrimFunc f = lower(s, {A, B}, "scale");
  CHECK(to_string(f) ==
        "func scale(A: f32[n, 4096], B: f32[n, 4096], n: i32) {\n"
        "  for i in range(0, n) {\n"
        "    for j in range(0, 4096) {\n"
        "      B[i, j] = (A[i, j] * 2.0f)\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te split: a non-dividing factor leaves a bound check", "[te][split]") {
  Tensor A = placeholder("A", {10});
  Tensor B = compute("B", {10}, [&](const Axes& i) { return A(i[0]) + 1.0; });
  Schedule s({B});
  s[B].split(s[B].axis(0), 4);
  PrimFunc f = lower(s, {A, B}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[10], B: f32[10]) {\n"
        "  for i.outer in range(0, 3) {\n"
        "    for i.inner in range(0, 4) {\n"
        "      if (((i.outer * 4) + i.inner) < 10) {\n"
        "        B[((i.outer * 4) + i.inner)] = (A[((i.outer * 4) + i.inner)] + 1.0f)\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te split: a dividing factor needs no check", "[te][split]") {
  Tensor A = placeholder("A", {16});
  Tensor B = compute("B", {16}, [&](const Axes& i) { return A(i[0]) + 1.0; });
  Schedule s({B});
  s[B].split(s[B].axis(0), 4);
  PrimFunc f = lower(s, {A, B}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[16], B: f32[16]) {\n"
        "  for i.outer in range(0, 4) {\n"
        "    for i.inner in range(0, 4) {\n"
        "      B[((i.outer * 4) + i.inner)] = (A[((i.outer * 4) + i.inner)] + 1.0f)\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te fuse, split_nparts and unroll", "[te][fuse]") {
  Tensor A = placeholder("A", {6, 10});
  Tensor B = compute("B", {6, 10}, [&](const Axes& i) { return A(i[0], i[1]) + 1.0; });
  Schedule s({B});
  IterVar fused = s[B].fuse(s[B].axis(0), s[B].axis(1));
  auto [outer, inner] = s[B].split_nparts(fused, 4);
  s[B].unroll(inner);
  PrimFunc f = lower(s, {A, B}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[6, 10], B: f32[6, 10]) {\n"
        "  for i.j.fused.outer in range(0, 4) {\n"
        "    for i.j.fused.inner in range(0, 15) unrolled {\n"
        "      B[(((i.j.fused.outer * 15) + i.j.fused.inner) / 10), (((i.j.fused.outer * 5) + "
        "i.j.fused.inner) % 10)] = (A[(((i.j.fused.outer * 15) + i.j.fused.inner) / 10), "
        "(((i.j.fused.outer * 5) + i.j.fused.inner) % 10)] + 1.0f)\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te compute_inline and reorder", "[te][inline]") {
  Tensor A = placeholder("A", {16, 16});
  Tensor B = compute("B", {16, 16}, [&](const Axes& i) { return A(i[0], i[1]) + 1.0; });
  Tensor C = compute("C", {16, 16}, [&](const Axes& i) { return exp(B(i[0], i[1])); });
  Tensor D = compute("D", {16, 16}, [&](const Axes& i) { return C(i[1], i[0]) * 2.0; });
  Schedule s({D});
  s[B].compute_inline();
  s[C].compute_inline();
  s[D].reorder({s[D].axis(1), s[D].axis(0)});
  PrimFunc f = lower(s, {A, D}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[16, 16], D: f32[16, 16]) {\n"
        "  for j in range(0, 16) {\n"
        "    for i in range(0, 16) {\n"
        "      D[i, j] = (exp((A[j, i] + 1.0f)) * 2.0f)\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te vectorize and parallel", "[te][vectorize]") {
  Var n("n");
  Tensor A = placeholder("A", {n, 4096});
  Tensor B = compute("B", {n, 4096}, [&](const Axes& i) { return A(i[0], i[1]) * 2.0; });
  Schedule s({B});
  auto [jo, ji] = s[B].split(s[B].axis(1), 8);
  s[B].vectorize(ji);
  s[B].parallel(s[B].axis(0));
  PrimFunc f = lower(s, {A, B}, "scale");
  CHECK(to_string(f) ==
        "func scale(A: f32[n, 4096], B: f32[n, 4096], n: i32) {\n"
        "  for i in range(0, n) parallel {\n"
        "    for j.outer in range(0, 512) {\n"
        "      for j.inner in range(0, 8) vectorized {\n"
        "        B[i, ((j.outer * 8) + j.inner)] = (A[i, ((j.outer * 8) + j.inner)] * 2.0f)\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te bind: block and thread axes over a symbolic extent", "[te][bind]") {
  Var n("n");
  Tensor A = placeholder("A", {n});
  Tensor B = compute("B", {n}, [&](const Axes& i) { return A(i[0]) * 2.0; });
  Schedule s({B});
  auto [bx, tx] = s[B].split(s[B].axis(0), 64);
  s[B].bind(bx, ThreadAxis::kBlockX).bind(tx, ThreadAxis::kThreadX);
  PrimFunc f = lower(s, {A, B}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[n], B: f32[n], n: i32) {\n"
        "  for i.outer in range(0, ((n + 63) / 64)) bind(blockIdx.x) {\n"
        "    for i.inner in range(0, 64) bind(threadIdx.x) {\n"
        "      if (((i.outer * 64) + i.inner) < n) {\n"
        "        B[((i.outer * 64) + i.inner)] = (A[((i.outer * 64) + i.inner)] * 2.0f)\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te compute_at: the producer is computed over the consumer's region",
          "[te][compute_at]") {
  Tensor A = placeholder("A", {10});
  Tensor B = compute("B", {10}, [&](const Axes& i) { return A(i[0]) + 1.0; });
  Tensor C = compute("C", {10}, [&](const Axes& i) { return B(i[0]) * 2.0; });
  Schedule s({C});
  auto [io, ii] = s[C].split(s[C].axis(0), 4);
  s[B].compute_at(s[C], io);
  PrimFunc f = lower(s, {A, C}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[10], C: f32[10]) {\n"
        "  for i.outer in range(0, 3) {\n"
        "    alloc B: f32[4]\n"
        "    for i in range(0, 4) {\n"
        "      if (((i.outer * 4) + i) < 10) {\n"
        "        B[i] = (A[((i.outer * 4) + i)] + 1.0f)\n"
        "      }\n"
        "    }\n"
        "    for i.inner in range(0, 4) {\n"
        "      if (((i.outer * 4) + i.inner) < 10) {\n"
        "        C[((i.outer * 4) + i.inner)] = (B[i.inner] * 2.0f)\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te reduction: init and update loops", "[te][reduce]") {
  Var n("n");
  IterVar k = reduce_axis(n, "k");
  Tensor A = placeholder("A", {64, n});
  Tensor B = compute("B", {64}, [&](const Axes& i) { return sum(A(i[0], k.var()), {k}); });
  Schedule s({B});
  PrimFunc f = lower(s, {A, B}, "rowsum");
  CHECK(to_string(f) ==
        "func rowsum(A: f32[64, n], B: f32[64], n: i32) {\n"
        "  for i in range(0, 64) {\n"
        "    B[i] = 0.0f\n"
        "    for k in range(0, n) {\n"
        "      B[i] = (B[i] + A[i, k])\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te rfactor: partial sums indexed by the factored loop", "[te][rfactor]") {
  Var n("n");
  IterVar k = reduce_axis(n, "k");
  Tensor A = placeholder("A", {64, n});
  Tensor B = compute("B", {64}, [&](const Axes& i) { return sum(A(i[0], k.var()), {k}); });
  Schedule s({B});
  auto [ko, ki] = s[B].split(k, 4);
  Tensor BF = s.rfactor(B, ki);
  CHECK(BF.name() == "B.rf");
  PrimFunc f = lower(s, {A, B}, "rowsum");
  CHECK(to_string(f) ==
        "func rowsum(A: f32[64, n], B: f32[64], n: i32) {\n"
        "  alloc B.rf: f32[4, 64]\n"
        "  for k.inner in range(0, 4) {\n"
        "    for i in range(0, 64) {\n"
        "      B.rf[k.inner, i] = 0.0f\n"
        "      for k.outer in range(0, ((n + 3) / 4)) {\n"
        "        if (((k.outer * 4) + k.inner) < n) {\n"
        "          B.rf[k.inner, i] = (B.rf[k.inner, i] + A[i, ((k.outer * 4) + k.inner)])\n"
        "        }\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "  for i_1 in range(0, 64) {\n"
        "    B[i_1] = 0.0f\n"
        "    for k.inner.v in range(0, 4) {\n"
        "      B[i_1] = (B[i_1] + B.rf[k.inner.v, i_1])\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te cross-thread reduction: a reduce loop bound to threadIdx.x", "[te][cross_thread]") {
  Var n("n");
  IterVar k = reduce_axis(n, "k");
  Tensor A = placeholder("A", {64, n});
  Tensor B = compute("B", {64}, [&](const Axes& i) { return max_reduce(A(i[0], k.var()), {k}); });
  Schedule s({B});
  auto [ko, ki] = s[B].split(k, 32);
  s[B].bind(s[B].axis(0), ThreadAxis::kBlockX);
  s[B].bind(ki, ThreadAxis::kThreadX);
  PrimFunc f = lower(s, {A, B}, "rowmax");
  CHECK(to_string(f) ==
        "func rowmax(A: f32[64, n], B: f32[64], n: i32) {\n"
        "  for i in range(0, 64) bind(blockIdx.x) {\n"
        "    for k.inner in range(0, 32) bind(threadIdx.x) {\n"
        "      alloc B.partial: f32[1] local\n"
        "      B.partial[0] = -inff\n"
        "      for k.outer in range(0, ((n + 31) / 32)) {\n"
        "        if (((k.outer * 32) + k.inner) < n) {\n"
        "          B.partial[0] = max(B.partial[0], A[i, ((k.outer * 32) + k.inner)])\n"
        "        }\n"
        "      }\n"
        "      B.partial[0] = thread_allreduce(B.partial[0], max, k.inner)\n"
        "      if (k.inner == 0) {\n"
        "        B[i] = B.partial[0]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te cache_read into shared memory, computed at a reduce loop", "[te][cache_read]") {
  IterVar k = reduce_axis(16, "k");
  Tensor A = placeholder("A", {16, 16});
  Tensor B = placeholder("B", {16, 16});
  Tensor C = compute("C", {16, 16},
                     [&](const Axes& i) { return sum(A(i[0], k.var()) * B(k.var(), i[1]), {k}); });
  Schedule s({C});
  Tensor AS = s.cache_read(A, MemScope::kShared, {C});
  auto [bi, ti] = s[C].split(s[C].axis(0), 4);
  auto [ko, ki] = s[C].split(s[C].reduce_axis(0), 4);
  s[C].reorder({bi, ti, s[C].axis(1), ko, ki});
  s[C].bind(bi, ThreadAxis::kBlockX).bind(ti, ThreadAxis::kThreadX);
  s[AS].compute_at(s[C], ko);
  s[AS].bind(s[AS].axis(0), ThreadAxis::kThreadX);
  PrimFunc f = lower(s, {A, B, C}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[16, 16], B: f32[16, 16], C: f32[16, 16]) {\n"
        "  for i.outer in range(0, 4) bind(blockIdx.x) {\n"
        "    alloc A.shared: f32[4, 4] shared\n"
        "    for i.inner in range(0, 4) bind(threadIdx.x) {\n"
        "      for j in range(0, 16) {\n"
        "        C[((i.outer * 4) + i.inner), j] = 0.0f\n"
        "        for k.outer in range(0, 4) {\n"
        "          sync_threads()\n"
        "          for ax1 in range(0, 4) {\n"
        "            A.shared[i.inner, ax1] = A[((i.outer * 4) + i.inner), ((k.outer * 4) + ax1)]\n"
        "          }\n"
        "          sync_threads()\n"
        "          for k.inner in range(0, 4) {\n"
        "            C[((i.outer * 4) + i.inner), j] = (C[((i.outer * 4) + i.inner), j] + "
        "(A.shared[i.inner, k.inner] * B[((k.outer * 4) + k.inner), j]))\n"
        "          }\n"
        "        }\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}

TEST_CASE("te cache_write into local memory, with a storage-aligned shared cache",
          "[te][cache_write]") {
  IterVar k = reduce_axis(32, "k");
  Tensor A = placeholder("A", {32, 32});
  Tensor B = placeholder("B", {32, 32});
  Tensor C = compute("C", {32, 32},
                     [&](const Axes& i) { return sum(A(i[0], k.var()) * B(k.var(), i[1]), {k}); });
  Schedule s({C});
  Tensor CL = s.cache_write(C, MemScope::kLocal);
  auto [bi, ti] = s[C].split(s[C].axis(0), 4);
  s[C].bind(bi, ThreadAxis::kBlockX).bind(ti, ThreadAxis::kThreadX);
  s[CL].compute_at(s[C], ti);
  Tensor AS = s.cache_read(A, MemScope::kShared, {CL});
  s[AS].compute_at(s[C], bi);
  s[AS].storage_align(s[AS].axis(0), 32, 1);
  s[AS].bind(s[AS].axis(0), ThreadAxis::kThreadX);
  PrimFunc f = lower(s, {A, B, C}, "f");
  CHECK(to_string(f) ==
        "func f(A: f32[32, 32], B: f32[32, 32], C: f32[32, 32]) {\n"
        "  for i.outer in range(0, 8) bind(blockIdx.x) {\n"
        "    alloc A.shared: f32[4, 32] shared strides[33, 1]\n"
        "    for ax0 in range(0, 4) bind(threadIdx.x) {\n"
        "      for ax1 in range(0, 32) {\n"
        "        A.shared[ax0, ax1] = A[((i.outer * 4) + ax0), ax1]\n"
        "      }\n"
        "    }\n"
        "    for i.inner in range(0, 4) bind(threadIdx.x) {\n"
        "      alloc C.local: f32[1, 32] local\n"
        "      for j in range(0, 32) {\n"
        "        C.local[0, j] = 0.0f\n"
        "        for k in range(0, 32) {\n"
        "          C.local[0, j] = (C.local[0, j] + (A.shared[i.inner, k] * B[k, j]))\n"
        "        }\n"
        "      }\n"
        "      for j_1 in range(0, 32) {\n"
        "        C[((i.outer * 4) + i.inner), j_1] = C.local[0, j_1]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
  CHECK(verify_errors(f).empty());
}
