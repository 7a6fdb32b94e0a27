// CPU code generation: each PrimFunc becomes an exported kernel with the ABI of
// runtime/kernel_abi.h; parallel loops are outlined into MlccParallelBody closures and
// launched through the module's `mlcc_parallel_launch` global.
//
// Scratch allocations (global scope) of a constant size up to kMaxStackScratch bytes live
// on the stack like local ones; larger or symbolic ones are taken from aligned_alloc and
// freed when their scope ends (a failed allocation makes the kernel return 1 and skip the
// scope).
#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/Target/TargetMachine.h>

#include <cmath>
#include <unordered_set>

#include "codegen/linker.h"
#include "codegen/llvm/codegen.h"
#include "codegen/llvm/codegen_llvm.h"
#include "codegen/llvm/llvm_backend.h"
#include "ir/functor.h"
#include "passes/flatten_buffer.h"
#include "passes/vectorize_loop.h"
#include "runtime/error.h"
#include "runtime/kernel_abi.h"

namespace mlcc::codegen {

using namespace ir;

namespace {

constexpr int64_t kMaxStackScratch = 64 * 1024;
// Tasks a parallel loop is split into per core (see emit_parallel).
constexpr int64_t kTasksPerCore = 8;

class CodeGenCPU : public CodeGenLLVM {
 public:
  CodeGenCPU(const Target& target, llvm::Module& module, const llvm::TargetMachine& tm)
      : CodeGenLLVM(target, module) {
    const llvm::MCSubtargetInfo* sti = tm.getMCSubtargetInfo();
    const bool x86 = tm.getTargetTriple().isX86();
    pmaddwd_[0] = x86 && sti->checkFeatures("+sse2");
    pmaddwd_[1] = x86 && sti->checkFeatures("+avx2");
    pmaddwd_[2] = x86 && sti->checkFeatures("+avx512bw");
    llvm::Type* ptr = builder_.getPtrTy();
    launch_global_ = new llvm::GlobalVariable(
        module_, ptr, false, llvm::GlobalValue::ExternalLinkage,
        llvm::ConstantPointerNull::get(builder_.getPtrTy()), MLCC_PARALLEL_LAUNCH_SYMBOL);
    auto* abi = new llvm::GlobalVariable(
        module_, builder_.getInt32Ty(), true, llvm::GlobalValue::ExternalLinkage,
        builder_.getInt32(MLCC_KERNEL_ABI_VERSION), MLCC_KERNEL_ABI_VERSION_SYMBOL);
    // Exported, but never interposed: each module reads its own launcher.
    for (llvm::GlobalValue* g :
         {static_cast<llvm::GlobalValue*>(launch_global_), static_cast<llvm::GlobalValue*>(abi)}) {
      g->setVisibility(llvm::GlobalValue::ProtectedVisibility);
      g->setDSOLocal(true);
    }
  }

