// NVPTX code generation: each PrimFunc becomes a PTX kernel. Thread-bound loops read the
// special registers, shared allocations become addrspace(3) globals, barriers and warp
// shuffles map to NVVM intrinsics, and transcendental math uses the approximate hardware
// instructions (no libdevice is assumed).
#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicsNVPTX.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <cmath>
#include <unordered_set>

#include "codegen/launch_extents.h"
#include "codegen/llvm/codegen.h"
#include "codegen/llvm/codegen_llvm.h"
#include "codegen/llvm/llvm_backend.h"
#include "ir/functor.h"
#include "passes/flatten_buffer.h"
#include "passes/vectorize_loop.h"
#include "runtime/error.h"

namespace mlcc::codegen {

using namespace ir;

namespace {

constexpr unsigned kGlobalAS = 1;
constexpr unsigned kSharedAS = 3;

class CodeGenNVPTX : public CodeGenLLVM {
 public:
  using CodeGenLLVM::CodeGenLLVM;

  CudaKernel add_function(const PrimFunc& f) {
    if (module_.getFunction(f.name))
      throw Error("code generation: two kernels are named '" + f.name + "'");
    compute_launch_extents(f);
    std::vector<llvm::Type*> params;
    for (size_t i = 0; i < f.buffers.size(); ++i) params.push_back(builder_.getPtrTy(kGlobalAS));
    for (const Var& v : f.scalars)
      params.push_back(v.dtype().bits > 32 ? builder_.getInt64Ty() : builder_.getInt32Ty());
    auto* fty = llvm::FunctionType::get(builder_.getVoidTy(), params, false);
    auto* fn = llvm::Function::Create(fty, llvm::GlobalValue::ExternalLinkage, f.name, module_);
    fn->setCallingConv(llvm::CallingConv::PTX_Kernel);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    llvm::NamedMDNode* annotations = module_.getOrInsertNamedMetadata("nvvm.annotations");
    annotations->addOperand(llvm::MDNode::get(
        ctx_, {llvm::ValueAsMetadata::get(fn), llvm::MDString::get(ctx_, "kernel"),
               llvm::ConstantAsMetadata::get(builder_.getInt32(1))}));
    vars_.clear();
    buffers_.clear();
    non_negative_vars_.clear();
    shared_bytes_ = 0;
    func_name_ = f.name;
    begin_function(fn);
    note_shape_vars(f);
    for (size_t i = 0; i < f.buffers.size(); ++i)
      bind_buffer(f.buffers[i], fn->getArg(i), std::max(1, f.buffers[i]->alignment));
    for (size_t j = 0; j < f.scalars.size(); ++j) {
      const Var& v = f.scalars[j];
      llvm::Value* raw = fn->getArg(f.buffers.size() + j);
      bind_var(v, scalar_from_param(raw, v.dtype()), non_negative_vars_.count(v.get()) != 0);
    }
    emit_stmt(f.body);
    builder_.CreateRetVoid();
    CudaKernel k;
    k.name = f.name;
    for (int a = 0; a < 3; ++a) {
      k.grid[a] = grid_[a].defined() ? grid_[a] : Expr(1);
      k.block[a] = block_[a].defined() ? block_[a] : Expr(1);
    }
    k.shared_bytes = shared_bytes_;
    return k;
  }

 protected:
  void emit_for(const ForNode* op) override {
    if (op->for_kind != ForKind::kThreadBinding) return CodeGenLLVM::emit_for(op);
    static const llvm::Intrinsic::ID kRegs[6] = {
        llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x, llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_y,
        llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_z, llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x,
        llvm::Intrinsic::nvvm_read_ptx_sreg_tid_y,   llvm::Intrinsic::nvvm_read_ptx_sreg_tid_z};
    int axis = launch_axis_index(op->thread_axis);
    bool block = is_block_axis(op->thread_axis);
    llvm::Value* id = call_intrinsic(kRegs[(block ? 0 : 3) + axis], {}, {});
    llvm::Type* vt = llvm_type(op->var.dtype());
    llvm::Value* idv = builder_.CreateZExtOrTrunc(id, vt);
    llvm::Value* v = is_const_int(op->min, 0) ? idv : builder_.CreateAdd(idv, emit_expr(op->min));
    bind_var(op->var, v, non_negative(op->min));
    const Expr& launch = (block ? grid_ : block_)[axis];
    if (same_launch_extent(op->extent, launch)) return emit_stmt(op->body);
    // This loop covers fewer indices than the launch has along the axis: guard.
    llvm::Value* ext = emit_cast(op->extent.dtype(), op->var.dtype(), emit_expr(op->extent));
    llvm::Value* in_range = op->var.dtype().is_uint() ? builder_.CreateICmpULT(idv, ext)
                                                      : builder_.CreateICmpSLT(idv, ext);
    auto* body_bb = llvm::BasicBlock::Create(ctx_, "guard.body", function_);
    auto* end_bb = llvm::BasicBlock::Create(ctx_, "guard.end", function_);
    builder_.CreateCondBr(in_range, body_bb, end_bb);
    builder_.SetInsertPoint(body_bb);
    emit_stmt(op->body);
    builder_.CreateBr(end_bb);
    builder_.SetInsertPoint(end_bb);
  }

