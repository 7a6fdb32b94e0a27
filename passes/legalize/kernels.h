// The kernels the compiler's legalization turns operators into, each a function that
// returns a PrimFunc scheduled for the given target (a CPU schedule or a GPU schedule).
// Shapes are given as expressions: constants, or symbolic Vars that become scalar params.
#pragma once

#include <cstdint>

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::kernels {

// The q4f16_1 GEMV's parameters in order: W u32[n, k/8], S f16[n, k/32], X f16[k], Y f16[n].
struct Q4GemvBuffers {
  ir::Buffer weight, scale, x, y;
};
Q4GemvBuffers q4_gemv_buffers(const ir::PrimFunc& f);

// y = dequant(W) x with q4f16_1 weights (DESIGN.md §6). k must be a multiple of 32.
// rows_per_block (GPU only; 0 = default 8): rows one block of 32 x rows threads computes.
ir::PrimFunc gemv_q4f16(int64_t n, int64_t k, const Target& target, int rows_per_block = 0);

}  // namespace mlcc::kernels

namespace mlcc::kernels {

// Kernels defined as compute definitions (ir/te). With target == nullptr each returns the
// unscheduled default lowering: the reference the tests run through the interpreter.
// Row counts may be symbolic (a Var, e.g. the number of tokens); widths are constants.

// C[i, j] = A[i, j] + B[j] (f32): elementwise with broadcast.
ir::PrimFunc add_broadcast(ir::Expr rows, int64_t cols, const Target* target);
// R[i] = sum_j A[i, j] or max_j A[i, j] (f32).
ir::PrimFunc row_reduce(ir::ReduceKind kind, ir::Expr rows, int64_t cols, const Target* target);
// Y[i, j] = exp(X[i, j] - max_k X[i, k]) / sum_k exp(X[i, k] - max X[i, :]) (f32).
ir::PrimFunc softmax(ir::Expr rows, int64_t cols, const Target* target);
// Y[i, j] = X[i, j] * rsqrt(mean_k X[i, k]^2 + eps) * W[j], f16 storage, f32 math.
ir::PrimFunc rms_norm(ir::Expr rows, int64_t cols, double eps, const Target* target);
// C[i, j] = sum_k A[i, k] * B[j, k] (f32): a linear layer's product, tiled through shared
// memory on the GPU.
ir::PrimFunc matmul(int64_t n, int64_t m, int64_t k, const Target* target);
// The q4f16_1 GEMV as a plain compute definition (dequantize inline, f32 accumulation):
// the reference for gemv_q4f16.
ir::PrimFunc gemv_q4f16_reference(int64_t n, int64_t k);

}  // namespace mlcc::kernels
