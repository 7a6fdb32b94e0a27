// Tensor-IR pass: rewrites every buffer to one dimension so that code generators see only
// flat element offsets. Runs after vectorize_loops (see passes/pipeline.h).
#pragma once

#include "ir/expr.h"

namespace mlcc::passes {

// Every multi-dimensional buffer (parameters and allocations) becomes a 1-D buffer of the
// same name, dtype, scope and alignment, and every access uses the element offset given
// by Buffer::linear_index (strides honoured). A dense buffer is sized by the product of
// its shape, a strided one by its span 1 + sum((shape_i - 1) * stride_i). When the last
// index is a Ramp and every other index is a scalar, the flat index stays a Ramp (so
// contiguous vector accesses remain recognisable). 1-D dense buffers are kept as they are.
ir::PrimFunc flatten_buffers(const ir::PrimFunc& f);

}  // namespace mlcc::passes
