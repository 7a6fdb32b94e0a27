// Tensor-IR pass: turns ForKind::kVectorized loops into straight-line vector code, or into
// unrolled serial loops where vectorizing could change the result.
#pragma once

#include "ir/expr.h"

namespace mlcc::passes {

// A vectorized loop of constant extent L is replaced by its body with the loop variable
// bound to ramp(min, 1, L): scalars are broadcast where they meet vectors, affine indices
// stay Ramps, and loads, stores, arithmetic, casts, selects and math calls operate on L
// lanes. The loop becomes ForKind::kUnrolled instead (kSerial for a symbolic extent) when
// the body holds a loop, an allocation, a barrier or shuffle, an `if` whose condition
// depends on the variable, a load or store index that is not affine in it, a store whose
// index does not vary with it, or accesses to a stored buffer at differing indices (a
// dependence between iterations). Distinct buffers are assumed not to overlap.
ir::PrimFunc vectorize_loops(const ir::PrimFunc& f);
ir::Stmt vectorize_loops(const ir::Stmt& s);

}  // namespace mlcc::passes
