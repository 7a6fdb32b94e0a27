// The compiled-library format: what `mlcc compile` writes (codegen/library_writer) and the
// runtime loads (runtime/library). One shared object per (model config, quantization,
// target). Both sides include this file; DESIGN.md §6 is the summary.
//
// Exported symbols (extern "C"):
//   const char     mlcc_library_manifest[]   NUL-terminated JSON, below
//   const uint8_t  mlcc_library_ptx[]        CUDA targets: the PTX module (NUL-terminated)
//   const uint8_t  mlcc_library_hsaco[]      ROCm targets: the HSA code object, an ELF64
//                                            shared object for amdgcn-amd-amdhsa (e_machine
//                                            EM_AMDGPU) holding every kernel, for the
//                                            manifest's "rocm"."gfx"
//   const uint64_t mlcc_library_hsaco_size   ROCm targets: its size in bytes
//       A ROCm kernel's arguments are one packed kernarg buffer, in order: each buffer
//       parameter a 64-bit pointer at 8-byte alignment, then each scalar at its
//       "scalar_bits" width and natural alignment (4 or 8 bytes); its size is rounded up
//       to 8. "grid" counts blocks, "block" threads per block, as for CUDA.
//   int32_t        mlcc_module_abi_version   as every CPU kernel module (runtime/kernel_abi.h)
//   MlccParallelLaunch mlcc_parallel_launch  ditto
//   int32_t KERNEL(void* const*, const int64_t*)   CPU targets: one per manifest kernel
//   const uint32_t mlcc_library_spirv[]      Vulkan targets: the SPIR-V modules, as u32 words
//       [kernel_count, then per kernel (manifest "kernels" order): word_count, the module's
//       word_count words]. Each module has the GLCompute entry point "main"; buffer
//       parameter i is the storage buffer at set 0, binding i; the scalars are 32-bit ints
//       in one push-constant block at offsets 0, 4, 8...; the workgroup size is in the
//       module and "grid" gives the vkCmdDispatch counts (no "block"). The runtime refuses
//       a module declaring an OpCapability the device lacks (say Float16: -f16=0 avoids it).
//
// Manifest JSON:
// {
//   "format_version": 1, "mlcc_version": "0.1.0",
//   "target": "cuda -arch=sm_90", "target_kind": "cpu" | "cuda" | "rocm" | "vulkan",
//   "model": { the normalized model config (models/llama_config.h to_json) },
//   "quantization": "q4f16_1", "context_window": 4096, "prefill_chunk_size": 2048,
//   "kv_cache": {"num_layers": L, "num_kv_heads": H, "head_dim": D, "page_size": 16,
//                "num_pages": P, "dtype": "f16"},   // per layer: (P, 2, H, 16, D)
//   "vulkan": {"subgroup_size": N},  // vulkan only (required there): the target's
//                                    // -subgroup; devices with smaller subgroups refuse it
//   "rocm": {"gfx": "gfx1100", "wavefront_size": 32},  // rocm only (required there): the
//                                    // code object's architecture ("rocm -mcpu=gfx1100"),
//                                    // and its wavefront size (32 or 64); a device of
//                                    // another gfx refuses the library
//   "params": [{"name": "model.embed_tokens.q_weight", "dtype": "u32", "shape": [32000, 512]}],
//   "kernels": [{"name": "...", "num_buffers": 4, "num_scalars": 1,
//                "grid": [E, E, E], "block": [E, E, E],  // grid: CUDA, ROCm and Vulkan;
//                                                      // block: CUDA and ROCm
//                "scalar_bits": [32, 64, ...],         // optional (CUDA, ROCm): widths
//                "shared_bytes": S}],                  // optional: workgroup/shared memory
//   "storages": [bytes, ...],        // activation arenas, sized at the symbolic upper bounds
//   "memory_plan": {"param_bytes": N, "activation_bytes": N, "kv_cache_bytes": N},
//   "functions": {
//     "prefill": {
//       "inputs":  [{"name": "tokens", "dtype": "i32", "shape": ["seq_len"]},
//                   {"name": "page_table", "dtype": "i32", "shape": [256]}],
//       "scalars": ["seq_len", "total_seq_len"],       // supplied by the caller, in order
//       "outputs": [{"name": "logits", "dtype": "f32", "shape": [1, 32000]}],
//       "num_registers": R, "code": [int64, ...]       // VM bytecode, below
//     }, "decode": ..., "embed": ..., "softmax_with_temperature": ..., "argmax": ...
//   }
// }
// Shapes in "inputs"/"outputs" hold numbers or symbol names. E (a launch
// extent) is a postfix expression over the kernel's scalar arguments: a JSON
// array of numbers (push the constant), "$i" (push scalar argument i) and the
// operators "+", "-", "*", "/" (floor division), "%" (floor modulo), "min",
// "max" (each pops two, pushes one).
//
// VM bytecode: a flat array of int64 words; registers hold a tensor (device
// pointer) or an int64 scalar. Instructions (opcode, operands...):
#pragma once

#include <cstdint>

namespace mlcc::vm {

enum Opcode : int64_t {
  kArg = 1,      // dst, i          dst = the function's input tensor i
  kScalar = 2,   // dst, i          dst = the function's scalar i
  kParam = 3,    // dst, i          dst = parameter i (manifest "params" order)
  kKVCache = 4,  // dst, layer      dst = the layer's KV cache pool
  kView = 5,     // dst, s, offset  dst = storage s + offset bytes (planned
                 // intermediate)
  kConst = 6,    // dst, value      dst = the int64 value
  kBinary = 7,   // dst, op, a, b   dst = a op b on scalar registers; op is a BinaryOp
  kCall = 8,     // kernel, nb, buffer regs x nb, ns, scalar regs x ns
  kResult = 9,   // n, regs x n     the function's outputs are these tensor registers
};

enum BinaryOp : int64_t {
  kAdd = 0,
  kSub = 1,
  kMul = 2,
  kFloorDiv = 3,
  kFloorMod = 4,
  kMin = 5,
  kMax = 6
};

}  // namespace mlcc::vm
