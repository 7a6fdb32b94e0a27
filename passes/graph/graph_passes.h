// The graph passes of `mlcc compile`, one file each; passes/graph/pipeline.cc
// runs them in order. Each takes the Program as the previous pass left it.
#pragma once

#include "passes/graph/program.h"

namespace mlcc::graph {

// quantize.cc: for q4 formats, every weight read by a Linear or an Embedding
// becomes the parameters NAME.q_weight (u32[N, ceil(K/32)*4]) and NAME.q_scale
// ([N, ceil(K/32)]) with MLC-LLM's names (a K that is not a multiple of 32 pads
// the last group), and a Dequantize node in its place, which fuse_ops folds into
// the consumer.
Program quantize(Program p);
// fuse_ops.cc: Dequantize into Linear and Embedding; Add followed by RMSNorm
// into AddRMSNorm; any other Add of a Linear's result into the Linear (residual
// epilogue); Slice/Silu/Mul into SiluMul; a Cast of a Linear's result into the
// Linear.
Program fuse_ops(Program p);
// dead_code.cc: drops nodes whose outputs nobody uses.
Program remove_dead_code(Program p);
// legalize.cc: every operator becomes a Call of a kernel
// (passes/legalize/llm_kernels.h) scheduled for the target; identical kernels
// are shared.
Program legalize(Program p);
// plan_memory.cc: places every intermediate in a shared arena by liveness,
// sized at the symbolic upper bounds; function results get storages of their
// own.
Program plan_memory(Program p);
// Byte offset of output `o` of a planned node within its placement (outputs are
// laid out one after another, 256-byte aligned).
int64_t output_offset(const Node& n, int o);
// lower_to_vm.cc: the VM bytecode of every function (runtime/library_format.h).
Program lower_to_vm(Program p);

}  // namespace mlcc::graph
