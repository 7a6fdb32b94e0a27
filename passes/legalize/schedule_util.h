// Small helpers the kernel schedules share: vector widths, thread counts, and the
// block-per-row cross-thread reduction used by row reductions, softmax and RMSNorm.
#pragma once

#include <vector>

#include "ir/te/schedule.h"
#include "targets/target.h"

namespace mlcc::kernels {

// Threads per block for elementwise and row kernels on GPUs.
constexpr int kGpuThreads = 256;

// Lanes of dtype in one native vector register of the target (at least 1).
int vector_lanes(const Target& target, ir::DataType dtype);

// Bytes one element of `dtype` takes in the target's shared memory: f16 is held as f32 on
// a Vulkan target without f16 arithmetic (the SPIR-V generator widens it there).
int shared_element_bytes(const Target& target, ir::DataType dtype);

// sum / max_reduce / min_reduce by kind.
ir::Expr reduce_expr(ir::ReduceKind kind, ir::Expr source, std::vector<ir::te::IterVar> axes);

// Splits the stage's first reduce axis by kGpuThreads and binds the inner part to
// threadIdx.x (a cross-thread reduction, coalesced reads); binds `row` to blockIdx.x when
// bind_block is set (the stage is the kernel's root) and otherwise leaves it to compute_at.
void schedule_gpu_row_reduction(ir::te::Stage& stage, const ir::te::IterVar& row, bool bind_block);

}  // namespace mlcc::kernels
