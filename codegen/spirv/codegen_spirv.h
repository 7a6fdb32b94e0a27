// SPIR-V code generation for Vulkan: a PrimFunc that went through passes/pipeline.cc for a
// `vulkan` target becomes one GLCompute shader module.
//
// The kernel ABI (what the runtime device must follow):
//  - Buffers: buffer parameter i is a storage buffer at descriptor set 0, binding i,
//    laid out as a runtime array of its element type (ArrayStride = element bytes). With
//    -storage16=0 an f16/u16/i16 buffer is declared as u32 words holding two elements
//    each, element i in bits [16*(i%2), +16) of word i/2: the same bytes, so the runtime
//    binds it unchanged (rounding an odd-length buffer up to 4 bytes). Its stores are two
//    atomics (and, or) per element.
//  - Scalars: all scalar parameters, in parameter order, are 32-bit integers in one
//    push-constant block, scalar j at byte offset 4*j (i64 parameters are truncated to 32
//    bits, f32 ones travel as their bits). The runtime pushes them in that order;
//    SpirvKernel::push_constant_bytes is the block's size (0 when there are none).
//  - Workgroup size: the module's LocalSize is the extents of the threadIdx.x/y/z loops
//    (constants; the largest where several loops bind one axis). SpirvKernel::block.
//  - Dispatch: the number of workgroups along x/y/z is SpirvKernel::grid, expressions over
//    the scalar parameters (as CUDA's launch dims; codegen::eval_launch_dim evaluates them).
//  - Entry point: "main" (kSpirvEntryPoint), GLCompute, one module per kernel; the
//    function carries the PrimFunc's name (OpName). Workgroup memory is declared inside
//    the module (SpirvKernel::shared_bytes); nothing else is bound.
//  - Subgroups: warp shuffles become subgroup shuffles and assume subgroups made of
//    consecutive local invocation indices of the target's -subgroup size, as the IR's
//    warps are; the runtime must make sure of that size (VK_EXT_subgroup_size_control
//    where the device's size varies).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::codegen {

inline constexpr const char* kSpirvEntryPoint = "main";

struct SpirvKernel {
  std::string name;                   // the PrimFunc's name (the entry point is "main")
  std::vector<uint32_t> words;        // the SPIR-V module
  std::array<ir::Expr, 3> grid;       // workgroups to dispatch along x, y, z
  std::array<int, 3> block{1, 1, 1};  // LocalSize
  int num_buffers = 0;                // bindings 0 .. num_buffers-1 of set 0
  int push_constant_bytes = 0;        // 4 per scalar parameter
  int shared_bytes = 0;               // workgroup memory the module declares
};

// Lowers one PrimFunc (after passes::lower_for_codegen for `target`) to a Vulkan compute
// module. Throws mlcc::Error naming the kernel and the node it cannot lower.
SpirvKernel build_spirv_kernel(const ir::PrimFunc& f, const Target& target);

// The module's words only.
std::vector<uint32_t> codegen_spirv(const ir::PrimFunc& f, const Target& target);

}  // namespace mlcc::codegen
