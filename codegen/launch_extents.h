// The launch shape of a GPU PrimFunc, shared by the code generators (NVPTX, SPIR-V): the
// grid and block extents its thread-bound loops ask for, the largest per axis, as
// expressions over the kernel's scalar parameters. Header-only so that code generators
// without LLVM (codegen/spirv) use it too.
#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <unordered_set>

#include "ir/expr.h"
#include "ir/functor.h"
#include "runtime/error.h"

namespace mlcc::codegen {

// x, y, z of a block or thread axis.
inline int launch_axis_index(ir::ThreadAxis a) {
  switch (a) {
    case ir::ThreadAxis::kBlockX:
    case ir::ThreadAxis::kThreadX:
      return 0;
    case ir::ThreadAxis::kBlockY:
    case ir::ThreadAxis::kThreadY:
      return 1;
    default:
      return 2;
  }
}

inline bool same_launch_extent(const ir::Expr& a, const ir::Expr& b) {
  int64_t x, y;
  return a.same_as(b) || (ir::is_const_int(a, &x) && ir::is_const_int(b, &y) && x == y);
}

struct LaunchExtents {
  std::array<ir::Expr, 3> grid, block;  // undefined where no loop binds the axis
};

// Throws mlcc::Error "code generation (WHO): ..." when an extent uses a variable that is
// not a scalar parameter (the runtime could not evaluate it).
inline LaunchExtents collect_launch_extents(const ir::PrimFunc& f, const std::string& who) {
  using namespace ir;
  LaunchExtents out;
  std::unordered_set<const VarNode*> params;
  for (const Var& v : f.scalars) params.insert(v.get());
  pre_order_visit(f.body, [&](const Node* n) {
    if (n->kind != NodeKind::kFor) return;
    const auto* loop = static_cast<const ForNode*>(n);
    if (loop->for_kind != ForKind::kThreadBinding) return;
    pre_order_visit(evaluate(loop->extent), [&](const Node* m) {
      if (m->kind == NodeKind::kVar && !params.count(static_cast<const VarNode*>(m)))
        throw Error("code generation (" + who + "): the extent of the " +
                    std::string(thread_axis_name(loop->thread_axis)) + " loop of kernel '" +
                    f.name + "' uses '" + static_cast<const VarNode*>(m)->name +
                    "', which is not a scalar parameter");
    });
    Expr& slot =
        (is_block_axis(loop->thread_axis) ? out.grid
                                          : out.block)[launch_axis_index(loop->thread_axis)];
    int64_t x, y;
    if (!slot.defined())
      slot = loop->extent;
    else if (same_launch_extent(slot, loop->extent))
      return;
    else if (is_const_int(slot, &x) && is_const_int(loop->extent, &y))
      slot = make_const(slot.dtype(), std::max(x, y));
    else
      slot = max(slot, cast(slot.dtype(), loop->extent));
  });
  return out;
}

}  // namespace mlcc::codegen
