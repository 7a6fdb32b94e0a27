// Helpers shared by the row-wise model kernels (llm_elementwise.cc, norm.cc,
// postprocess.cc): vector widths that divide a row, thread counts, and short builders for
// code that is either scalar or a vector of `lanes` consecutive elements.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "ir/expr.h"
#include "passes/legalize/kernels.h"
#include "targets/target.h"

namespace mlcc::kernels::row {

// The largest power of two <= max_lanes dividing every value (so that vector accesses of
// that many elements never straddle a row end and stay aligned to their size).
inline int lanes_dividing(std::initializer_list<int64_t> values, int max_lanes) {
  int lanes = std::max(1, max_lanes);
  while (lanes > 1) {
    bool ok = true;
    for (int64_t v : values) ok &= v % lanes == 0;
    if (ok) break;
    lanes /= 2;
  }
  return lanes;
}

// Lanes of one 16-byte access (the widest global load a GPU thread issues) of `bytes`-byte
// elements that divide every value.
inline int gpu_lanes(std::initializer_list<int64_t> values, int bytes) {
  return lanes_dividing(values, std::max(1, 16 / bytes));
}

// A power of two in [32, max_threads] covering `work` items where it can.
inline int gpu_threads(int64_t work, int max_threads) {
  int t = 32;
  while (t < work && t * 2 <= max_threads) t *= 2;
  return t;
}

// The index of `lanes` consecutive elements from `base` (the scalar itself for one lane).
inline ir::Expr span(ir::Expr base, int lanes) {
  return lanes == 1 ? base : ir::ramp(std::move(base), ir::Expr(1), lanes);
}
inline ir::Expr splat(ir::Expr v, int lanes) { return ir::broadcast(std::move(v), lanes); }

inline ir::DataType f32(int lanes = 1) { return ir::DataType::f32(lanes); }

// silu(x) = x * sigmoid(x), in x's (float) type.
inline ir::Expr silu(ir::Expr x) { return x / (ir::Expr(1.0) + ir::exp(-x)); }

}  // namespace mlcc::kernels::row
