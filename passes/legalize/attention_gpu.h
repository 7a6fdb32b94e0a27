// Internal to the attention kernels (attention.cc, attention_gpu.cc): the buffers of the
// attention PrimFunc and the GPU kernel, split out of attention.cc to keep files short.
#pragma once

#include <vector>

#include "passes/legalize/llm_kernels.h"

namespace mlcc::kernels {

// Q[rows, heads * D], Cache[num_pages, 2, kv_heads, page_size, D], PageTable i32[max_pages],
// O[rows, heads * D], in parameter order.
struct AttentionBuffers {
  ir::Buffer q, cache, page_table, out;
};
AttentionBuffers attention_buffers(const ir::Expr& rows, int64_t heads, const PagedCache& c,
                                   ir::DataType dtype);

// What one attention launch moves: Q, O, the page table, and the keys and values of
// total_len positions.
ir::Expr attention_bytes(const AttentionBuffers& b, const PagedCache& c, ir::DataType dtype,
                         const ir::Expr& total_len);

// total_len as an extra scalar parameter when it is a Var of its own.
std::vector<ir::Var> attention_extra_scalars(const ir::Expr& total_len);

// The GPU schedule of attention() (arguments already checked).
ir::PrimFunc attention_gpu(const ir::Expr& rows, const ir::Expr& total_len, int64_t heads,
                           const PagedCache& cache, ir::DataType dtype, const Target& target);

}  // namespace mlcc::kernels
