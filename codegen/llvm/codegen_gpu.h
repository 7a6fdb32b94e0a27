// The kernel-building half shared by the LLVM GPU backends (codegen_nvptx.cc,
// codegen_amdgpu.cc): each PrimFunc becomes one kernel taking its buffers as global
// pointers and its scalars as 32- or 64-bit integers, thread-bound loops read the
// target's block and thread ids (guarded where a loop covers fewer indices than the launch
// has), and shared allocations become statically sized workgroup-memory globals. A
// backend supplies the calling convention, the id registers, kernel attributes and its
// barriers, shuffles and math.
#pragma once

#include "codegen/llvm/codegen.h"
#include "codegen/llvm/codegen_llvm.h"

namespace mlcc::codegen {

class CodeGenGPU : public CodeGenLLVM {
 public:
  // `backend` names the target in error messages ("cuda", "rocm").
  CodeGenGPU(const Target& target, llvm::Module& module, const char* backend)
      : CodeGenLLVM(target, module), backend_(backend) {}

  // Adds the kernel for f (vectorized and flattened) and returns its launch shape.
  GpuKernel add_function(const ir::PrimFunc& f);

 protected:
  static constexpr unsigned kGlobalAS = 1;
  static constexpr unsigned kSharedAS = 3;

  virtual llvm::CallingConv::ID kernel_calling_conv() const = 0;
  // Marks fn as a kernel and states what the backend wants to know about its launch.
  virtual void annotate_kernel(llvm::Function* fn, const GpuKernel& launch) = 0;
  // The block (workgroup) or thread (workitem) index along axis 0-2, as an i32.
  virtual llvm::Value* thread_index(bool block, int axis) = 0;

  // The hardware's approximate f32 instructions that exp, log, rsqrt and pow are built
  // from (no device math library is linked), applied to one f32 scalar.
  enum class HardwareMath { kExp2, kLog2, kRsqrt };
  virtual llvm::Value* hardware_math(HardwareMath op, llvm::Value* x) = 0;
  // Why f64 math is refused, for the error message ("no libdevice").
  virtual const char* math_note() const = 0;

  void emit_for(const ir::ForNode* op) override;
  void emit_allocate(const ir::AllocateNode* op) override;
  llvm::Value* emit_exp(llvm::Value* x) override;
  llvm::Value* emit_log(llvm::Value* x) override;
  llvm::Value* emit_rsqrt(llvm::Value* x) override;
  // x^y = 2^(y log2 x), for x > 0 (NaN for negative x, as the approximate instructions).
  llvm::Value* emit_pow(llvm::Value* x, llvm::Value* y) override;

  // A cross-lane move of `value` (of type t, scalar or vector) built from a 32-bit one:
  // shfl32 gets an f32 or i32 register; 64-bit types move in two halves and narrower types
  // in the low bits of an i32.
  llvm::Value* shuffle_by_words(llvm::Value* value, ir::DataType t,
                                const std::function<llvm::Value*(llvm::Value*)>& shfl32);
  const char* backend_;

 private:
  llvm::Value* scalar_from_param(llvm::Value* raw, ir::DataType t);
  // hardware_math on every lane of an f32 value; throws naming `what` for other types.
  llvm::Value* lanewise_math(HardwareMath op, llvm::Value* x, const char* what);

  std::array<ir::Expr, 3> grid_, block_;
  int shared_bytes_ = 0;
};

}  // namespace mlcc::codegen
