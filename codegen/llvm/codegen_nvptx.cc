// NVPTX code generation: each PrimFunc becomes a PTX kernel (codegen_gpu.h builds it).
// Thread-bound loops read the special registers, barriers, warp shuffles and the
// tensor-core mma_m16n8k16 map to NVVM intrinsics, and transcendental math uses the
// approximate hardware instructions (no libdevice is assumed).
#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicsNVPTX.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <cmath>

#include "codegen/llvm/codegen_gpu.h"
#include "codegen/llvm/llvm_backend.h"
#include "runtime/error.h"

namespace mlcc::codegen {

using namespace ir;

namespace {

class CodeGenNVPTX : public CodeGenGPU {
 public:
  CodeGenNVPTX(const Target& target, llvm::Module& module) : CodeGenGPU(target, module, "cuda") {}

 protected:
  llvm::CallingConv::ID kernel_calling_conv() const override {
    return llvm::CallingConv::PTX_Kernel;
  }
  void annotate_kernel(llvm::Function* fn, const GpuKernel&) override {
    llvm::NamedMDNode* annotations = module_.getOrInsertNamedMetadata("nvvm.annotations");
    annotations->addOperand(llvm::MDNode::get(
        ctx_, {llvm::ValueAsMetadata::get(fn), llvm::MDString::get(ctx_, "kernel"),
               llvm::ConstantAsMetadata::get(builder_.getInt32(1))}));
  }
  llvm::Value* thread_index(bool block, int axis) override {
    static const llvm::Intrinsic::ID kRegs[6] = {
        llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x, llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_y,
        llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_z, llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x,
        llvm::Intrinsic::nvvm_read_ptx_sreg_tid_y,   llvm::Intrinsic::nvvm_read_ptx_sreg_tid_z};
    return call_intrinsic(kRegs[(block ? 0 : 3) + axis], {}, {});
  }

  llvm::Value* emit_target_call(const CallNode* op) override {
    if (op->op == Intrinsic::kSyncThreads)
      return call_intrinsic(llvm::Intrinsic::nvvm_barrier0, {}, {});
    if (op->op == Intrinsic::kMmaSync) return emit_mma(op);
    if (op->op != Intrinsic::kWarpShuffleXor && op->op != Intrinsic::kWarpShuffleDown)
      return CodeGenLLVM::emit_target_call(op);
    MLCC_CHECK(op->args.size() == 3, "warp shuffle takes (value, lane, width)");
    bool xor_mode = op->op == Intrinsic::kWarpShuffleXor;
    DataType t = op->args[0].dtype().element_of();
    llvm::Value* value = emit_expr(op->args[0]);
    llvm::Value* lane = emit_cast(op->args[1].dtype(), DataType::i32(), emit_expr(op->args[1]));
    llvm::Value* width = emit_cast(op->args[2].dtype(), DataType::i32(), emit_expr(op->args[2]));
    // The shfl.sync "c" operand: segment mask (32 - width) << 8, clamp 31 (as CUDA's
    // __shfl_xor_sync / __shfl_down_sync).
    llvm::Value* c =
        builder_.CreateOr(builder_.CreateShl(builder_.CreateSub(builder_.getInt32(32), width), 8),
                          builder_.getInt32(0x1f));
    auto shfl32 = [&](llvm::Value* x) {
      bool f = x->getType()->isFloatTy();
      llvm::Intrinsic::ID id = xor_mode ? (f ? llvm::Intrinsic::nvvm_shfl_sync_bfly_f32
                                             : llvm::Intrinsic::nvvm_shfl_sync_bfly_i32)
                                        : (f ? llvm::Intrinsic::nvvm_shfl_sync_down_f32
                                             : llvm::Intrinsic::nvvm_shfl_sync_down_i32);
      return call_intrinsic(id, {}, {builder_.getInt32(0xffffffffu), x, lane, c});
    };
    return shuffle_by_words(value, t, shfl32);
  }

  // mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32, which LLVM names by D's and C's types
  // (llvm.nvvm.mma.m16n8k16.row.col.f32.f32; ".f32.f16" would be an f16 C): the fragments travel as
  // the intrinsic's registers, a as four and b as two <2 x half> (the pairs of ir/expr.h's layout),
  // c and d as four floats.
  llvm::Value* emit_mma(const CallNode* op) {
    MLCC_CHECK(op->args.size() == 3 && op->dtype == DataType::f32(4),
               "mma_m16n8k16 takes (f16x8, f16x4, f32x4)");
    llvm::Value* a = emit_expr(op->args[0]);
    llvm::Value* b = emit_expr(op->args[1]);
    llvm::Value* c = emit_expr(op->args[2]);
    std::vector<llvm::Value*> args;
    auto pairs = [&](llvm::Value* v, int count) {
      for (int p = 0; p < count; ++p)
        args.push_back(builder_.CreateShuffleVector(v, {2 * p, 2 * p + 1}));
    };
    pairs(a, 4);
    pairs(b, 2);
    for (int i = 0; i < 4; ++i) args.push_back(builder_.CreateExtractElement(c, i));
    llvm::Value* d = call_intrinsic(llvm::Intrinsic::nvvm_mma_m16n8k16_row_col_f32_f32, {}, args);
    llvm::Value* r = llvm::PoisonValue::get(llvm_type(op->dtype));
    for (unsigned i = 0; i < 4; ++i)
      r = builder_.CreateInsertElement(r, builder_.CreateExtractValue(d, {i}), i);
    return r;
  }

  const char* math_note() const override { return "no libdevice"; }
  llvm::Value* hardware_math(HardwareMath op, llvm::Value* x) override {
    static const llvm::Intrinsic::ID kIds[3] = {llvm::Intrinsic::nvvm_ex2_approx_f,
                                                llvm::Intrinsic::nvvm_lg2_approx_f,
                                                llvm::Intrinsic::nvvm_rsqrt_approx_f};
    return call_intrinsic(kIds[static_cast<int>(op)], {}, {x});
  }
};

}  // namespace

std::unique_ptr<llvm::Module> build_nvptx_module(const std::vector<PrimFunc>& funcs,
                                                 const Target& target, llvm::LLVMContext& ctx,
                                                 llvm::TargetMachine& tm,
                                                 std::vector<GpuKernel>* kernels) {
  if (target.kind != TargetKind::kCuda)
    throw Error("compile_cuda: target '" + target.str() + "' is not a cuda target");
  auto m = std::make_unique<llvm::Module>("mlcc_cuda_kernels", ctx);
  configure_module(*m, tm);
  CodeGenNVPTX cg(target, *m);
  for (const PrimFunc& f : funcs) kernels->push_back(cg.add_function(f));
  optimize_module(*m, tm);
  return m;
}

std::vector<CudaKernel> compile_cuda(const std::vector<PrimFunc>& funcs, const Target& target,
                                     std::string* ptx_module) {
  auto tm = make_target_machine(target);
  llvm::LLVMContext ctx;
  std::vector<GpuKernel> launches;
  auto m = build_nvptx_module(funcs, target, ctx, *tm, &launches);
  std::string ptx = emit_machine_code(*m, *tm, true);
  std::vector<CudaKernel> kernels;
  for (GpuKernel& k : launches) kernels.push_back({std::move(k), ptx});
  if (ptx_module) *ptx_module = std::move(ptx);
  return kernels;
}

}  // namespace mlcc::codegen
