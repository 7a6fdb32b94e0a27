// The lowering of tensor IR (flattened, vectorized PrimFuncs) to LLVM IR shared by every
// LLVM backend. Target backends (codegen_cpu.cc; the GPUs through codegen_gpu.h) derive
// from CodeGenLLVM, build the function signature, bind the parameters, and override the hooks
// for loops, allocations, calls and transcendental math that differ per target.
#pragma once

#include <llvm/IR/IRBuilder.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::codegen {

class CodeGenLLVM {
 public:
  CodeGenLLVM(const Target& target, llvm::Module& module);
  virtual ~CodeGenLLVM() = default;

 protected:
  struct BufferInfo {
    llvm::Value* ptr;
    int alignment;  // bytes the base pointer is known to be aligned to
  };

  // ---- Values and types ----
  // Register type: bool is i1, bf16 is i16 (its bits; math on it goes through f32).
  llvm::Type* llvm_type(ir::DataType t) const;
  // Memory type of one element: as llvm_type, but bool is stored as i8.
  llvm::Type* memory_type(ir::DataType t) const;
  llvm::Value* emit_expr(const ir::Expr& e);
  void emit_stmt(const ir::Stmt& s);
  llvm::Value* emit_cast(ir::DataType from, ir::DataType to, llvm::Value* v);
  llvm::Value* bf16_to_f32(llvm::Value* v);
  llvm::Value* f32_to_bf16(llvm::Value* v);
  llvm::Value* splat(llvm::Value* v, int lanes);
  llvm::Value* to_i64(llvm::Value* v, bool is_signed);
  // Applies f to every lane of a vector value (or to the scalar itself).
  llvm::Value* map_lanes(llvm::Value* v, const std::function<llvm::Value*(llvm::Value*)>& f);
  llvm::Value* call_intrinsic(llvm::Intrinsic::ID id, llvm::ArrayRef<llvm::Type*> types,
                              llvm::ArrayRef<llvm::Value*> args);

  // ---- Binding state ----
  void bind_var(const ir::Var& v, llvm::Value* value, bool non_negative);
  void bind_buffer(const ir::Buffer& b, llvm::Value* ptr, int alignment);
  // Marks the scalar params that are buffer shape dims as non-negative.
  void note_shape_vars(const ir::PrimFunc& f);
  bool non_negative(const ir::Expr& e) const;
  // Starts emitting into fn: an entry block and allocas placed at its top.
  void begin_function(llvm::Function* fn);
  llvm::AllocaInst* entry_alloca(llvm::Type* t, llvm::Value* count, int align,
                                 const std::string& name);

  // ---- Loops ----
  // for (v = begin; v < end; ++v) body, with `begin`/`end` of v's type. `loop_md` are
  // extra llvm.loop properties (e.g. "llvm.loop.unroll.full").
  void emit_serial_loop(const ir::Var& v, llvm::Value* begin, llvm::Value* end, bool non_negative,
                        const ir::Stmt& body, const std::vector<std::string>& loop_md = {});

  // ---- Target hooks ----
  virtual void emit_for(const ir::ForNode* op);
  virtual void emit_allocate(const ir::AllocateNode* op);
  // Calls other than elementwise math and reinterpret (barriers, shuffles).
  virtual llvm::Value* emit_target_call(const ir::CallNode* op);
  // f32/f64 math; the defaults use LLVM intrinsics (libm calls on CPUs).
  virtual llvm::Value* emit_exp(llvm::Value* x);
  virtual llvm::Value* emit_log(llvm::Value* x);
  virtual llvm::Value* emit_rsqrt(llvm::Value* x);
  virtual llvm::Value* emit_pow(llvm::Value* x, llvm::Value* y);
  virtual llvm::Value* emit_erf(llvm::Value* x);  // default: a polynomial, |error| < 1.2e-7
  virtual llvm::Value* emit_dot_i16_pairs(const ir::CallNode* op);  // default: the pattern
  llvm::Value* emit_tanh(llvm::Value* x);  // from emit_exp, accurate near zero
  // Statically sized storage for `op`: an alloca in the entry block (address space 0).
  void emit_stack_allocate(const ir::AllocateNode* op, int64_t elements);
  // Elements of a flattened allocation, or -1 when the size is symbolic.
  static int64_t constant_elements(const ir::Buffer& b);

  const Target& target_;
  llvm::LLVMContext& ctx_;
  llvm::Module& module_;
  llvm::IRBuilder<> builder_;
  llvm::Function* function_ = nullptr;
  std::string func_name_;  // the kernel being generated, for messages
  llvm::BasicBlock* entry_ = nullptr;
  std::unordered_map<const ir::VarNode*, llvm::Value*> vars_;
  std::unordered_set<const ir::VarNode*> non_negative_vars_;
  std::unordered_map<const ir::BufferNode*, BufferInfo> buffers_;

 private:
  llvm::Value* emit_binary(const ir::BinaryNode* op);
  llvm::Value* emit_int_div_mod(const ir::BinaryNode* op, llvm::Value* a, llvm::Value* b);
  llvm::Value* emit_ramp(const ir::RampNode* op);
  llvm::Value* emit_load(const ir::BufferLoadNode* op);
  void emit_store(const ir::BufferStoreNode* op);
  llvm::Value* emit_call(const ir::CallNode* op);
  llvm::Value* emit_math(ir::Intrinsic op, const std::vector<llvm::Value*>& args);
  // Pointer to element `index` (an integer value) of a bound buffer.
  llvm::Value* element_ptr(const ir::Buffer& b, llvm::Value* index, ir::DataType index_type);
  const BufferInfo& buffer_info(const ir::Buffer& b) const;
};

}  // namespace mlcc::codegen

namespace llvm {
class TargetMachine;
}

namespace mlcc::codegen {

struct GpuKernel;
// The optimized modules behind compile_cpu_object, compile_cuda and compile_rocm (also
// used by emit_llvm_ir). `kernels` receives the launch information of each PrimFunc.
std::unique_ptr<llvm::Module> build_cpu_module(const std::vector<ir::PrimFunc>& funcs,
                                               const Target& target, llvm::LLVMContext& ctx,
                                               llvm::TargetMachine& tm);
std::unique_ptr<llvm::Module> build_nvptx_module(const std::vector<ir::PrimFunc>& funcs,
                                                 const Target& target, llvm::LLVMContext& ctx,
                                                 llvm::TargetMachine& tm,
                                                 std::vector<GpuKernel>* kernels);
std::unique_ptr<llvm::Module> build_amdgpu_module(const std::vector<ir::PrimFunc>& funcs,
                                                  const Target& target, llvm::LLVMContext& ctx,
                                                  llvm::TargetMachine& tm,
                                                  std::vector<GpuKernel>* kernels);

}  // namespace mlcc::codegen
