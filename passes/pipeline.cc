// The tensor-IR pass pipeline. Each pass lives in its own file; this one only orders them.
// The verifier runs after every pass in debug builds and once at the end in release ones.
#include "passes/pipeline.h"

#include <functional>
#include <vector>

#include "ir/verifier.h"
#include "passes/flatten_buffer.h"
#include "passes/insert_block_barriers.h"
#include "passes/lower_cross_thread_reduction.h"
#include "passes/simplify.h"
#include "passes/vectorize_loop.h"

namespace mlcc::passes {

ir::PrimFunc lower_for_codegen(const ir::PrimFunc& f, const Target& target) {
  using Pass = std::function<ir::PrimFunc(const ir::PrimFunc&)>;
  const std::vector<Pass> pipeline = {
      [](const ir::PrimFunc& g) { return simplify(g); },
      [&](const ir::PrimFunc& g) { return lower_cross_thread_reduction(g, target); },
      [](const ir::PrimFunc& g) { return insert_block_barriers(g); },
      [](const ir::PrimFunc& g) { return vectorize_loops(g); },
      [](const ir::PrimFunc& g) { return flatten_buffers(g); },
      [](const ir::PrimFunc& g) { return simplify(g); },
  };
  ir::PrimFunc out = f;
  for (const Pass& pass : pipeline) {
    out = pass(out);
#ifndef NDEBUG
    ir::verify(out);
#endif
  }
  ir::verify(out);
  return out;
}

}  // namespace mlcc::passes
