// Elementwise-with-broadcast and row-reduction kernels: compute definitions plus a CPU
// schedule (parallel rows, vectorized columns, rfactor for vector partial sums) and a GPU
// schedule (a flat grid of threads; a block per row with a cross-thread reduction).
#include "ir/te/lower.h"
#include "passes/legalize/kernels.h"
#include "passes/legalize/schedule_util.h"

namespace mlcc::kernels {

using namespace ir;
using namespace ir::te;

PrimFunc add_broadcast(Expr rows, int64_t cols, const Target* target) {
  Tensor A = placeholder("A", {rows, Expr(int(cols))});
  Tensor B = placeholder("B", {Expr(int(cols))});
  Tensor C = compute("C", {rows, Expr(int(cols))},
                     [&](const std::vector<Var>& ax) { return A(ax[0], ax[1]) + B(ax[1]); });
  Schedule s({C});
  if (target) {
    Stage c = s[C];
    if (target->is_gpu()) {
      IterVar fused = c.fuse(c.axis(0), c.axis(1));
      auto [bx, tx] = c.split(fused, kGpuThreads);
      c.bind(bx, ThreadAxis::kBlockX).bind(tx, ThreadAxis::kThreadX);
    } else {
      auto [jo, ji] = c.split(c.axis(1), vector_lanes(*target, DataType::f32()));
      c.parallel(c.axis(0)).vectorize(ji);
    }
  }
  return lower(s, {A, B, C}, "add_broadcast", target);
}

PrimFunc row_reduce(ReduceKind kind, Expr rows, int64_t cols, const Target* target) {
  Tensor A = placeholder("A", {rows, Expr(int(cols))});
  IterVar k = reduce_axis(Expr(int(cols)), "k");
  Tensor R = compute("R", {rows}, [&](const std::vector<Var>& ax) {
    return reduce_expr(kind, A(ax[0], k.var()), {k});
  });
  Schedule s({R});
  if (target) {
    Stage r = s[R];
    if (target->is_gpu()) {
      schedule_gpu_row_reduction(r, r.axis(0), /*bind_block=*/true);
    } else {
      // Partial results per vector lane (rfactor), then one short reduction over lanes.
      auto [ko, ki] = r.split(r.reduce_axis(0), vector_lanes(*target, DataType::f32()));
      Tensor RF = s.rfactor(R, ki);
      Stage rf = s[RF];
      rf.compute_at(r, r.axis(0));
      IterVar lane = rf.axis(0);
      rf.reorder({rf.reduce_axis(0), lane}).vectorize(lane);
      r.parallel(r.axis(0));
    }
  }
  return lower(s, {A, R}, kind == ReduceKind::kSum ? "row_sum" : "row_max", target);
}

}  // namespace mlcc::kernels