  void add_function(const PrimFunc& f) {
    if (module_.getFunction(f.name))
      throw Error("code generation: two kernels are named '" + f.name + "'");
    llvm::Type* ptr = builder_.getPtrTy();
    auto* fty = llvm::FunctionType::get(builder_.getInt32Ty(), {ptr, ptr}, false);
    auto* fn = llvm::Function::Create(fty, llvm::GlobalValue::ExternalLinkage, f.name, module_);
    fn->setVisibility(llvm::GlobalValue::ProtectedVisibility);
    fn->setDSOLocal(true);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    fn->getArg(0)->setName("buffers");
    fn->getArg(1)->setName("scalars");
    vars_.clear();
    buffers_.clear();
    non_negative_vars_.clear();
    func_name_ = f.name;
    begin_function(fn);
    note_shape_vars(f);
    for (size_t i = 0; i < f.buffers.size(); ++i) {
      const Buffer& b = f.buffers[i];
      llvm::Value* slot = builder_.CreateConstInBoundsGEP1_64(ptr, fn->getArg(0), i);
      llvm::LoadInst* p = builder_.CreateAlignedLoad(ptr, slot, llvm::Align(8));
      int align = std::max(1, b->alignment);
      // The runtime hands out buffers aligned as declared; telling LLVM allows aligned
      // vector accesses.
      p->setMetadata(
          llvm::LLVMContext::MD_align,
          llvm::MDNode::get(ctx_, llvm::ConstantAsMetadata::get(builder_.getInt64(align))));
      p->setMetadata(llvm::LLVMContext::MD_noundef, llvm::MDNode::get(ctx_, {}));
      bind_buffer(b, p, align);
    }
    for (size_t j = 0; j < f.scalars.size(); ++j) {
      const Var& v = f.scalars[j];
      llvm::Value* slot =
          builder_.CreateConstInBoundsGEP1_64(builder_.getInt64Ty(), fn->getArg(1), j);
      llvm::Value* raw = builder_.CreateAlignedLoad(builder_.getInt64Ty(), slot, llvm::Align(8));
      bind_var(v, scalar_from_slot(raw, v.dtype()), non_negative_vars_.count(v.get()) != 0);
    }
    status_slot_ = entry_alloca(builder_.getInt32Ty(), nullptr, 4, "status");
    builder_.CreateStore(builder_.getInt32(0), status_slot_);
    emit_stmt(f.body);
    builder_.CreateRet(builder_.CreateLoad(builder_.getInt32Ty(), status_slot_));
  }

 protected:
  void emit_for(const ForNode* op) override {
    if (op->for_kind == ForKind::kParallel)
      emit_parallel(op);
    else
      CodeGenLLVM::emit_for(op);
  }

  void emit_allocate(const AllocateNode* op) override {
    int64_t n = constant_elements(op->buffer);
    int64_t elem = std::max(1, op->buffer->dtype.bytes());
    if (op->buffer->scope != MemScope::kGlobal || (n >= 0 && n * elem <= kMaxStackScratch))
      return CodeGenLLVM::emit_allocate(op);
    emit_heap_allocate(op, elem);
  }

  // x86's pmaddwd named as its intrinsic, over the widest registers that divide the lanes
  // (the accumulation, an add, becomes VNNI's vpdpwssd in instruction selection): LLVM's
  // combines rewrite the generic pattern past recognition when they know an operand's
  // range (masked nibbles), into widened multiplies and permutes.
  llvm::Value* emit_dot_i16_pairs(const CallNode* op) override {
    const int n = op->dtype.lanes;
    int w = 16, at = 2;  // i32 lanes of the instruction; index into pmaddwd_
    auto fits = [&]() { return w <= n && n % w == 0 && ((n / w) & (n / w - 1)) == 0; };
    while (at >= 0 && !(pmaddwd_[at] && fits())) w /= 2, --at;
    if (at < 0) return CodeGenLLVM::emit_dot_i16_pairs(op);
    const llvm::Intrinsic::ID ids[] = {llvm::Intrinsic::x86_sse2_pmadd_wd,
                                       llvm::Intrinsic::x86_avx2_pmadd_wd,
                                       llvm::Intrinsic::x86_avx512_pmaddw_d_512};
    llvm::Value* a = emit_expr(op->args[0]);
    llvm::Value* b = emit_expr(op->args[1]);
    auto lanes = [&](llvm::Value* v, int from, int count) -> llvm::Value* {
      if (count ==
          static_cast<int>(llvm::cast<llvm::FixedVectorType>(v->getType())->getNumElements()))
        return v;
      std::vector<int> mask(count);
      for (int l = 0; l < count; ++l) mask[l] = from + l;
      return builder_.CreateShuffleVector(v, mask);
    };
    std::vector<llvm::Value*> parts;
    for (int c = 0; c < n; c += w)
      parts.push_back(
          call_intrinsic(ids[at], {}, {lanes(a, 2 * c, 2 * w), lanes(b, 2 * c, 2 * w)}));
    while (parts.size() > 1) {  // concatenate pairwise (a power of two of them)
      std::vector<llvm::Value*> next;
      for (size_t i = 0; i < parts.size(); i += 2) {
        int len = llvm::cast<llvm::FixedVectorType>(parts[i]->getType())->getNumElements();
        std::vector<int> mask(2 * len);
        for (int l = 0; l < 2 * len; ++l) mask[l] = l;
        next.push_back(builder_.CreateShuffleVector(parts[i], parts[i + 1], mask));
      }
      parts = std::move(next);
    }
    return builder_.CreateAdd(parts[0], emit_expr(op->args[2]));
  }

