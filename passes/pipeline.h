// The tensor-IR pass pipeline: the one place that lists, in order, the passes every
// PrimFunc goes through between scheduling and code generation.
#pragma once

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::passes {

// simplify -> lower cross-thread reductions -> block barriers -> vectorize/unroll -> flatten
// -> simplify
// -> verify. The result is what the code generators take.
ir::PrimFunc lower_for_codegen(const ir::PrimFunc& f, const Target& target);

}  // namespace mlcc::passes
