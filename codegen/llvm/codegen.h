// The public entry points of the LLVM code generators: CPU objects and shared libraries
// with the kernel ABI of runtime/kernel_abi.h, PTX modules for CUDA and HSA code objects
// for ROCm. They take
// scheduled PrimFuncs and apply vectorize_loops and flatten_buffers themselves (both are
// no-ops on PrimFuncs already lowered by passes/pipeline.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::codegen {

// ---- CPU (codegen_cpu.cc) ----
// One relocatable object (ELF for the target's triple) exporting, per PrimFunc,
// `int32_t NAME(void* const* buffers, const int64_t* scalars)`, plus the globals
// `mlcc_parallel_launch` (null until a loader stores a launcher; parallel loops then run
// serially) and `mlcc_module_abi_version`.
std::vector<uint8_t> compile_cpu_object(const std::vector<ir::PrimFunc>& funcs,
                                        const Target& target);
// compile_cpu_object linked into a shared library at so_path (see codegen/linker.h).
void build_cpu_shared_library(const std::vector<ir::PrimFunc>& funcs, const Target& target,
                              const std::string& so_path);

// ---- GPU kernels (codegen_gpu.cc) ----
// Kernel params on every GPU: one `ptr addrspace(1)` per buffer, then one i32 per scalar
// of at most 32 bits (floats as their bits) or one i64 per 64-bit scalar.
struct GpuKernel {
  std::string name;  // the kernel's symbol: the PrimFunc's name
  // Launch extents per axis (x, y, z) over the PrimFunc's scalar params; 1 where unbound.
  std::array<ir::Expr, 3> grid, block;
  int shared_bytes = 0;  // static shared memory the kernel declares
};

// ---- CUDA (codegen_nvptx.cc) ----
struct CudaKernel : GpuKernel {
  std::string ptx;  // the PTX module holding this kernel (shared by one compile_cuda call)
};
// Compiles every PrimFunc into one PTX module (returned in *ptx_module when non-null).
std::vector<CudaKernel> compile_cuda(const std::vector<ir::PrimFunc>& funcs, const Target& target,
                                     std::string* ptx_module = nullptr);

// ---- ROCm (codegen_amdgpu.cc) ----
struct RocmCodeObject {
  std::vector<GpuKernel> kernels;  // in the order of the PrimFuncs
  std::vector<uint8_t> hsaco;      // the HSA code object: an amdgcn ELF shared object
};
// Compiles every PrimFunc into one AMDGPU object for target.mcpu and links it with ld.lld
// into a code object that hipModuleLoadData accepts. With assembly non-null also returns
// the AMDGPU assembly of the same module (for tests and --dump-asm).
RocmCodeObject compile_rocm(const std::vector<ir::PrimFunc>& funcs, const Target& target,
                            std::string* assembly = nullptr);

// Evaluates a launch extent for concrete scalar values; throws mlcc::Error naming a
// variable without a value.
int64_t eval_launch_dim(const ir::Expr& e, const std::vector<std::pair<ir::Var, int64_t>>& values);

// ---- Every LLVM target ----
// The optimized LLVM IR that would be compiled for `target` (cpu, cuda or rocm): for
// tests and --dump-ir.
std::string emit_llvm_ir(const std::vector<ir::PrimFunc>& funcs, const Target& target);

}  // namespace mlcc::codegen