  void emit_allocate(const AllocateNode* op) override {
    const Buffer& b = op->buffer;
    if (b->scope == MemScope::kLocal) return CodeGenLLVM::emit_allocate(op);
    if (b->scope == MemScope::kGlobal)
      throw Error("code generation (cuda): kernel '" + func_name_ + "' allocates global scratch '" +
                  b->name + "'; global scratch must be passed to the kernel as a buffer");
    int64_t n = constant_elements(b);
    if (n < 0)
      throw Error("code generation (cuda): shared buffer '" + b->name + "' of kernel '" +
                  func_name_ + "' has a symbolic size; shared memory must be statically sized");
    llvm::Type* elem = memory_type(b->dtype);
    auto* arr = llvm::ArrayType::get(elem, static_cast<uint64_t>(std::max<int64_t>(n, 1)));
    auto* gv = new llvm::GlobalVariable(module_, arr, false, llvm::GlobalValue::InternalLinkage,
                                        llvm::UndefValue::get(arr), func_name_ + "_" + b->name,
                                        nullptr, llvm::GlobalValue::NotThreadLocal, kSharedAS);
    int align = std::max(b->alignment, std::max(1, b->dtype.bytes()));
    gv->setAlignment(llvm::Align(align));
    shared_bytes_ = static_cast<int>((shared_bytes_ + align - 1) / align * align +
                                     n * std::max(1, b->dtype.bytes()));
    bind_buffer(b, gv, align);
    emit_stmt(op->body);
  }

  llvm::Value* emit_target_call(const CallNode* op) override {
    if (op->op == Intrinsic::kSyncThreads)
      return call_intrinsic(llvm::Intrinsic::nvvm_barrier0, {}, {});
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
    llvm::Type* st = llvm_type(t);
    return map_lanes(value, [&](llvm::Value* x) -> llvm::Value* {
      if (t == DataType::f32() || (t.is_integer() && t.bits == 32)) return shfl32(x);
      if (t.bits == 64) {
        llvm::Value* bits = builder_.CreateBitCast(x, builder_.getInt64Ty());
        llvm::Value* lo = shfl32(builder_.CreateTrunc(bits, builder_.getInt32Ty()));
        llvm::Value* hi =
            shfl32(builder_.CreateTrunc(builder_.CreateLShr(bits, 32), builder_.getInt32Ty()));
        llvm::Value* r = builder_.CreateOr(
            builder_.CreateZExt(lo, builder_.getInt64Ty()),
            builder_.CreateShl(builder_.CreateZExt(hi, builder_.getInt64Ty()), 32));
        return builder_.CreateBitCast(r, st);
      }
      // Narrow types travel in the low bits of a 32-bit register.
      llvm::Type* narrow = builder_.getIntNTy(t.is_bool() ? 1 : t.bits);
      llvm::Value* bits = builder_.CreateBitCast(x, narrow);
      llvm::Value* r = shfl32(builder_.CreateZExt(bits, builder_.getInt32Ty()));
      return builder_.CreateBitCast(builder_.CreateTrunc(r, narrow), st);
    });
  }

  llvm::Value* emit_exp(llvm::Value* x) override {
    require_f32(x, "exp");
    llvm::Value* scaled = builder_.CreateFMul(x, llvm::ConstantFP::get(x->getType(), M_LOG2E));
    return map_lanes(scaled, [&](llvm::Value* s) {
      return call_intrinsic(llvm::Intrinsic::nvvm_ex2_approx_f, {}, {s});
    });
  }
  llvm::Value* emit_log(llvm::Value* x) override {
    require_f32(x, "log");
    llvm::Value* l2 = map_lanes(x, [&](llvm::Value* s) {
      return call_intrinsic(llvm::Intrinsic::nvvm_lg2_approx_f, {}, {s});
    });
    return builder_.CreateFMul(l2, llvm::ConstantFP::get(x->getType(), M_LN2));
  }
  llvm::Value* emit_rsqrt(llvm::Value* x) override {
    require_f32(x, "rsqrt");
    return map_lanes(x, [&](llvm::Value* s) {
      return call_intrinsic(llvm::Intrinsic::nvvm_rsqrt_approx_f, {}, {s});
    });
  }
  // x^y = 2^(y log2 x), for x > 0 (NaN for negative x, as the approximate instructions).
  llvm::Value* emit_pow(llvm::Value* x, llvm::Value* y) override {
    require_f32(x, "pow");
    llvm::Value* l2 = map_lanes(x, [&](llvm::Value* s) {
      return call_intrinsic(llvm::Intrinsic::nvvm_lg2_approx_f, {}, {s});
    });
    return map_lanes(builder_.CreateFMul(y, l2), [&](llvm::Value* s) {
      return call_intrinsic(llvm::Intrinsic::nvvm_ex2_approx_f, {}, {s});
    });
  }

