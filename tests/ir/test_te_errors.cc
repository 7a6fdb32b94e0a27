// Diagnostics of the tensor-expression language: every invalid definition or schedule is an
// mlcc::Error that names the primitive, the stage and the loop.
#include <catch2/catch.hpp>

#include "ir/te/lower.h"
#include "runtime/error.h"

using namespace mlcc::ir;
using namespace mlcc::ir::te;
using Axes = std::vector<Var>;
using Catch::Contains;

namespace {

// C[i, j] = A[i, j] * 2 over 32 x 32, and S[i] = sum_k A[i, k].
struct Defs {
  IterVar k = reduce_axis(32, "k");
  Tensor A = placeholder("A", {32, 32});
  Tensor C = compute("C", {32, 32}, [&](const Axes& i) { return A(i[0], i[1]) * 2.0; });
  Tensor S = compute("S", {32}, [&](const Axes& i) { return sum(A(i[0], k.var()), {k}); });
};

}  // namespace

TEST_CASE("te errors: definitions", "[te][errors]") {
  Defs d;
  IterVar k2 = reduce_axis(4, "k2");
  CHECK_THROWS_WITH(
      compute("X", {4}, [&](const Axes& i) { return sum(d.A(i[0], k2.var()), {k2}) + 1.0; }),
      Contains("compute: a reduction (sum/max_reduce/min_reduce) must be the whole body"));
  CHECK_THROWS_WITH(d.A(1), Contains("tensor 'A' has 2 dimensions but was indexed with 1"));
  IterVar data = IterVar::make("x", 4, false);
  CHECK_THROWS_WITH(sum(d.A(0, 0), {data}), Contains("sum: axis 'x' is not a reduce_axis"));
}

TEST_CASE("te errors: loop primitives", "[te][errors]") {
  Defs d;
  Schedule s({d.C, d.S});
  Stage c = s[d.C];
  IterVar i = c.axis(0), j = c.axis(1);
  c.split(i, 4);
  CHECK_THROWS_WITH(c.split(i, 2), Contains("split: loop 'i' of stage 'C' is not a leaf loop "
                                            "(it was split into i.outer, i.inner)"));
  CHECK_THROWS_WITH(c.split(j, 0),
                    Contains("split: loop 'j' of stage 'C': the factor must be positive"));
  CHECK_THROWS_WITH(c.vectorize(d.k), Contains("vectorize: loop 'k' is not a loop of stage 'C'"));
  IterVar jf = c.fuse(c.leaf_iter_vars()[1], j);
  CHECK_THROWS_WITH(c.reorder({j}), Contains("reorder: loop 'j' of stage 'C' is not a leaf loop "
                                             "(it was fused into i.inner.j.fused)"));
  CHECK_THROWS_WITH(c.reorder({jf, jf}), Contains("reorder: loop 'i.inner.j.fused' appears twice"));
  IterVar io = c.leaf_iter_vars()[0];
  CHECK_THROWS_WITH(c.fuse(jf, io), Contains("fuse: loops 'i.inner.j.fused' and 'i.outer' of stage "
                                             "'C' are not adjacent"));
  c.bind(io, ThreadAxis::kThreadX);
  CHECK_THROWS_WITH(
      c.bind(jf, ThreadAxis::kThreadX),
      Contains("bind: stage 'C' binds both 'i.outer' and 'i.inner.j.fused' to threadIdx.x"));
  CHECK_THROWS_WITH(c.unroll(io),
                    Contains("unroll: loop 'i.outer' of stage 'C' is bound to threadIdx.x"));

  Stage st = s[d.S];
  CHECK_THROWS_WITH(
      st.bind(d.k, ThreadAxis::kBlockX),
      Contains("bind: reduce loop 'k' of stage 'S' can only be bound to a thread axis, "
               "not blockIdx.x"));
  CHECK_THROWS_WITH(st.parallel(d.k), Contains("parallel: loop 'k' of stage 'S' is a reduce loop"));
  CHECK_THROWS_WITH(s[d.A].split(s[d.A].axis(0), 2), Contains("stage 'A' has 0 axes"));
  CHECK_THROWS_WITH(s[d.A].compute_inline(),
                    Contains("compute_inline: stage 'A' is a placeholder"));
}

