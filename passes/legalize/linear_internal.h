// Shared between the linear-layer kernels (linear.cc, linear_cpu_gemm.cc, linear_gpu.cc,
// linear_mma.cc, gemv_q4.cc) and nothing else: the buffers of a LinearSpec and the GPU builders
// linear() dispatches to.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "passes/legalize/llm_kernels.h"
#include "targets/target.h"

namespace mlcc::kernels::detail {

// q4 groups and u32 words per row of W for k in-features: a k that is not a multiple of 32
// has a last group padded with zeros (models/q4_quantize.h).
inline int64_t q4_groups(int64_t k) { return (k + 31) / 32; }
inline int64_t q4_words(int64_t k) { return q4_groups(k) * 4; }

// The parameters of linear() (llm_kernels.h): X[rows, k]; W[n, k] (q0) or
// QW u32[n, q4_words(k)] and QS[n, q4_groups(k)] (q4, `s` set); R[rows, n] when residual
// (`r` set); Y[rows, n].
struct LinearBuffers {
  ir::Buffer x, w, s, r, y;
  std::vector<ir::Buffer> params() const;
};
LinearBuffers linear_buffers(const LinearSpec& spec);

// The epilogue every schedule applies to an f32 dot product: + R in f32, then one rounding
// to the output dtype.
ir::Expr linear_output(const LinearBuffers& b, ir::DataType out, ir::Expr acc,
                       std::vector<ir::Expr> index);

// The CPU's integer products quantize f16 x to i16 per group of 32 with the scale
// amax / 32767. quantize_group_i16 finds the group's amax (into amax(0)) over x_at(0 .. 31),
// hands store_scale the scale and store_values the inverse scale (0 for a group of zeros),
// with which quantize_i16 gives one element's value.
ir::Expr quantize_i16(ir::Expr x, ir::Expr inverse);
ir::Stmt quantize_group_i16(const ir::Buffer& amax, const std::function<ir::Expr(ir::Expr)>& x_at,
                            const std::function<ir::Stmt(ir::Expr)>& store_scale,
                            const std::function<ir::Stmt(ir::Expr)>& store_values);

// linear_cpu_gemm.cc: prefill with q4f16_1 weights on the CPU's integer dot products (k a
// multiple of 32).
ir::PrimFunc linear_gemm_q4_i16_cpu(const LinearSpec& spec, const LinearBuffers& b,
                                    const Target& target);

// The q4 GEMV of gemv_q4.cc over any of its buffer layouts: x is X[k] or X[1, k], y is
// Y[n] or Y[1, n]; r optional; act is f16 (q4f16_1: packed f16x2 math) or f32 (q4f32_1).
// A k that is not a multiple of 32 needs x staged in shared memory (small k only).
struct Q4GemvGpu {
  std::string name;
  ir::Buffer x, w, s, r, y;
  ir::DataType act, out;
  int rows_per_block = 8;
  std::vector<ir::Buffer> params;  // in parameter order
};
ir::PrimFunc gemv_q4_gpu(const Q4GemvGpu& g, int64_t n, int64_t k, const Target& target);

// linear_gpu.cc: the q0 GEMV (rows == 1) and the tiled product (any rows).
ir::PrimFunc linear_gemv_q0_gpu(const LinearSpec& spec, const LinearBuffers& b,
                                const Target& target);
ir::PrimFunc linear_tiled_gpu(const LinearSpec& spec, const LinearBuffers& b, const Target& target);

// linear_mma.cc: the tensor-core product for prefill, where linear_mma_applies (CUDA sm_80+,
// f16 activations, symbolic rows, k a multiple of 8; MLCC_LINEAR_MMA=0 turns it off).
bool linear_mma_applies(const LinearSpec& spec, const Target& target);
ir::PrimFunc linear_mma_gpu(const LinearSpec& spec, const LinearBuffers& b, const Target& target);

}  // namespace mlcc::kernels::detail
