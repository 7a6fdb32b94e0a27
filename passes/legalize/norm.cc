// Softmax and RMSNorm: a row statistic (max and sum of exponentials; sum of squares)
// computed at the row loop of the output (compute_at), the output elementwise over the
// row. CPU: parallel rows, vectorized columns. GPU: a block per row, the statistics as
// cross-thread reductions into shared memory, the output spread over the block's threads.
#include "ir/te/lower.h"
#include "passes/legalize/kernels.h"
#include "passes/legalize/schedule_util.h"

namespace mlcc::kernels {

using namespace ir;
using namespace ir::te;

namespace {

// Schedules `out` (rows x cols) with the row statistics `stats` attached at its row loop.
void schedule_row_kernel(Schedule& s, const Tensor& out, const std::vector<Tensor>& stats,
                         const Target& target) {
  Stage o = s[out];
  IterVar row = o.axis(0);
  if (target.is_gpu()) {
    auto [jo, ji] = o.split(o.axis(1), kGpuThreads);
    o.bind(row, ThreadAxis::kBlockX).bind(ji, ThreadAxis::kThreadX);
    for (const Tensor& t : stats) {
      Stage st = s[t];
      st.compute_at(o, row).set_scope(MemScope::kShared);
      schedule_gpu_row_reduction(st, st.axis(0), /*bind_block=*/false);
    }
  } else {
    auto [jo, ji] = o.split(o.axis(1), vector_lanes(target, DataType::f32()));
    o.parallel(row).vectorize(ji);
    for (const Tensor& t : stats) s[t].compute_at(o, row);
  }
}

}  // namespace

PrimFunc softmax(Expr rows, int64_t cols, const Target* target) {
  Expr w = Expr(static_cast<int>(cols));
  Tensor X = placeholder("X", {rows, w});
  IterVar k1 = reduce_axis(w, "k");
  Tensor M = compute("M", {rows}, [&](const std::vector<Var>& ax) {
    return max_reduce(X(ax[0], k1.var()), {k1});
  });
  IterVar k2 = reduce_axis(w, "k");
  Tensor S = compute("S", {rows}, [&](const std::vector<Var>& ax) {
    return sum(exp(X(ax[0], k2.var()) - M(ax[0])), {k2});
  });
  Tensor Y = compute("Y", {rows, w}, [&](const std::vector<Var>& ax) {
    return exp(X(ax[0], ax[1]) - M(ax[0])) / S(ax[0]);
  });
  Schedule s({Y});
  if (target) schedule_row_kernel(s, Y, {M, S}, *target);
  return lower(s, {X, Y}, "softmax", target);
}

PrimFunc rms_norm(Expr rows, int64_t cols, double eps, const Target* target) {
  Expr w = Expr(static_cast<int>(cols));
  const DataType f32 = DataType::f32(), f16 = DataType::f16();
  Tensor X = placeholder("X", {rows, w}, f16);
  Tensor W = placeholder("W", {w}, f16);
  IterVar k = reduce_axis(w, "k");
  Tensor SS = compute("SS", {rows}, [&](const std::vector<Var>& ax) {
    Expr x = cast(f32, X(ax[0], k.var()));
    return sum(x * x, {k});
  });
  Tensor Y = compute("Y", {rows, w}, [&](const std::vector<Var>& ax) {
    Expr scale = rsqrt(SS(ax[0]) / make_const(f32, double(cols)) + make_const(f32, eps));
    return cast(f16, cast(f32, X(ax[0], ax[1])) * scale * cast(f32, W(ax[1])));
  });
  Schedule s({Y});
  if (target) schedule_row_kernel(s, Y, {SS}, *target);
  return lower(s, {X, W, Y}, "rms_norm", target);
}

}  // namespace mlcc::kernels