TEST_CASE("te errors: vectorize of a loop with symbolic extent", "[te][errors]") {
  Var n("n");
  Tensor A = placeholder("A", {n});
  Tensor C = compute("C", {n}, [&](const Axes& i) { return A(i[0]) + 1.0; });
  Schedule s({C});
  s[C].vectorize(s[C].axis(0));
  CHECK_THROWS_WITH(lower(s, {A, C}, "f"),
                    Contains("vectorize: loop 'i' of stage 'C' has non-constant extent n"));
}

TEST_CASE("te errors: placement primitives", "[te][errors]") {
  Tensor A = placeholder("A", {16});
  Tensor B = compute("B", {16}, [&](const Axes& i) { return A(i[0]) + 1.0; });
  Tensor D = compute("D", {16}, [&](const Axes& i) { return A(i[0]) * 2.0; });
  Tensor E = compute("E", {16}, [&](const Axes& i) { return B(i[0]) + D(i[0]); });
  IterVar k = reduce_axis(16, "k");
  Tensor S = compute("S", {1}, [&](const Axes&) { return sum(E(k.var()), {k}); });
  Schedule s({S});
  CHECK_THROWS_WITH(s[B].compute_at(s[D], s[D].axis(0)),
                    Contains("compute_at: stage 'B' is not read by stage 'D'"));
  CHECK_THROWS_WITH(s[E].compute_at(s[B], s[B].axis(0)),
                    Contains("compute_at: stage 'B' feeds stage 'E'; attaching 'E' inside it would "
                             "be a cycle"));
  CHECK_THROWS_WITH(s[S].compute_inline(),
                    Contains("compute_inline: stage 'S' is a reduction and cannot be inlined"));
  CHECK_THROWS_WITH(s[S].compute_at(s[E], s[E].axis(0)),
                    Contains("compute_at: stage 'S' is an output of the schedule"));

  // Attached to a stage that is then inlined.
  s[B].compute_at(s[E], s[E].axis(0));
  s[E].compute_inline();
  CHECK_THROWS_WITH(lower(s, {A, S}, "f"),
                    Contains("compute_at: stage 'B' is attached to stage 'E', which is inlined"));
  s[B].compute_root();
  CHECK_NOTHROW(lower(s, {A, S}, "f"));
  CHECK_THROWS_WITH(
      lower(s, {S}, "f"),
      Contains("lower: tensor 'A' is read by stage 'B' but is not in the argument list"));
  CHECK_THROWS_WITH(lower(s, {A}, "f"), Contains("lower: output 'S' is not in the argument list"));
  CHECK_THROWS_WITH(lower(s, {A, B, S}, "f"),
                    Contains("lower: argument 'B' is an intermediate stage"));
}

TEST_CASE("te errors: attach points that break a dependence", "[te][errors]") {
  // C reads B through C.local; B attached inside C's inner loop, but C.local (its reader) is
  // computed further out.
  Tensor A = placeholder("A", {16, 16});
  Tensor B = compute("B", {16, 16}, [&](const Axes& i) { return A(i[0], i[1]) + 1.0; });
  Tensor C = compute("C", {16, 16}, [&](const Axes& i) { return B(i[0], i[1]) * 2.0; });
  Tensor E = compute("E", {16, 16}, [&](const Axes& i) { return B(i[1], i[0]); });
  Schedule s({C, E});
  Tensor CL = s.cache_write(C, MemScope::kLocal);
  s[CL].compute_at(s[C], s[C].axis(0));
  s[B].compute_at(s[C], s[C].axis(1));
  CHECK_THROWS_WITH(lower(s, {A, C, E}, "f"),
                    Contains("compute_at: stage 'B' is also read by stage 'E', outside its attach "
                             "point in stage 'C'"));
  Schedule s2({C});
  Tensor CL2 = s2.cache_write(C, MemScope::kLocal);
  s2[CL2].compute_at(s2[C], s2[C].axis(0));
  s2[B].compute_at(s2[C], s2[C].axis(1));
  CHECK_THROWS_WITH(lower(s2, {A, C}, "f"),
                    Contains("compute_at: stage 'B' is attached inside loop 'j' of stage 'C', but "
                             "its reader 'C.local' is computed outside that loop (at 'i')"));
}