 private:
  void require_f32(llvm::Value* x, const char* what) {
    if (!x->getType()->getScalarType()->isFloatTy())
      throw Error(std::string("code generation (cuda): ") + what +
                  " is supported on f16, bf16 and f32 only (no libdevice)");
  }

  llvm::Value* scalar_from_param(llvm::Value* raw, DataType t) {
    if (t.is_bool()) return builder_.CreateICmpNE(raw, llvm::ConstantInt::get(raw->getType(), 0));
    if (t.is_integer()) return builder_.CreateTrunc(raw, llvm_type(t));
    llvm::Value* bits = builder_.CreateTrunc(raw, builder_.getIntNTy(t.bits));
    return t.is_bfloat() ? bits : builder_.CreateBitCast(bits, llvm_type(t));
  }

  void compute_launch_extents(const PrimFunc& f) {
    LaunchExtents e = collect_launch_extents(f, "cuda");
    grid_ = e.grid;
    block_ = e.block;
  }

  std::array<Expr, 3> grid_, block_;
  int shared_bytes_ = 0;
  std::string func_name_;
};

PrimFunc lower(const PrimFunc& f) { return passes::flatten_buffers(passes::vectorize_loops(f)); }

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a % b < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

std::unique_ptr<llvm::Module> build_nvptx_module(const std::vector<PrimFunc>& funcs,
                                                 const Target& target, llvm::LLVMContext& ctx,
                                                 llvm::TargetMachine& tm,
                                                 std::vector<CudaKernel>* kernels) {
  if (target.kind != TargetKind::kCuda)
    throw Error("compile_cuda: target '" + target.str() + "' is not a cuda target");
  auto m = std::make_unique<llvm::Module>("mlcc_cuda_kernels", ctx);
  configure_module(*m, tm);
  CodeGenNVPTX cg(target, *m);
  for (const PrimFunc& f : funcs) kernels->push_back(cg.add_function(lower(f)));
  optimize_module(*m, tm);
  return m;
}

std::vector<CudaKernel> compile_cuda(const std::vector<PrimFunc>& funcs, const Target& target,
                                     std::string* ptx_module) {
  auto tm = make_target_machine(target);
  llvm::LLVMContext ctx;
  std::vector<CudaKernel> kernels;
  auto m = build_nvptx_module(funcs, target, ctx, *tm, &kernels);
  std::string ptx = emit_machine_code(*m, *tm, true);
  for (CudaKernel& k : kernels) k.ptx = ptx;
  if (ptx_module) *ptx_module = std::move(ptx);
  return kernels;
}

int64_t eval_launch_dim(const Expr& e, const std::vector<std::pair<Var, int64_t>>& values) {
  if (const auto* n = e.as<IntImmNode>()) return n->value;
  if (const auto* n = e.as<VarNode>()) {
    for (const auto& [v, x] : values)
      if (v.get() == n) return x;
    throw Error("launch dimension uses '" + n->name + "', which was given no value");
  }
  if (const auto* n = e.as<CastNode>()) {
    if (n->value.dtype().is_integer()) return eval_launch_dim(n->value, values);
  }
  if (const auto* n = e.as<BinaryNode>()) {
    int64_t a = eval_launch_dim(n->a, values), b = eval_launch_dim(n->b, values);
    switch (n->kind) {
      case NodeKind::kAdd:
        return a + b;
      case NodeKind::kSub:
        return a - b;
      case NodeKind::kMul:
        return a * b;
      case NodeKind::kMin:
        return std::min(a, b);
      case NodeKind::kMax:
        return std::max(a, b);
      case NodeKind::kDiv:
      case NodeKind::kMod:
        if (b == 0) throw Error("launch dimension divides by zero");
        return n->kind == NodeKind::kDiv ? floor_div(a, b) : a - floor_div(a, b) * b;
      default:
        break;
    }
  }
  throw Error(std::string("launch dimension: cannot evaluate a ") + kind_name(e.kind()));
}

}  // namespace mlcc::codegen