  // f32 exp inline (Cephes expf: 2^n * p(r), about 1 ulp) so that vector code stays
  // vector; libm's expf would be called lane by lane.
  llvm::Value* emit_exp(llvm::Value* x) override {
    llvm::Type* ty = x->getType();
    if (!ty->getScalarType()->isFloatTy()) return CodeGenLLVM::emit_exp(x);
    auto c = [&](double v) { return llvm::ConstantFP::get(ty, v); };
    llvm::Type* ity = ty->getWithNewType(builder_.getInt32Ty());
    llvm::Value *lo = c(-87.3365478515625), *hi = c(88.7228317260742);
    llvm::Value* xc = builder_.CreateSelect(builder_.CreateFCmpOLT(x, lo), lo, x);
    xc = builder_.CreateSelect(builder_.CreateFCmpOGT(xc, hi), hi, xc);
    llvm::Value* n =
        call_intrinsic(llvm::Intrinsic::rint, {ty}, {builder_.CreateFMul(xc, c(M_LOG2E))});
    // r = x - n ln2 in two steps (Cody-Waite), exact enough for the polynomial.
    llvm::Value* r = builder_.CreateFSub(xc, builder_.CreateFMul(n, c(0.693359375)));
    r = builder_.CreateFSub(r, builder_.CreateFMul(n, c(-2.12194440e-4)));
    llvm::Value* p = c(1.9875691500e-4);
    for (double k :
         {1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1})
      p = builder_.CreateFAdd(builder_.CreateFMul(p, r), c(k));
    p = builder_.CreateFAdd(
        builder_.CreateFAdd(builder_.CreateFMul(p, builder_.CreateFMul(r, r)), r), c(1.0));
    // 2^n as 2^(n/2) * 2^(n - n/2): n reaches 128 near the top, beyond a float exponent.
    llvm::Value* ni = builder_.CreateFPToSI(n, ity);
    llvm::Value* n1 = builder_.CreateAShr(ni, 1);
    auto pow2 = [&](llvm::Value* k) {
      llvm::Value* bits =
          builder_.CreateShl(builder_.CreateAdd(k, llvm::ConstantInt::get(ity, 127)), 23);
      return builder_.CreateBitCast(bits, ty);
    };
    llvm::Value* y =
        builder_.CreateFMul(builder_.CreateFMul(p, pow2(n1)), pow2(builder_.CreateSub(ni, n1)));
    y = builder_.CreateSelect(builder_.CreateFCmpOGT(x, hi), c(INFINITY), y);
    y = builder_.CreateSelect(builder_.CreateFCmpOLT(x, lo), c(0.0), y);
    return builder_.CreateSelect(builder_.CreateFCmpUNO(x, x), x, y);
  }

  // erf from libm (exact), lane by lane.
  llvm::Value* emit_erf(llvm::Value* x) override {
    llvm::Type* st = x->getType()->getScalarType();
    llvm::FunctionCallee f = module_.getOrInsertFunction(st->isDoubleTy() ? "erf" : "erff",
                                                         llvm::FunctionType::get(st, {st}, false));
    return map_lanes(x, [&](llvm::Value* s) { return builder_.CreateCall(f, {s}); });
  }

 private:
  llvm::Value* scalar_from_slot(llvm::Value* raw, DataType t) {
    if (t.is_bool()) return builder_.CreateICmpNE(raw, builder_.getInt64(0));
    if (t.is_integer()) return builder_.CreateTrunc(raw, llvm_type(t));
    if (t.bits == 64) return builder_.CreateBitCast(raw, llvm_type(t));
    llvm::Value* bits = builder_.CreateTrunc(raw, builder_.getIntNTy(t.bits));
    return t.is_bfloat() ? bits : builder_.CreateBitCast(bits, llvm_type(t));
  }

