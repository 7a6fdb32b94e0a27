// Barriers between sibling thread regions of a GPU block. Lowering can emit, inside one
// block, several loops bound to threadIdx one after another (a row statistic written to
// shared memory by one region, read by the next). The interpreter runs sibling regions one
// after the other, which orders them; on hardware every thread runs straight on, so this
// pass puts a block-wide barrier between consecutive thread regions.
#pragma once

#include "ir/expr.h"

namespace mlcc::passes {

ir::PrimFunc insert_block_barriers(const ir::PrimFunc& f);

}  // namespace mlcc::passes
