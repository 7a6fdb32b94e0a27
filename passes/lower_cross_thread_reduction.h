// Tensor-IR pass: replaces thread_allreduce (the cross-thread reductions that schedules
// produce when a reduce loop is bound to a thread axis) by warp shuffles or a shared-memory
// tree, with the barriers they need.
#pragma once

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::passes {

struct CrossThreadReductionOptions {
  // False forces the shared-memory tree even where warp shuffles would do.
  bool use_warp_shuffle = true;
};

// Each `buf[...] = thread_allreduce(value, kind, thread vars...)` store (the form lowering
// emits; the call anywhere else is an error) becomes straight-line code run by every
// thread of the block. The group reduced over is the threads that differ only in the
// listed vars, whose enclosing thread loops must have constant extents.
//  - warp_size > 1, the group is one threadIdx.x loop of power-of-two extent G, and G
//    divides the warp or the warp divides G: a butterfly of warp_shuffle_xor within each
//    warp, and for G > warp_size one shared slot per warp, a barrier, and a second
//    butterfly over the warps' partials;
//  - otherwise (warp_size == 1, or asked): a tree over one shared slot per thread,
//    halving the active threads at each step, with a barrier after each.
// Every thread receives the result. Shared buffers are allocated just outside the
// outermost thread loop, as the verifier requires.
ir::PrimFunc lower_cross_thread_reduction(const ir::PrimFunc& f, const Target& target,
                                          const CrossThreadReductionOptions& options = {});

}  // namespace mlcc::passes