  void emit_heap_allocate(const AllocateNode* op, int64_t elem) {
    int64_t align = std::max<int64_t>(op->buffer->alignment, 16);
    llvm::Value* count = builder_.getInt64(1);
    for (const Expr& d : op->buffer->shape)
      count = builder_.CreateMul(count, to_i64(emit_expr(d), true));
    // aligned_alloc wants a multiple of the alignment.
    llvm::Value* bytes = builder_.CreateMul(count, builder_.getInt64(elem));
    bytes = builder_.CreateAnd(builder_.CreateAdd(bytes, builder_.getInt64(align - 1)),
                               builder_.getInt64(~(align - 1)));
    llvm::Type* ptr = builder_.getPtrTy();
    llvm::Type* i64 = builder_.getInt64Ty();
    llvm::FunctionCallee alloc = module_.getOrInsertFunction(
        "aligned_alloc", llvm::FunctionType::get(ptr, {i64, i64}, false));
    llvm::FunctionCallee release = module_.getOrInsertFunction(
        "free", llvm::FunctionType::get(builder_.getVoidTy(), {ptr}, false));
    llvm::Value* p = builder_.CreateCall(alloc, {builder_.getInt64(align), bytes});
    auto* ok = llvm::BasicBlock::Create(ctx_, "alloc.ok", function_);
    auto* fail = llvm::BasicBlock::Create(ctx_, "alloc.fail", function_);
    auto* done = llvm::BasicBlock::Create(ctx_, "alloc.done", function_);
    builder_.CreateCondBr(builder_.CreateIsNull(p), fail, ok);
    builder_.SetInsertPoint(fail);
    builder_.CreateStore(builder_.getInt32(1), status_slot_);
    builder_.CreateBr(done);
    builder_.SetInsertPoint(ok);
    bind_buffer(op->buffer, p, static_cast<int>(align));
    emit_stmt(op->body);
    builder_.CreateCall(release, {p});
    builder_.CreateBr(done);
    builder_.SetInsertPoint(done);
  }

  // Variables and buffers the loop body takes from its surroundings, in first-use order.
  void collect_captures(const Stmt& body, std::vector<const VarNode*>* vars,
                        std::vector<const BufferNode*>* bufs) {
    std::unordered_set<const void*> seen;
    auto use_buffer = [&](const Buffer& b) {
      if (buffers_.count(b.get()) && seen.insert(b.get()).second) bufs->push_back(b.get());
    };
    std::function<void(const Node*)> visit = [&](const Node* n) {
      switch (n->kind) {
        case NodeKind::kVar: {
          auto* v = static_cast<const VarNode*>(n);
          if (vars_.count(v) && seen.insert(v).second) vars->push_back(v);
          break;
        }
        case NodeKind::kBufferLoad:
          use_buffer(static_cast<const BufferLoadNode*>(n)->buffer);
          break;
        case NodeKind::kBufferStore:
          use_buffer(static_cast<const BufferStoreNode*>(n)->buffer);
          break;
        case NodeKind::kAllocate:  // a heap scratch size may use outer variables
          for (const Expr& d : static_cast<const AllocateNode*>(n)->buffer->shape)
            pre_order_visit(evaluate(d), visit);
          break;
        default:
          break;
      }
    };
    pre_order_visit(body, visit);
  }

