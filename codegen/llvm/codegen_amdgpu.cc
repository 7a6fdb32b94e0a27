// AMDGPU code generation: each PrimFunc becomes an amdgpu_kernel (codegen_gpu.h builds
// it) in one module for the target's gfx architecture; the object LLVM emits is linked by
// ld.lld into the HSA code object the HIP runtime loads. Thread-bound loops read the
// workgroup and workitem ids, barriers are s_barrier between workgroup-scope fences, warp
// shuffles go through ds_bpermute (a crossbar in the LDS unit: any lane pattern, no LDS
// allocation), and exp/log/rsqrt use the hardware's v_exp/v_log/v_rsq (no ROCm device
// libraries are needed or linked).
#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicsAMDGPU.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include "codegen/linker.h"
#include "codegen/llvm/codegen_gpu.h"
#include "codegen/llvm/llvm_backend.h"
#include "runtime/error.h"

namespace mlcc::codegen {

using namespace ir;

namespace {

class CodeGenAMDGPU : public CodeGenGPU {
 public:
  CodeGenAMDGPU(const Target& target, llvm::Module& module) : CodeGenGPU(target, module, "rocm") {}

 protected:
  llvm::CallingConv::ID kernel_calling_conv() const override {
    return llvm::CallingConv::AMDGPU_KERNEL;
  }

  // The exact workgroup size where it is a constant: without it LLVM assumes up to 1024
  // workitems and budgets registers for that many.
  void annotate_kernel(llvm::Function* fn, const GpuKernel& launch) override {
    int64_t threads = 1;
    for (const Expr& e : launch.block) {
      int64_t x = 0;
      if (!is_const_int(e, &x)) {
        threads = target_.max_threads_per_block;
        break;
      }
      threads *= x;
    }
    if (threads > target_.max_threads_per_block)
      throw Error("code generation (rocm): kernel '" + launch.name + "' has " +
                  std::to_string(threads) + " threads per block; " + target_.str() +
                  " allows at most " + std::to_string(target_.max_threads_per_block));
    fn->addFnAttr("amdgpu-flat-work-group-size", "1," + std::to_string(threads));
    // The grid is a whole number of workgroups: no partial workgroups to guard against.
    fn->addFnAttr("uniform-work-group-size", "true");
  }

  llvm::Value* thread_index(bool block, int axis) override {
    static const llvm::Intrinsic::ID kIds[6] = {
        llvm::Intrinsic::amdgcn_workgroup_id_x, llvm::Intrinsic::amdgcn_workgroup_id_y,
        llvm::Intrinsic::amdgcn_workgroup_id_z, llvm::Intrinsic::amdgcn_workitem_id_x,
        llvm::Intrinsic::amdgcn_workitem_id_y,  llvm::Intrinsic::amdgcn_workitem_id_z};
    return call_intrinsic(kIds[(block ? 0 : 3) + axis], {}, {});
  }

