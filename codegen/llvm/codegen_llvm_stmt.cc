// Statement and call lowering of the shared LLVM code generator: loops, conditionals,
// lets, stack allocations, elementwise math (f16/bf16 math runs in f32) and reinterpret.
#include <llvm/IR/Constants.h>
#include <llvm/IR/Module.h>

#include "codegen/llvm/codegen_llvm.h"
#include "ir/printer.h"
#include "runtime/error.h"

namespace mlcc::codegen {

using namespace ir;

void CodeGenLLVM::begin_function(llvm::Function* fn) {
  function_ = fn;
  entry_ = llvm::BasicBlock::Create(ctx_, "entry", fn);
  builder_.SetInsertPoint(entry_);
}

llvm::AllocaInst* CodeGenLLVM::entry_alloca(llvm::Type* t, llvm::Value* count, int align,
                                            const std::string& name) {
  // At the top of the entry block, so that mem2reg/SROA see it and loops do not grow the
  // stack.
  llvm::IRBuilder<> b(entry_, entry_->getFirstInsertionPt());
  llvm::AllocaInst* a = b.CreateAlloca(t, count, name);
  a->setAlignment(llvm::Align(align));
  return a;
}

void CodeGenLLVM::emit_stmt(const Stmt& s) {
  if (!s.defined()) return;
  if (const auto* n = s.as<ForNode>()) return emit_for(n);
  if (const auto* n = s.as<BufferStoreNode>()) return emit_store(n);
  if (const auto* n = s.as<AllocateNode>()) return emit_allocate(n);
  if (const auto* n = s.as<SeqNode>()) {
    for (const Stmt& c : n->seq) emit_stmt(c);
    return;
  }
  if (const auto* n = s.as<EvaluateNode>()) {
    emit_expr(n->value);
    return;
  }
  if (const auto* n = s.as<LetStmtNode>()) {
    bind_var(n->var, emit_expr(n->value), non_negative(n->value));
    emit_stmt(n->body);
    return;
  }
  if (const auto* n = s.as<IfThenElseNode>()) {
    llvm::Value* cond = emit_expr(n->cond);
    auto* then_bb = llvm::BasicBlock::Create(ctx_, "if.then", function_);
    auto* end_bb = llvm::BasicBlock::Create(ctx_, "if.end", function_);
    llvm::BasicBlock* else_bb = n->else_case.defined()
                                    ? llvm::BasicBlock::Create(ctx_, "if.else", function_, end_bb)
                                    : end_bb;
    builder_.CreateCondBr(cond, then_bb, else_bb);
    builder_.SetInsertPoint(then_bb);
    emit_stmt(n->then_case);
    builder_.CreateBr(end_bb);
    if (n->else_case.defined()) {
      builder_.SetInsertPoint(else_bb);
      emit_stmt(n->else_case);
      builder_.CreateBr(end_bb);
    }
    builder_.SetInsertPoint(end_bb);
    return;
  }
  throw Error(std::string("code generation: unexpected statement ") + kind_name(s.kind()));
}

void CodeGenLLVM::emit_serial_loop(const Var& v, llvm::Value* begin, llvm::Value* end,
                                   bool non_negative, const Stmt& body,
                                   const std::vector<std::string>& loop_md) {
  llvm::BasicBlock* pre = builder_.GetInsertBlock();
  auto* header = llvm::BasicBlock::Create(ctx_, "for.header", function_);
  auto* body_bb = llvm::BasicBlock::Create(ctx_, "for.body", function_);
  auto* exit = llvm::BasicBlock::Create(ctx_, "for.end", function_);
  builder_.CreateBr(header);
  builder_.SetInsertPoint(header);
  llvm::PHINode* phi = builder_.CreatePHI(begin->getType(), 2);
  phi->addIncoming(begin, pre);
  bool sgn = !v.dtype().is_uint();
  builder_.CreateCondBr(sgn ? builder_.CreateICmpSLT(phi, end) : builder_.CreateICmpULT(phi, end),
                        body_bb, exit);
  builder_.SetInsertPoint(body_bb);
  bind_var(v, phi, non_negative);
  emit_stmt(body);
  llvm::Value* next = builder_.CreateAdd(phi, llvm::ConstantInt::get(phi->getType(), 1), "",
                                         /*HasNUW=*/false, /*HasNSW=*/sgn);
  phi->addIncoming(next, builder_.GetInsertBlock());
  llvm::BranchInst* back = builder_.CreateBr(header);
  std::vector<llvm::Metadata*> md{nullptr};
  for (const std::string& p : loop_md)
    md.push_back(llvm::MDNode::get(ctx_, llvm::MDString::get(ctx_, p)));
  md.push_back(llvm::MDNode::get(ctx_, llvm::MDString::get(ctx_, "llvm.loop.mustprogress")));
  llvm::MDNode* loop_id = llvm::MDNode::getDistinct(ctx_, md);
  loop_id->replaceOperandWith(0, loop_id);
  back->setMetadata(llvm::LLVMContext::MD_loop, loop_id);
  builder_.SetInsertPoint(exit);
}

// Loops up to this many iterations marked kUnrolled are emitted unrolled; longer ones get
// llvm.loop.unroll.full and are left to LLVM's judgement.
constexpr int64_t kMaxEmittedUnroll = 256;

void CodeGenLLVM::emit_for(const ForNode* op) {
  llvm::Value* begin = emit_expr(op->min);
  bool nonneg = non_negative(op->min);
  int64_t extent = 0;
  if (op->for_kind == ForKind::kUnrolled && is_const_int(op->extent, &extent) &&
      extent <= kMaxEmittedUnroll) {
    for (int64_t i = 0; i < extent; ++i) {
      llvm::Value* v = builder_.CreateAdd(begin, llvm::ConstantInt::get(begin->getType(), i));
      bind_var(op->var, v, nonneg);
      emit_stmt(op->body);
    }
    return;
  }
  llvm::Value* end = builder_.CreateAdd(begin, emit_expr(op->extent));
  std::vector<std::string> md;
  if (op->for_kind == ForKind::kUnrolled) md.push_back("llvm.loop.unroll.full");
  if (op->for_kind == ForKind::kVectorized) md.push_back("llvm.loop.vectorize.enable");
  emit_serial_loop(op->var, begin, end, nonneg, op->body, md);
}

int64_t CodeGenLLVM::constant_elements(const Buffer& b) {
  int64_t n = 1;
  for (const Expr& d : b->shape) {
    int64_t v;
    if (!is_const_int(d, &v)) return -1;
    n *= v;
  }
  return n;
}

void CodeGenLLVM::emit_stack_allocate(const AllocateNode* op, int64_t elements) {
  llvm::Type* t = memory_type(op->buffer->dtype);
  llvm::AllocaInst* a = entry_alloca(t, builder_.getInt64(std::max<int64_t>(elements, 1)),
                                     std::max(op->buffer->alignment, 1), op->buffer->name);
  bind_buffer(op->buffer, a, std::max(op->buffer->alignment, 1));
  emit_stmt(op->body);
}

void CodeGenLLVM::emit_allocate(const AllocateNode* op) {
  int64_t n = constant_elements(op->buffer);
  if (n < 0)
    throw Error("code generation (" + target_.str() + "): allocation of buffer '" +
                op->buffer->name + "' has a symbolic size; this target needs a constant one");
  emit_stack_allocate(op, n);
}

llvm::Value* CodeGenLLVM::emit_target_call(const CallNode* op) {
  if (op->op == Intrinsic::kMmaSync)
    throw Error("code generation (" + target_.str() + "): kernel '" + func_name_ +
                "' uses mma_m16n8k16, a tensor-core warp matrix multiply that only CUDA targets "
                "(sm_80 or newer) have; schedule it without tensor cores for this target");
  throw Error(std::string("code generation (") + target_.str() + "): " + intrinsic_name(op->op) +
              " is not supported on this target");
}

// ---- Calls and math ---------------------------------------------------------------------

llvm::Value* CodeGenLLVM::emit_call(const CallNode* op) {
  if (op->op == Intrinsic::kReinterpret) {
    DataType from = op->args[0].dtype();
    llvm::Value* v = emit_expr(op->args[0]);
    if (from.is_bool() || op->dtype.is_bool())
      throw Error("code generation: reinterpret of bool values");
    return builder_.CreateBitCast(v, llvm_type(op->dtype));
  }
  if (op->op == Intrinsic::kThreadAllReduce)
    throw Error(
        "code generation: thread_allreduce must be lowered by "
        "lower_cross_thread_reduction before code generation");
  if (op->op == Intrinsic::kDotI16Pairs) return emit_dot_i16_pairs(op);
  if (op->op > Intrinsic::kErf) return emit_target_call(op);
  DataType t = op->dtype;
  if (!t.is_float()) throw Error(std::string(intrinsic_name(op->op)) + " of " + to_string(t));
  // Half-precision math runs in f32: it is exact enough and needs no f16 math library.
  DataType work = t.bits == 16 ? DataType::f32(t.lanes) : t;
  std::vector<llvm::Value*> args;
  for (const Expr& a : op->args) args.push_back(emit_cast(a.dtype(), work, emit_expr(a)));
  return emit_cast(work, t, emit_math(op->op, args));
}

// Widening multiplies and the sum of the even and odd products: a pattern that x86 and Arm
// instruction selection match (vpmaddwd, vpdpwssd; smull + addp). The CPU generator names
// x86's instruction instead where it has it (codegen_cpu.cc says why).
llvm::Value* CodeGenLLVM::emit_dot_i16_pairs(const CallNode* op) {
  const int n = op->dtype.lanes;
  llvm::Type* wide = llvm_type(DataType::i32(2 * n));
  llvm::Value* a = builder_.CreateSExt(emit_expr(op->args[0]), wide);
  llvm::Value* b = builder_.CreateSExt(emit_expr(op->args[1]), wide);
  llvm::Value* prod = builder_.CreateMul(a, b);
  auto lanes_from = [&](int first) -> llvm::Value* {  // lanes first, first + 2, ...
    if (n == 1) return builder_.CreateExtractElement(prod, first);
    std::vector<int> mask(n);
    for (int l = 0; l < n; ++l) mask[l] = 2 * l + first;
    return builder_.CreateShuffleVector(prod, mask);
  };
  llvm::Value* sum = builder_.CreateAdd(lanes_from(0), lanes_from(1));
  return builder_.CreateAdd(sum, emit_expr(op->args[2]));
}

llvm::Value* CodeGenLLVM::emit_math(Intrinsic op, const std::vector<llvm::Value*>& args) {
  llvm::Type* ty = args[0]->getType();
  auto unary = [&](llvm::Intrinsic::ID id) { return call_intrinsic(id, {ty}, {args[0]}); };
  switch (op) {
    case Intrinsic::kExp:
      return emit_exp(args[0]);
    case Intrinsic::kLog:
      return emit_log(args[0]);
    case Intrinsic::kSqrt:
      return unary(llvm::Intrinsic::sqrt);
    case Intrinsic::kRsqrt:
      return emit_rsqrt(args[0]);
    case Intrinsic::kTanh:
      return emit_tanh(args[0]);
    case Intrinsic::kFabs:
      return unary(llvm::Intrinsic::fabs);
    case Intrinsic::kFloor:
      return unary(llvm::Intrinsic::floor);
    case Intrinsic::kCeil:
      return unary(llvm::Intrinsic::ceil);
    case Intrinsic::kPow:
      return emit_pow(args[0], args[1]);
    case Intrinsic::kFma:
      return call_intrinsic(llvm::Intrinsic::fma, {ty}, {args[0], args[1], args[2]});
    case Intrinsic::kErf:
      return emit_erf(args[0]);
    default:
      break;
  }
  throw Error(std::string("code generation: unexpected math call ") + intrinsic_name(op));
}

llvm::Value* CodeGenLLVM::emit_exp(llvm::Value* x) {
  return call_intrinsic(llvm::Intrinsic::exp, {x->getType()}, {x});
}
llvm::Value* CodeGenLLVM::emit_log(llvm::Value* x) {
  return call_intrinsic(llvm::Intrinsic::log, {x->getType()}, {x});
}
llvm::Value* CodeGenLLVM::emit_rsqrt(llvm::Value* x) {
  llvm::Value* s = call_intrinsic(llvm::Intrinsic::sqrt, {x->getType()}, {x});
  return builder_.CreateFDiv(llvm::ConstantFP::get(x->getType(), 1.0), s);
}
llvm::Value* CodeGenLLVM::emit_pow(llvm::Value* x, llvm::Value* y) {
  return call_intrinsic(llvm::Intrinsic::pow, {x->getType()}, {x, y});
}

namespace {
llvm::Value* horner(llvm::IRBuilder<>& b, llvm::Value* t, std::initializer_list<double> coeffs) {
  // coeffs from the highest power down.
  llvm::Value* acc = nullptr;
  for (double c : coeffs) {
    llvm::Value* k = llvm::ConstantFP::get(t->getType(), c);
    acc = acc ? b.CreateFAdd(b.CreateFMul(acc, t), k) : k;
  }
  return acc;
}
}  // namespace

// tanh(x) = x + x^3 P(x^2) for |x| < 0.625 (Cephes tanhf), else sign(x) (1 - 2/(e^{2|x|}+1)),
// which saturates to ±1 without overflow since 2/inf = 0.
llvm::Value* CodeGenLLVM::emit_tanh(llvm::Value* x) {
  llvm::Type* ty = x->getType();
  llvm::Value* ax = call_intrinsic(llvm::Intrinsic::fabs, {ty}, {x});
  llvm::Value* z = builder_.CreateFMul(x, x);
  llvm::Value* p = horner(builder_, z,
                          {-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                           -3.33332819422e-1});
  llvm::Value* small = builder_.CreateFAdd(x, builder_.CreateFMul(builder_.CreateFMul(x, z), p));
  llvm::Value* e = emit_exp(builder_.CreateFMul(ax, llvm::ConstantFP::get(ty, 2.0)));
  llvm::Value* one = llvm::ConstantFP::get(ty, 1.0);
  llvm::Value* big = builder_.CreateFSub(
      one, builder_.CreateFDiv(llvm::ConstantFP::get(ty, 2.0), builder_.CreateFAdd(e, one)));
  big = call_intrinsic(llvm::Intrinsic::copysign, {ty}, {big, x});
  return builder_.CreateSelect(builder_.CreateFCmpOLT(ax, llvm::ConstantFP::get(ty, 0.625)), small,
                               big);
}

// erf(x) = sign(x) (1 - erfc(|x|)) with the Numerical Recipes erfc (fractional error
// below 1.2e-7).
llvm::Value* CodeGenLLVM::emit_erf(llvm::Value* x) {
  llvm::Type* ty = x->getType();
  llvm::Value* z = call_intrinsic(llvm::Intrinsic::fabs, {ty}, {x});
  llvm::Value* one = llvm::ConstantFP::get(ty, 1.0);
  llvm::Value* t = builder_.CreateFDiv(
      one, builder_.CreateFAdd(one, builder_.CreateFMul(z, llvm::ConstantFP::get(ty, 0.5))));
  llvm::Value* poly = horner(builder_, t,
                             {0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
                              -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223});
  llvm::Value* arg = builder_.CreateFSub(poly, builder_.CreateFMul(z, z));
  llvm::Value* erfc = builder_.CreateFMul(t, emit_exp(arg));
  return call_intrinsic(llvm::Intrinsic::copysign, {ty}, {builder_.CreateFSub(one, erfc), x});
}

}  // namespace mlcc::codegen