TEST_CASE("te errors: storage, caches and rfactor", "[te][errors]") {
  Defs d;
  Schedule s({d.C, d.S});
  CHECK_THROWS_WITH(s.rfactor(d.S, s[d.S].axis(0)),
                    Contains("rfactor: loop 'i' of stage 'S' is not a reduce loop"));
  CHECK_THROWS_WITH(s.rfactor(d.C, s[d.C].axis(0)),
                    Contains("rfactor: stage 'C' is not a reduction"));
  Tensor X = placeholder("X", {4});
  CHECK_THROWS_WITH(s.cache_read(X, MemScope::kShared, {d.C}),
                    Contains("cache_read: tensor 'X' is not part of this schedule"));
  CHECK_THROWS_WITH(s.cache_read(d.C, MemScope::kShared, {d.S}),
                    Contains("cache_read: stage 'S' does not read tensor 'C'"));
  CHECK_THROWS_WITH(s[d.C].storage_align(s[d.C].axis(0), 32, 1),
                    Contains("storage_align: stage 'C' is an output"));
  Tensor AS = s.cache_read(d.A, MemScope::kShared, {d.C});
  CHECK_THROWS_WITH(s[AS].storage_align(s[AS].axis(0), 4, 5),
                    Contains("storage_align: stage 'A.shared' axis 'ax0': need factor > 0 and 0 <= "
                             "offset < factor"));
  s[AS].storage_align(s[AS].axis(1), 32, 1);
  CHECK_THROWS_WITH(
      lower(s, {d.A, d.C, d.S}, "f"),
      Contains("storage_align: axis 'ax1' is the innermost axis of stage 'A.shared'"));
  s[d.S].split(d.k, 4);
  CHECK_THROWS_WITH(s.cache_write(d.S, MemScope::kLocal),
                    Contains("cache_write: stage 'S' already has loop transformations"));
}

TEST_CASE("te errors: GPU kernel structure and targets", "[te][errors]") {
  Tensor A = placeholder("A", {256});
  Tensor B = compute("B", {256}, [&](const Axes& i) { return A(i[0]) + 1.0; });
  Tensor C = compute("C", {256}, [&](const Axes& i) { return B(i[0]) * 2.0; });
  Schedule s({C});
  auto [bx, tx] = s[C].split(s[C].axis(0), 128);
  s[C].bind(bx, ThreadAxis::kBlockX).bind(tx, ThreadAxis::kThreadX);
  CHECK_THROWS_WITH(lower(s, {A, C}, "f"),
                    Contains("lower: stage 'B' is an intermediate stage of a GPU kernel; attach it "
                             "inside the block loops with compute_at"));
  s[B].compute_at(s[C], bx);
  CHECK_THROWS_WITH(
      lower(s, {A, C}, "f"),
      Contains("lower: stage 'B' is computed inside a GPU kernel but has global scope"));
  s[B].set_scope(MemScope::kShared);
  CHECK_NOTHROW(lower(s, {A, C}, "f"));

  mlcc::Target cpu;
  CHECK_THROWS_WITH(
      lower(s, {A, C}, "f", &cpu),
      Contains("lower: stage 'C' binds loops to GPU block/thread axes, but the target is "
               "a CPU"));
  mlcc::Target gpu;
  gpu.kind = mlcc::TargetKind::kCuda;
  gpu.warp_size = 32;
  gpu.max_threads_per_block = 64;
  CHECK_THROWS_WITH(
      lower(s, {A, C}, "f", &gpu),
      Contains("lower: stage 'C' uses 128 threads per block, more than the target's 64"));

  // Inside the consumer's thread loop, a producer's threadIdx.x loop reuses it, and cannot
  // be wider.
  s[B].compute_at(s[C], tx);
  s[B].bind(s[B].split(s[B].axis(0), 256).second, ThreadAxis::kThreadX);
  CHECK_THROWS_WITH(lower(s, {A, C}, "f"),
                    Contains("bind: loop 'i.inner' of stage 'B' has extent 256, larger than the "
                             "enclosing threadIdx.x extent 128"));
}
