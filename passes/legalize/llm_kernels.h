// The kernels that graph legalization (passes/graph/legalize.cc) turns the
// model's operators into. Each returns a PrimFunc scheduled for `target` (a CPU
// schedule or a GPU schedule); with target == nullptr it returns the plain,
// unscheduled definition that the tests run through the interpreter as the
// reference. Buffer parameters are listed in order; `rows` and `total_len` may
// be symbolic Vars (they become scalar parameters), widths are constants.
// `dtype` is the activation dtype: f16 (q4f16_1, q0f16) or f32 (q4f32_1,
// q0f32). Arithmetic is f32 wherever a value is accumulated, whatever the
// storage dtype.
#pragma once

#include <cstdint>
#include <string>

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::kernels {

// "q4f16_1", "q4f32_1", "q0f16" or "q0f32" (DESIGN.md §6). q4: weights u32[n,
// k/8] and scales [n, k/32] in the activation dtype; q0: weights [n, k] in the
// activation dtype.
struct Quantization {
  std::string name = "q0f32";
  bool quantized() const { return name[1] == '4'; }
  ir::DataType act_dtype() const;                      // f16 or f32
  static Quantization parse(const std::string& name);  // throws naming the accepted values
};

// ---- linear family (linear.cc) ----
struct LinearSpec {
  ir::Expr rows;  // S: the constant 1 for decode (a GEMV), else usually symbolic
  int64_t n = 0,
          k = 0;  // out and in features (k a multiple of 32 when quantized)
  Quantization quant;
  ir::DataType out_dtype;  // the activation dtype, or f32 for logits
  bool residual = false;   // Y = X W^T + R
};
// Buffers: X[rows, k], then W[n, k] (q0) or QW u32[n, k/8], QS[n, k/32] (q4),
// then R[rows, n] when residual, then Y[rows, n]. rows == 1 gets the GEMV
// schedule (on the GPU the swizzled-x design of gemv_q4.cc), other rows a
// matrix-product schedule.
ir::PrimFunc linear(const LinearSpec& s, const Target* target);

// ---- embeddings, norms and elementwise (llm_elementwise.cc) ----
// Buffers: Ids i32[rows], then T[vocab, hidden] (q0) or QW u32[vocab,
// hidden/8], QS[vocab, hidden/32] (q4), then Y[rows, hidden]. Ids out of range
// read row 0.
ir::PrimFunc embedding(ir::Expr rows, int64_t vocab, int64_t hidden, const Quantization& q,
                       const Target* target);
// X[rows, cols], W[cols] -> Y[rows, cols].
ir::PrimFunc rms_norm(ir::Expr rows, int64_t cols, double eps, ir::DataType dtype,
                      const Target* target);
// X, R [rows, cols], W[cols] -> Sum = X + R, Y = rms_norm(Sum) (Sum written in
// dtype and Y computed from the rounded Sum).
ir::PrimFunc add_rms_norm(ir::Expr rows, int64_t cols, double eps, ir::DataType dtype,
                          const Target* target);
enum class Elementwise { kAdd, kMul, kSilu };
// A, B (binary) [rows, cols] -> C; silu takes A only.
ir::PrimFunc elementwise(Elementwise op, ir::Expr rows, int64_t cols, ir::DataType dtype,
                         const Target* target);
// GU[rows, 2f] -> Y[rows, f] = silu(GU[:, :f]) * GU[:, f:].
ir::PrimFunc silu_mul(ir::Expr rows, int64_t f, ir::DataType dtype, const Target* target);
// X[rows, in_cols] -> Y[rows, end - begin] = X[:, begin:end].
ir::PrimFunc slice_cols(ir::Expr rows, int64_t in_cols, int64_t begin, int64_t end,
                        ir::DataType dtype, const Target* target);
// X[rows, cols] -> Y[1, cols] = the last row.
ir::PrimFunc take_last(ir::Expr rows, int64_t cols, ir::DataType dtype, const Target* target);
// X[rows, cols] (from) -> Y[rows, cols] (to).
ir::PrimFunc cast(ir::Expr rows, int64_t cols, ir::DataType from, ir::DataType to,
                  const Target* target);
// L f32[1, vocab], T f32[1] -> P f32[1, vocab] = softmax(L / T).
ir::PrimFunc softmax_temperature(int64_t vocab, const Target* target);
// L f32[1, vocab] -> I i32[1]: the first index of the largest value.
ir::PrimFunc argmax(int64_t vocab, const Target* target);

// ---- attention family (attention.cc) ----
// Rotary embedding, Hugging Face's rotate_half convention: within a head,
// element i < D/2 pairs with i + D/2 and rotates by pos * inv_freq[i],
// inv_freq[i] = theta^(-2i/D), adjusted by llama3 rope scaling when scaling ==
// "llama3".
struct RopeSpec {
  int64_t head_dim = 128;
  double theta = 10000.0;
  std::string scaling;  // "" or "llama3"
  double factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position = 8192;
};
// The paged KV cache of one layer: Cache[num_pages, 2, kv_heads, page_size,
// head_dim] (index 0 keys, 1 values) and the sequence's PageTable
// i32[max_pages]: position p lives in page PageTable[p / page_size], slot p %
// page_size. Positions of the chunk's rows are total_len - rows + i.
struct PagedCache {
  ir::Expr num_pages;
  int64_t max_pages = 0, kv_heads = 0, head_dim = 0, page_size = 16;
};
// Bytes of the keys and values of `tokens` positions of the cache (for PrimFunc::bytes).
ir::Expr paged_cache_bytes(const PagedCache& c, ir::DataType dtype, const ir::Expr& tokens);
// X[rows, in_cols] -> Y[rows, heads * D]: columns [offset, offset + heads * D)
// rotated.
ir::PrimFunc rope(ir::Expr rows, ir::Expr total_len, int64_t in_cols, int64_t offset, int64_t heads,
                  const RopeSpec& rope, ir::DataType dtype, const Target* target);
// QKV[rows, in_cols], Cache, PageTable: writes keys from columns [k_offset,
// ...) rotated and values from [v_offset, ...) at the chunk's positions. Cache
// is both read and written.
ir::PrimFunc kv_append(ir::Expr rows, ir::Expr total_len, int64_t in_cols, int64_t k_offset,
                       int64_t v_offset, const RopeSpec& rope, const PagedCache& cache,
                       ir::DataType dtype, const Target* target);
// Q[rows, heads * D], Cache, PageTable -> O[rows, heads * D]: causal attention
// of each row over positions 0 .. its own, scale 1/sqrt(D), query head h
// reading kv head h / (heads / kv_heads). Softmax in f32.
ir::PrimFunc attention(ir::Expr rows, ir::Expr total_len, int64_t heads, const PagedCache& cache,
                       ir::DataType dtype, const Target* target);

}  // namespace mlcc::kernels