  llvm::Value* emit_target_call(const CallNode* op) override {
    if (op->op == Intrinsic::kSyncThreads) {
      // As HIP's __syncthreads: LDS writes before the barrier are visible after it.
      llvm::SyncScope::ID wg = ctx_.getOrInsertSyncScopeID("workgroup");
      builder_.CreateFence(llvm::AtomicOrdering::Release, wg);
      llvm::Value* b = call_intrinsic(llvm::Intrinsic::amdgcn_s_barrier, {}, {});
      builder_.CreateFence(llvm::AtomicOrdering::Acquire, wg);
      return b;
    }
    if (op->op != Intrinsic::kWarpShuffleXor && op->op != Intrinsic::kWarpShuffleDown)
      return CodeGenLLVM::emit_target_call(op);
    MLCC_CHECK(op->args.size() == 3, "warp shuffle takes (value, lane, width)");
    DataType t = op->args[0].dtype().element_of();
    llvm::Value* value = emit_expr(op->args[0]);
    llvm::Value* arg = emit_cast(op->args[1].dtype(), DataType::i32(), emit_expr(op->args[1]));
    llvm::Value* width = emit_cast(op->args[2].dtype(), DataType::i32(), emit_expr(op->args[2]));
    llvm::Value* lane = lane_id();
    llvm::Value* src;
    if (op->op == Intrinsic::kWarpShuffleXor) {
      src = builder_.CreateXor(lane, arg);
    } else {
      // Past the end of its group of `width` lanes a lane keeps its own value.
      llvm::Value* in_group =
          builder_.CreateAnd(lane, builder_.CreateSub(width, builder_.getInt32(1)));
      llvm::Value* inside = builder_.CreateICmpULT(builder_.CreateAdd(in_group, arg), width);
      src = builder_.CreateSelect(inside, builder_.CreateAdd(lane, arg), lane);
    }
    llvm::Value* byte_addr = builder_.CreateShl(src, 2);
    auto shfl32 = [&](llvm::Value* x) -> llvm::Value* {
      bool f = x->getType()->isFloatTy();
      llvm::Value* bits = f ? builder_.CreateBitCast(x, builder_.getInt32Ty()) : x;
      llvm::Value* r = call_intrinsic(llvm::Intrinsic::amdgcn_ds_bpermute, {}, {byte_addr, bits});
      return f ? builder_.CreateBitCast(r, builder_.getFloatTy()) : r;
    };
    return shuffle_by_words(value, t, shfl32);
  }

  const char* math_note() const override { return "no ROCm device libraries"; }
  llvm::Value* hardware_math(HardwareMath op, llvm::Value* x) override {
    static const llvm::Intrinsic::ID kIds[3] = {
        llvm::Intrinsic::amdgcn_exp2, llvm::Intrinsic::amdgcn_log, llvm::Intrinsic::amdgcn_rsq};
    return call_intrinsic(kIds[static_cast<int>(op)], {x->getType()}, {x});
  }

 private:
  // This workitem's lane in its wavefront: mbcnt counts the set bits of ~0 below the lane.
  llvm::Value* lane_id() {
    llvm::Value* all = builder_.getInt32(0xffffffffu);
    llvm::Value* lo =
        call_intrinsic(llvm::Intrinsic::amdgcn_mbcnt_lo, {}, {all, builder_.getInt32(0)});
    if (target_.warp_size == 32) return lo;
    return call_intrinsic(llvm::Intrinsic::amdgcn_mbcnt_hi, {}, {all, lo});
  }
};

}  // namespace

std::unique_ptr<llvm::Module> build_amdgpu_module(const std::vector<PrimFunc>& funcs,
                                                  const Target& target, llvm::LLVMContext& ctx,
                                                  llvm::TargetMachine& tm,
                                                  std::vector<GpuKernel>* kernels) {
  if (target.kind != TargetKind::kRocm)
    throw Error("compile_rocm: target '" + target.str() + "' is not a rocm target");
  auto m = std::make_unique<llvm::Module>("mlcc_rocm_kernels", ctx);
  configure_module(*m, tm);
  // Code object v5, as ROCm 5.x and 6.x load (the "amdhsa_code_object_version" flag).
  m->addModuleFlag(llvm::Module::Error, "amdhsa_code_object_version", 500);
  CodeGenAMDGPU cg(target, *m);
  for (const PrimFunc& f : funcs) kernels->push_back(cg.add_function(f));
  optimize_module(*m, tm);
  return m;
}

RocmCodeObject compile_rocm(const std::vector<PrimFunc>& funcs, const Target& target,
                            std::string* assembly) {
  auto tm = make_target_machine(target);
  llvm::LLVMContext ctx;
  RocmCodeObject out;
  auto m = build_amdgpu_module(funcs, target, ctx, *tm, &out.kernels);
  // Code generation changes the module (kernel argument lowering, LDS layout): the
  // assembly comes from a copy so that the object is made from the optimized IR.
  if (assembly) *assembly = emit_machine_code(*llvm::CloneModule(*m), *tm, true);
  std::string obj = emit_machine_code(*m, *tm, false);
  out.hsaco = link_code_object(std::vector<uint8_t>(obj.begin(), obj.end()));
  return out;
}

}  // namespace mlcc::codegen