  void emit_parallel(const ForNode* op) {
    llvm::Type* i64 = builder_.getInt64Ty();
    llvm::Type* ptr = builder_.getPtrTy();
    bool sgn = !op->var.dtype().is_uint();
    llvm::Value* begin = to_i64(emit_expr(op->min), sgn);
    llvm::Value* extent = to_i64(emit_expr(op->extent), sgn);
    std::vector<const VarNode*> cap_vars;
    std::vector<const BufferNode*> cap_bufs;
    collect_captures(op->body, &cap_vars, &cap_bufs);

    std::vector<llvm::Type*> fields{i64, i64};
    for (const VarNode* v : cap_vars) fields.push_back(vars_.at(v)->getType());
    for (size_t i = 0; i < cap_bufs.size(); ++i) fields.push_back(ptr);
    llvm::StructType* st = llvm::StructType::get(ctx_, fields);
    llvm::AllocaInst* closure = entry_alloca(st, nullptr, 8, "closure");
    std::vector<llvm::Value*> values{begin, extent};
    for (const VarNode* v : cap_vars) values.push_back(vars_.at(v));
    for (const BufferNode* b : cap_bufs) values.push_back(buffers_.at(b).ptr);
    for (size_t i = 0; i < values.size(); ++i)
      builder_.CreateStore(values[i], builder_.CreateStructGEP(st, closure, i));

    // The outlined body: task t of n runs [begin + t*chunk, min(begin + (t+1)*chunk, end)).
    auto* body_ty = llvm::FunctionType::get(builder_.getInt32Ty(), {i64, i64, ptr}, false);
    auto* body_fn = llvm::Function::Create(
        body_ty, llvm::GlobalValue::InternalLinkage,
        func_name_ + "_parallel_" + std::to_string(num_outlined_++), module_);
    body_fn->addFnAttr(llvm::Attribute::NoUnwind);
    {
      auto saved_vars = vars_;
      auto saved_nonneg = non_negative_vars_;
      auto saved_bufs = buffers_;
      llvm::Function* saved_fn = function_;
      llvm::BasicBlock* saved_entry = entry_;
      llvm::Value* saved_status = status_slot_;
      llvm::IRBuilderBase::InsertPoint saved_ip = builder_.saveIP();

      begin_function(body_fn);
      llvm::Value* task = body_fn->getArg(0);
      llvm::Value* ntasks = body_fn->getArg(1);
      llvm::Value* cl = body_fn->getArg(2);
      auto field = [&](size_t i) {
        return builder_.CreateLoad(fields[i], builder_.CreateStructGEP(st, cl, i));
      };
      llvm::Value* b0 = field(0);
      llvm::Value* ext = field(1);
      for (size_t i = 0; i < cap_vars.size(); ++i) vars_[cap_vars[i]] = field(2 + i);
      for (size_t i = 0; i < cap_bufs.size(); ++i)
        buffers_[cap_bufs[i]].ptr = field(2 + cap_vars.size() + i);
      status_slot_ = entry_alloca(builder_.getInt32Ty(), nullptr, 4, "status");
      builder_.CreateStore(builder_.getInt32(0), status_slot_);
      llvm::Value* chunk = builder_.CreateSDiv(
          builder_.CreateAdd(ext, builder_.CreateSub(ntasks, builder_.getInt64(1))), ntasks);
      llvm::Value* lo = builder_.CreateAdd(b0, builder_.CreateMul(task, chunk));
      llvm::Value* hi = builder_.CreateAdd(lo, chunk);
      llvm::Value* end = builder_.CreateAdd(b0, ext);
      hi = builder_.CreateSelect(builder_.CreateICmpSLT(hi, end), hi, end);
      llvm::Type* vt = llvm_type(op->var.dtype());
      emit_serial_loop(op->var, builder_.CreateTrunc(lo, vt), builder_.CreateTrunc(hi, vt),
                       non_negative(op->min), op->body);
      builder_.CreateRet(builder_.CreateLoad(builder_.getInt32Ty(), status_slot_));

      vars_ = std::move(saved_vars);
      non_negative_vars_ = std::move(saved_nonneg);
      buffers_ = std::move(saved_bufs);
      function_ = saved_fn;
      entry_ = saved_entry;
      status_slot_ = saved_status;
      builder_.restoreIP(saved_ip);
    }

    // Launch: min(extent, kTasksPerCore * num_cores) tasks through the runtime's launcher, or
    // all of the range in one call when no launcher was installed. The pool hands tasks out
    // as threads come free, so a core slowed by something else (another process, the
    // serial part before the loop) takes fewer of them: one task per core made every
    // launch wait for the slowest half.
    auto* run_bb = llvm::BasicBlock::Create(ctx_, "par.run", function_);
    auto* serial_bb = llvm::BasicBlock::Create(ctx_, "par.serial", function_);
    auto* pool_bb = llvm::BasicBlock::Create(ctx_, "par.pool", function_);
    auto* join_bb = llvm::BasicBlock::Create(ctx_, "par.join", function_);
    auto* done_bb = llvm::BasicBlock::Create(ctx_, "par.done", function_);
    builder_.CreateCondBr(builder_.CreateICmpSGT(extent, builder_.getInt64(0)), run_bb, done_bb);
    builder_.SetInsertPoint(run_bb);
    llvm::Value* cores = builder_.getInt64(kTasksPerCore * std::max(1, target_.num_cores));
    llvm::Value* ntasks =
        builder_.CreateSelect(builder_.CreateICmpSLT(extent, cores), extent, cores);
    llvm::Value* launcher = builder_.CreateLoad(ptr, launch_global_);
    builder_.CreateCondBr(builder_.CreateIsNull(launcher), serial_bb, pool_bb);
    builder_.SetInsertPoint(serial_bb);
    llvm::Value* rc_serial =
        builder_.CreateCall(body_fn, {builder_.getInt64(0), builder_.getInt64(1), closure});
    builder_.CreateBr(join_bb);
    builder_.SetInsertPoint(pool_bb);
    auto* launch_ty = llvm::FunctionType::get(builder_.getInt32Ty(), {ptr, ptr, i64}, false);
    llvm::Value* rc_pool = builder_.CreateCall(launch_ty, launcher, {body_fn, closure, ntasks});
    builder_.CreateBr(join_bb);
    builder_.SetInsertPoint(join_bb);
    llvm::PHINode* rc = builder_.CreatePHI(builder_.getInt32Ty(), 2);
    rc->addIncoming(rc_serial, serial_bb);
    rc->addIncoming(rc_pool, pool_bb);
    llvm::Value* old = builder_.CreateLoad(builder_.getInt32Ty(), status_slot_);
    builder_.CreateStore(
        builder_.CreateSelect(builder_.CreateICmpNE(rc, builder_.getInt32(0)), rc, old),
        status_slot_);
    builder_.CreateBr(done_bb);
    builder_.SetInsertPoint(done_bb);
  }

