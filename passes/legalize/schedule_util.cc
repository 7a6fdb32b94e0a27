// Shared schedule helpers for the kernels in passes/legalize.
#include "passes/legalize/schedule_util.h"

#include <algorithm>

#include "ir/te/tensor.h"

namespace mlcc::kernels {

using namespace ir;
using namespace ir::te;

int vector_lanes(const Target& target, DataType dtype) {
  return std::max(1, target.vector_bits / dtype.bits);
}

int shared_element_bytes(const Target& target, DataType dtype) {
  if (target.kind == TargetKind::kVulkan && !target.f16_arithmetic && dtype.is_float() &&
      !dtype.is_bfloat() && dtype.bits == 16)
    return 4 * dtype.lanes;
  return dtype.bytes();
}

Expr reduce_expr(ReduceKind kind, Expr source, std::vector<IterVar> axes) {
  switch (kind) {
    case ReduceKind::kSum:
      return sum(std::move(source), std::move(axes));
    case ReduceKind::kMax:
      return max_reduce(std::move(source), std::move(axes));
    case ReduceKind::kMin:
      return min_reduce(std::move(source), std::move(axes));
  }
  return Expr();
}

void schedule_gpu_row_reduction(Stage& stage, const IterVar& row, bool bind_block) {
  auto [ko, ki] = stage.split(stage.reduce_axis(0), kGpuThreads);
  stage.reorder({ki, ko});
  stage.bind(ki, ThreadAxis::kThreadX);
  if (bind_block) stage.bind(row, ThreadAxis::kBlockX);
}

}  // namespace mlcc::kernels
