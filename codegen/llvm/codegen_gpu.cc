// The shared GPU kernel lowering (see codegen_gpu.h): signature, parameter binding,
// thread-bound loops and shared memory, identical for NVPTX and AMDGPU.
#include "codegen/llvm/codegen_gpu.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Module.h>

#include <cmath>

#include "codegen/launch_extents.h"
#include "passes/flatten_buffer.h"
#include "passes/vectorize_loop.h"
#include "runtime/error.h"

namespace mlcc::codegen {

using namespace ir;

GpuKernel CodeGenGPU::add_function(const PrimFunc& func) {
  const PrimFunc f = passes::flatten_buffers(passes::vectorize_loops(func));
  if (module_.getFunction(f.name))
    throw Error("code generation: two kernels are named '" + f.name + "'");
  LaunchExtents extents = collect_launch_extents(f, backend_);
  grid_ = extents.grid;
  block_ = extents.block;
  GpuKernel k;
  k.name = f.name;
  for (int a = 0; a < 3; ++a) {
    k.grid[a] = grid_[a].defined() ? grid_[a] : Expr(1);
    k.block[a] = block_[a].defined() ? block_[a] : Expr(1);
  }
  std::vector<llvm::Type*> params;
  for (size_t i = 0; i < f.buffers.size(); ++i) params.push_back(builder_.getPtrTy(kGlobalAS));
  for (const Var& v : f.scalars)
    params.push_back(v.dtype().bits > 32 ? builder_.getInt64Ty() : builder_.getInt32Ty());
  auto* fty = llvm::FunctionType::get(builder_.getVoidTy(), params, false);
  auto* fn = llvm::Function::Create(fty, llvm::GlobalValue::ExternalLinkage, f.name, module_);
  fn->setCallingConv(kernel_calling_conv());
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  annotate_kernel(fn, k);
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
  k.shared_bytes = shared_bytes_;
  return k;
}

void CodeGenGPU::emit_for(const ForNode* op) {
  if (op->for_kind != ForKind::kThreadBinding) return CodeGenLLVM::emit_for(op);
  int axis = launch_axis_index(op->thread_axis);
  bool block = is_block_axis(op->thread_axis);
  llvm::Value* id = thread_index(block, axis);
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

void CodeGenGPU::emit_allocate(const AllocateNode* op) {
  const Buffer& b = op->buffer;
  if (b->scope == MemScope::kLocal) return CodeGenLLVM::emit_allocate(op);
  std::string who = std::string("code generation (") + backend_ + "): ";
  if (b->scope == MemScope::kGlobal)
    throw Error(who + "kernel '" + func_name_ + "' allocates global scratch '" + b->name +
                "'; global scratch must be passed to the kernel as a buffer");
  int64_t n = constant_elements(b);
  if (n < 0)
    throw Error(who + "shared buffer '" + b->name + "' of kernel '" + func_name_ +
                "' has a symbolic size; shared memory must be statically sized");
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

llvm::Value* CodeGenGPU::lanewise_math(HardwareMath op, llvm::Value* x, const char* what) {
  if (!x->getType()->getScalarType()->isFloatTy())
    throw Error(std::string("code generation (") + backend_ + "): " + what +
                " is supported on f16, bf16 and f32 only (" + math_note() + ")");
  return map_lanes(x, [&](llvm::Value* s) { return hardware_math(op, s); });
}

llvm::Value* CodeGenGPU::emit_exp(llvm::Value* x) {
  llvm::Value* scaled = builder_.CreateFMul(x, llvm::ConstantFP::get(x->getType(), M_LOG2E));
  return lanewise_math(HardwareMath::kExp2, scaled, "exp");
}

llvm::Value* CodeGenGPU::emit_log(llvm::Value* x) {
  llvm::Value* l2 = lanewise_math(HardwareMath::kLog2, x, "log");
  return builder_.CreateFMul(l2, llvm::ConstantFP::get(x->getType(), M_LN2));
}

llvm::Value* CodeGenGPU::emit_rsqrt(llvm::Value* x) {
  return lanewise_math(HardwareMath::kRsqrt, x, "rsqrt");
}

llvm::Value* CodeGenGPU::emit_pow(llvm::Value* x, llvm::Value* y) {
  llvm::Value* l2 = lanewise_math(HardwareMath::kLog2, x, "pow");
  return lanewise_math(HardwareMath::kExp2, builder_.CreateFMul(y, l2), "pow");
}

llvm::Value* CodeGenGPU::shuffle_by_words(llvm::Value* value, DataType t,
                                          const std::function<llvm::Value*(llvm::Value*)>& shfl32) {
  llvm::Type* st = llvm_type(t.element_of());
  return map_lanes(value, [&](llvm::Value* x) -> llvm::Value* {
    if (t.element_of() == DataType::f32() || (t.is_integer() && t.bits == 32)) return shfl32(x);
    if (t.bits == 64) {
      llvm::Value* bits = builder_.CreateBitCast(x, builder_.getInt64Ty());
      llvm::Value* lo = shfl32(builder_.CreateTrunc(bits, builder_.getInt32Ty()));
      llvm::Value* hi =
          shfl32(builder_.CreateTrunc(builder_.CreateLShr(bits, 32), builder_.getInt32Ty()));
      llvm::Value* r =
          builder_.CreateOr(builder_.CreateZExt(lo, builder_.getInt64Ty()),
                            builder_.CreateShl(builder_.CreateZExt(hi, builder_.getInt64Ty()), 32));
      return builder_.CreateBitCast(r, st);
    }
    llvm::Type* narrow = builder_.getIntNTy(t.is_bool() ? 1 : t.bits);
    llvm::Value* bits = builder_.CreateBitCast(x, narrow);
    llvm::Value* r = shfl32(builder_.CreateZExt(bits, builder_.getInt32Ty()));
    return builder_.CreateBitCast(builder_.CreateTrunc(r, narrow), st);
  });
}

llvm::Value* CodeGenGPU::scalar_from_param(llvm::Value* raw, DataType t) {
  if (t.is_bool()) return builder_.CreateICmpNE(raw, llvm::ConstantInt::get(raw->getType(), 0));
  if (t.is_integer()) return builder_.CreateTrunc(raw, llvm_type(t));
  llvm::Value* bits = builder_.CreateTrunc(raw, builder_.getIntNTy(t.bits));
  return t.is_bfloat() ? bits : builder_.CreateBitCast(bits, llvm_type(t));
}

namespace {
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a % b < 0) != (b < 0))) ? q - 1 : q;
}
}  // namespace

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