  llvm::GlobalVariable* launch_global_ = nullptr;
  llvm::Value* status_slot_ = nullptr;
  bool pmaddwd_[3] = {};  // x86 pmaddwd of 128, 256, 512 bits
  int num_outlined_ = 0;
};

PrimFunc lower(const PrimFunc& f) { return passes::flatten_buffers(passes::vectorize_loops(f)); }

}  // namespace

// Builds and optimizes the module; shared by the object and IR entry points.
std::unique_ptr<llvm::Module> build_cpu_module(const std::vector<PrimFunc>& funcs,
                                               const Target& target, llvm::LLVMContext& ctx,
                                               llvm::TargetMachine& tm) {
  if (target.kind != TargetKind::kCpu)
    throw Error("compile_cpu_object: target '" + target.str() + "' is not a cpu target");
  auto m = std::make_unique<llvm::Module>("mlcc_cpu_kernels", ctx);
  configure_module(*m, tm);
  CodeGenCPU cg(target, *m, tm);
  for (const PrimFunc& f : funcs) cg.add_function(lower(f));
  optimize_module(*m, tm);
  return m;
}

std::vector<uint8_t> compile_cpu_object(const std::vector<PrimFunc>& funcs, const Target& target) {
  auto tm = make_target_machine(target);
  llvm::LLVMContext ctx;
  auto m = build_cpu_module(funcs, target, ctx, *tm);
  std::string obj = emit_machine_code(*m, *tm, false);
  return std::vector<uint8_t>(obj.begin(), obj.end());
}

void build_cpu_shared_library(const std::vector<PrimFunc>& funcs, const Target& target,
                              const std::string& so_path) {
  link_shared_library(compile_cpu_object(funcs, target), target, so_path);
}

}  // namespace mlcc::codegen
