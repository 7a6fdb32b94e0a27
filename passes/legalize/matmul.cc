// The tiled matrix product C = A Bᵀ (a linear layer's shape: both operands contiguous
// along k) and the plain compute definition of the q4f16_1 GEMV used as its reference.
//
// GPU schedule: a 32x32 tile of C per block of 16x16 threads, 2x2 outputs per thread
// accumulated in registers (cache_write to local), A and B tiles of 32x16 staged through
// shared memory (cache_read + compute_at the k-tile loop), loaded cooperatively by all
// threads, with rows padded (storage_align) to avoid shared-memory bank conflicts.
// CPU schedule: 8x(vector) register tiles accumulated locally, vectorized along j,
// parallel over row tiles.
#include "ir/te/lower.h"
#include "passes/legalize/kernels.h"
#include "passes/legalize/schedule_util.h"

namespace mlcc::kernels {

using namespace ir;
using namespace ir::te;

namespace {

constexpr int kTile = 32, kThreadTile = 2, kKTile = 16;

void schedule_gpu(Schedule& s, const Tensor& A, const Tensor& B, const Tensor& C) {
  Tensor AA = s.cache_read(A, MemScope::kShared, {C});
  Tensor BB = s.cache_read(B, MemScope::kShared, {C});
  Tensor CL = s.cache_write(C, MemScope::kLocal);
  Stage c = s[C];
  auto [by, yi] = c.split(c.axis(0), kTile);
  auto [bx, xi] = c.split(c.axis(1), kTile);
  auto [ty, yy] = c.split(yi, kThreadTile);
  auto [tx, xx] = c.split(xi, kThreadTile);
  c.reorder({by, bx, ty, tx, yy, xx});
  c.bind(by, ThreadAxis::kBlockY).bind(bx, ThreadAxis::kBlockX);
  c.bind(ty, ThreadAxis::kThreadY).bind(tx, ThreadAxis::kThreadX);

  Stage cl = s[CL];
  cl.compute_at(c, tx);
  auto [ko, ki] = cl.split(cl.reduce_axis(0), kKTile);
  cl.reorder({ko, ki, cl.axis(0), cl.axis(1)});

  const int threads_per_side = kTile / kThreadTile;
  for (const Tensor& t : {AA, BB}) {
    Stage st = s[t];
    st.compute_at(cl, ko);
    st.storage_align(st.axis(0), kKTile + 1, 0);
    IterVar fused = st.fuse(st.axis(0), st.axis(1));
    auto [rest, tid] = st.split(fused, threads_per_side * threads_per_side);
    auto [sy, sx] = st.split(tid, threads_per_side);
    st.bind(sy, ThreadAxis::kThreadY).bind(sx, ThreadAxis::kThreadX);
  }
}

void schedule_cpu(Schedule& s, const Tensor& C, const Target& target) {
  Tensor CL = s.cache_write(C, MemScope::kLocal);
  Stage c = s[C];
  const int lanes = vector_lanes(target, DataType::f32());
  auto [io, ii] = c.split(c.axis(0), 8);
  auto [jo, ji] = c.split(c.axis(1), lanes);
  c.reorder({io, jo, ii, ji});
  c.parallel(io).vectorize(ji);
  Stage cl = s[CL];
  cl.compute_at(c, jo);
  cl.reorder({cl.reduce_axis(0), cl.axis(0), cl.axis(1)});
  cl.unroll(cl.axis(0)).vectorize(cl.axis(1));
}

}  // namespace

PrimFunc matmul(int64_t n, int64_t m, int64_t k, const Target* target) {
  Tensor A = placeholder("A", {Expr(int(n)), Expr(int(k))});
  Tensor B = placeholder("B", {Expr(int(m)), Expr(int(k))});
  IterVar r = reduce_axis(Expr(int(k)), "k");
  Tensor C = compute("C", {Expr(int(n)), Expr(int(m))}, [&](const std::vector<Var>& ax) {
    return sum(A(ax[0], r.var()) * B(ax[1], r.var()), {r});
  });
  Schedule s({C});
  if (target && target->is_gpu())
    schedule_gpu(s, A, B, C);
  else if (target)
    schedule_cpu(s, C, *target);
  return lower(s, {A, B, C}, "matmul", target);
}

PrimFunc gemv_q4f16_reference(int64_t n, int64_t k) {
  const DataType f32 = DataType::f32(), u32 = DataType::u32();
  Tensor W = placeholder("W", {Expr(int(n)), Expr(int(k / 8))}, u32);
  Tensor S = placeholder("S", {Expr(int(n)), Expr(int(k / 32))}, DataType::f16());
  Tensor X = placeholder("X", {Expr(int(k))}, DataType::f16());
  IterVar r = reduce_axis(Expr(int(k)), "k");
  Tensor Yf = compute("Yf", {Expr(int(n))}, [&](const std::vector<Var>& ax) {
    Expr kk = r.var();
    Expr q = (W(ax[0], kk / 8) >> cast(u32, (kk % 8) * 4)) & make_const(u32, int64_t{15});
    Expr w = (cast(f32, q) - 7.0) * cast(f32, S(ax[0], kk / 32));
    return sum(w * cast(f32, X(kk)), {r});
  });
  Tensor Y = compute("Y", {Expr(int(n))},
                     [&](const std::vector<Var>& ax) { return cast(DataType::f16(), Yf(ax[0])); });
  Schedule s({Y});
  return lower(s, {W, S, X, Y}, "gemv_q4f16", nullptr);
}

}  // namespace mlcc::kernels
