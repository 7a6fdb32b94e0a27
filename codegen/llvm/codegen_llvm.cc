// Expression lowering of the shared LLVM code generator: types, constants, arithmetic
// (integer floor division/modulo, bf16 through f32), casts, vectors, loads and stores.
#include "codegen/llvm/codegen_llvm.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Module.h>

#include "codegen/access_alignment.h"
#include "codegen/non_negative.h"
#include "ir/half.h"
#include "ir/printer.h"
#include "runtime/error.h"

namespace mlcc::codegen {

using namespace ir;

CodeGenLLVM::CodeGenLLVM(const Target& target, llvm::Module& module)
    : target_(target), ctx_(module.getContext()), module_(module), builder_(ctx_) {}

llvm::Type* CodeGenLLVM::llvm_type(DataType t) const {
  llvm::Type* s = nullptr;
  if (t.is_bool())
    s = llvm::Type::getInt1Ty(ctx_);
  else if (t.is_integer() || t.is_bfloat())
    s = llvm::Type::getIntNTy(ctx_, t.bits);
  else if (t.is_float() && t.bits == 16)
    s = llvm::Type::getHalfTy(ctx_);
  else if (t.is_float() && t.bits == 32)
    s = llvm::Type::getFloatTy(ctx_);
  else if (t.is_float() && t.bits == 64)
    s = llvm::Type::getDoubleTy(ctx_);
  else if (t.is_handle())
    s = llvm::PointerType::get(ctx_, 0);
  else
    throw Error("code generation: no LLVM type for " + to_string(t));
  return t.lanes > 1 ? llvm::FixedVectorType::get(s, t.lanes) : s;
}

llvm::Type* CodeGenLLVM::memory_type(DataType t) const {
  return t.is_bool() ? llvm_type(DataType::u8(t.lanes)) : llvm_type(t);
}

llvm::Value* CodeGenLLVM::splat(llvm::Value* v, int lanes) {
  return lanes > 1 ? builder_.CreateVectorSplat(lanes, v) : v;
}

llvm::Value* CodeGenLLVM::to_i64(llvm::Value* v, bool is_signed) {
  llvm::Type* t = llvm::Type::getInt64Ty(ctx_);
  if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(v->getType()))
    t = llvm::FixedVectorType::get(t, vt->getNumElements());
  return is_signed ? builder_.CreateSExtOrTrunc(v, t) : builder_.CreateZExtOrTrunc(v, t);
}

llvm::Value* CodeGenLLVM::map_lanes(llvm::Value* v,
                                    const std::function<llvm::Value*(llvm::Value*)>& f) {
  auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(v->getType());
  if (!vt) return f(v);
  llvm::Value* out = nullptr;
  for (unsigned i = 0; i < vt->getNumElements(); ++i) {
    llvm::Value* r = f(builder_.CreateExtractElement(v, i));
    if (!out)
      out = llvm::PoisonValue::get(llvm::FixedVectorType::get(r->getType(), vt->getNumElements()));
    out = builder_.CreateInsertElement(out, r, i);
  }
  return out;
}

llvm::Value* CodeGenLLVM::call_intrinsic(llvm::Intrinsic::ID id, llvm::ArrayRef<llvm::Type*> types,
                                         llvm::ArrayRef<llvm::Value*> args) {
  llvm::Function* f = llvm::Intrinsic::getDeclaration(&module_, id, types);
  return builder_.CreateCall(f, args);
}

void CodeGenLLVM::bind_var(const Var& v, llvm::Value* value, bool non_negative) {
  if (!value->hasName()) value->setName(v.name());
  vars_[v.get()] = value;
  if (non_negative)
    non_negative_vars_.insert(v.get());
  else
    non_negative_vars_.erase(v.get());
}

void CodeGenLLVM::bind_buffer(const Buffer& b, llvm::Value* ptr, int alignment) {
  if (!ptr->hasName()) ptr->setName(b->name);
  buffers_[b.get()] = {ptr, alignment};
}

void CodeGenLLVM::note_shape_vars(const PrimFunc& f) {
  for (const Buffer& b : f.buffers)
    for (const Expr& d : b->shape)
      if (d.as<VarNode>()) non_negative_vars_.insert(d.as<VarNode>());
}

bool CodeGenLLVM::non_negative(const Expr& e) const {
  return provably_non_negative(e, non_negative_vars_);
}

// ---- Expressions ------------------------------------------------------------------------

llvm::Value* CodeGenLLVM::emit_expr(const Expr& e) {
  MLCC_CHECK(e.defined(), "undefined expression in code generation");
  if (const auto* n = e.as<IntImmNode>())
    return llvm::ConstantInt::get(llvm_type(n->dtype), static_cast<uint64_t>(n->value), true);
  if (const auto* n = e.as<FloatImmNode>()) {
    if (n->dtype.is_bfloat())
      return llvm::ConstantInt::get(llvm_type(n->dtype),
                                    float_to_bf16(static_cast<float>(n->value)));
    return llvm::ConstantFP::get(llvm_type(n->dtype), n->value);
  }
  if (const auto* n = e.as<VarNode>()) {
    auto it = vars_.find(n);
    if (it == vars_.end())
      throw Error("code generation: variable '" + n->name + "' is used outside its definition");
    return it->second;
  }
  if (const auto* n = e.as<BinaryNode>()) return emit_binary(n);
  if (const auto* n = e.as<NotNode>()) return builder_.CreateNot(emit_expr(n->a));
  if (const auto* n = e.as<SelectNode>())
    return builder_.CreateSelect(emit_expr(n->cond), emit_expr(n->true_value),
                                 emit_expr(n->false_value));
  if (const auto* n = e.as<CastNode>())
    return emit_cast(n->value.dtype(), n->dtype, emit_expr(n->value));
  if (const auto* n = e.as<RampNode>()) return emit_ramp(n);
  if (const auto* n = e.as<BroadcastNode>()) return splat(emit_expr(n->value), n->lanes);
  if (const auto* n = e.as<BufferLoadNode>()) return emit_load(n);
  if (const auto* n = e.as<CallNode>()) return emit_call(n);
  throw Error(std::string("code generation: unexpected expression ") + kind_name(e.kind()));
}

llvm::Value* CodeGenLLVM::emit_ramp(const RampNode* op) {
  llvm::Value* base = splat(emit_expr(op->base), op->lanes);
  llvm::Value* stride = splat(emit_expr(op->stride), op->lanes);
  DataType et = op->dtype.element_of();
  std::vector<llvm::Constant*> lanes;
  for (int i = 0; i < op->lanes; ++i) {
    if (et.is_float())
      lanes.push_back(llvm::ConstantFP::get(llvm_type(et), i));
    else
      lanes.push_back(llvm::ConstantInt::get(llvm_type(et), i));
  }
  llvm::Value* steps = llvm::ConstantVector::get(lanes);
  if (et.is_float()) return builder_.CreateFAdd(base, builder_.CreateFMul(stride, steps));
  return builder_.CreateAdd(base, builder_.CreateMul(stride, steps));
}

llvm::Value* CodeGenLLVM::bf16_to_f32(llvm::Value* v) {
  llvm::Type* i32 = builder_.getInt32Ty();
  llvm::Type* f32 = builder_.getFloatTy();
  if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(v->getType())) {
    i32 = llvm::FixedVectorType::get(i32, vt->getNumElements());
    f32 = llvm::FixedVectorType::get(f32, vt->getNumElements());
  }
  llvm::Value* bits = builder_.CreateShl(builder_.CreateZExt(v, i32), 16);
  return builder_.CreateBitCast(bits, f32);
}

// Round to nearest even in integer arithmetic (as ir/half.h), so no target needs a
// conversion instruction or a runtime library helper.
llvm::Value* CodeGenLLVM::f32_to_bf16(llvm::Value* v) {
  llvm::Type* i32 = builder_.getInt32Ty();
  llvm::Type* i16 = builder_.getInt16Ty();
  int lanes = 1;
  if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(v->getType())) {
    lanes = vt->getNumElements();
    i32 = llvm::FixedVectorType::get(i32, lanes);
    i16 = llvm::FixedVectorType::get(i16, lanes);
  }
  auto c32 = [&](uint32_t x) { return splat(builder_.getInt32(x), lanes); };
  llvm::Value* bits = builder_.CreateBitCast(v, i32);
  llvm::Value* lsb = builder_.CreateAnd(builder_.CreateLShr(bits, c32(16)), c32(1));
  llvm::Value* rounded = builder_.CreateAdd(bits, builder_.CreateAdd(c32(0x7fff), lsb));
  llvm::Value* nan = builder_.CreateOr(builder_.CreateLShr(bits, c32(16)), c32(0x40));
  llvm::Value* r = builder_.CreateSelect(builder_.CreateFCmpUNO(v, v), nan,
                                         builder_.CreateLShr(rounded, c32(16)));
  return builder_.CreateTrunc(r, i16);
}

llvm::Value* CodeGenLLVM::emit_cast(DataType from, DataType to, llvm::Value* v) {
  if (from == to) return v;
  int lanes = to.lanes;
  if (to.is_bool()) {
    if (from.is_bfloat()) v = bf16_to_f32(v), from = DataType::f32(lanes);
    if (from.is_float())
      return builder_.CreateFCmpUNE(v, llvm::Constant::getNullValue(v->getType()));
    return builder_.CreateICmpNE(v, llvm::Constant::getNullValue(v->getType()));
  }
  if (from.is_bfloat()) {
    v = bf16_to_f32(v);
    from = DataType::f32(lanes);
    if (from == to) return v;
  }
  if (to.is_bfloat()) return f32_to_bf16(emit_cast(from, DataType::f32(lanes), v));
  llvm::Type* t = llvm_type(to);
  if (from.is_bool())
    return to.is_float() ? builder_.CreateUIToFP(v, t) : builder_.CreateZExt(v, t);
  if (from.is_integer() && to.is_integer()) {
    if (to.bits <= from.bits) return builder_.CreateTrunc(v, t);
    return from.is_int() ? builder_.CreateSExt(v, t) : builder_.CreateZExt(v, t);
  }
  if (from.is_integer())
    return from.is_int() ? builder_.CreateSIToFP(v, t) : builder_.CreateUIToFP(v, t);
  if (to.is_integer()) {
    // Saturating, NaN to 0: the interpreter's (and the GPUs') rule; plain fptosi would
    // give poison out of range.
    auto id = to.is_int() ? llvm::Intrinsic::fptosi_sat : llvm::Intrinsic::fptoui_sat;
    return call_intrinsic(id, {t, v->getType()}, {v});
  }
  // f64 -> f16 goes through f32: the direct conversion is a runtime-library call on x86.
  if (from.bits == 64 && to.bits == 16)
    return emit_cast(DataType::f32(lanes), to,
                     builder_.CreateFPTrunc(v, llvm_type(DataType::f32(lanes))));
  return to.bits > from.bits ? builder_.CreateFPExt(v, t) : builder_.CreateFPTrunc(v, t);
}

llvm::Value* CodeGenLLVM::emit_binary(const BinaryNode* op) {
  DataType t = op->a.dtype();
  llvm::Value* a = emit_expr(op->a);
  llvm::Value* b = emit_expr(op->b);
  NodeKind k = op->kind;
  if (t.is_bfloat()) {  // compute in f32, round back for arithmetic results
    a = bf16_to_f32(a);
    b = bf16_to_f32(b);
    t = DataType::f32(t.lanes);
  }
  llvm::Value* r = nullptr;
  if (t.is_float()) {
    switch (k) {
      case NodeKind::kAdd:
        r = builder_.CreateFAdd(a, b);
        break;
      case NodeKind::kSub:
        r = builder_.CreateFSub(a, b);
        break;
      case NodeKind::kMul:
        r = builder_.CreateFMul(a, b);
        break;
      case NodeKind::kDiv:
        r = builder_.CreateFDiv(a, b);
        break;
      case NodeKind::kMod: {  // floor modulo: a - floor(a / b) * b
        llvm::Value* q =
            call_intrinsic(llvm::Intrinsic::floor, {a->getType()}, {builder_.CreateFDiv(a, b)});
        r = builder_.CreateFSub(a, builder_.CreateFMul(q, b));
        break;
      }
      // NaN-propagating, so that poisoned values never vanish in a reduction.
      case NodeKind::kMin:
        r = call_intrinsic(llvm::Intrinsic::minimum, {a->getType()}, {a, b});
        break;
      case NodeKind::kMax:
        r = call_intrinsic(llvm::Intrinsic::maximum, {a->getType()}, {a, b});
        break;
      case NodeKind::kEQ:
        return builder_.CreateFCmpOEQ(a, b);
      case NodeKind::kNE:
        return builder_.CreateFCmpUNE(a, b);
      case NodeKind::kLT:
        return builder_.CreateFCmpOLT(a, b);
      case NodeKind::kLE:
        return builder_.CreateFCmpOLE(a, b);
      case NodeKind::kGT:
        return builder_.CreateFCmpOGT(a, b);
      case NodeKind::kGE:
        return builder_.CreateFCmpOGE(a, b);
      default:
        throw Error(std::string("code generation: ") + kind_name(k) + " on " + to_string(t));
    }
    return op->dtype.is_bfloat() ? f32_to_bf16(r) : r;
  }
  bool sgn = t.is_int();
  switch (k) {
    case NodeKind::kAdd:
      return builder_.CreateAdd(a, b);
    case NodeKind::kSub:
      return builder_.CreateSub(a, b);
    case NodeKind::kMul:
      return builder_.CreateMul(a, b);
    case NodeKind::kDiv:
    case NodeKind::kMod:
      return emit_int_div_mod(op, a, b);
    case NodeKind::kMin:
      return builder_.CreateSelect(
          sgn ? builder_.CreateICmpSLT(a, b) : builder_.CreateICmpULT(a, b), a, b);
    case NodeKind::kMax:
      return builder_.CreateSelect(
          sgn ? builder_.CreateICmpSGT(a, b) : builder_.CreateICmpUGT(a, b), a, b);
    case NodeKind::kEQ:
      return builder_.CreateICmpEQ(a, b);
    case NodeKind::kNE:
      return builder_.CreateICmpNE(a, b);
    case NodeKind::kLT:
      return sgn ? builder_.CreateICmpSLT(a, b) : builder_.CreateICmpULT(a, b);
    case NodeKind::kLE:
      return sgn ? builder_.CreateICmpSLE(a, b) : builder_.CreateICmpULE(a, b);
    case NodeKind::kGT:
      return sgn ? builder_.CreateICmpSGT(a, b) : builder_.CreateICmpUGT(a, b);
    case NodeKind::kGE:
      return sgn ? builder_.CreateICmpSGE(a, b) : builder_.CreateICmpUGE(a, b);
    case NodeKind::kAnd:
    case NodeKind::kBitAnd:
      return builder_.CreateAnd(a, b);
    case NodeKind::kOr:
    case NodeKind::kBitOr:
      return builder_.CreateOr(a, b);
    case NodeKind::kBitXor:
      return builder_.CreateXor(a, b);
    case NodeKind::kShl:
      return builder_.CreateShl(a, b);
    case NodeKind::kShr:
      return sgn ? builder_.CreateAShr(a, b) : builder_.CreateLShr(a, b);
    default:
      break;
  }
  throw Error(std::string("code generation: unexpected binary ") + kind_name(k));
}

namespace {
bool const_int_of(const Expr& e, int64_t* v) {
  if (const auto* b = e.as<BroadcastNode>()) return is_const_int(b->value, v);
  return is_const_int(e, v);
}
}  // namespace

// Floor division and modulo. Cheap forms where they are exact: shifts and masks for
// positive powers of two, sdiv/srem when both sides are provably non-negative; otherwise
// truncating division corrected toward negative infinity.
llvm::Value* CodeGenLLVM::emit_int_div_mod(const BinaryNode* op, llvm::Value* a, llvm::Value* b) {
  bool is_div = op->kind == NodeKind::kDiv;
  if (op->dtype.is_uint() || op->dtype.is_bool())
    return is_div ? builder_.CreateUDiv(a, b) : builder_.CreateURem(a, b);
  int64_t c = 0;
  if (const_int_of(op->b, &c) && c > 0 && (c & (c - 1)) == 0) {
    int shift = 0;
    while ((int64_t{1} << shift) != c) ++shift;
    llvm::Constant* k = llvm::ConstantInt::get(a->getType(), is_div ? shift : c - 1);
    return is_div ? builder_.CreateAShr(a, k) : builder_.CreateAnd(a, k);
  }
  if (non_negative(op->a) && (non_negative(op->b) || c > 0))
    return is_div ? builder_.CreateSDiv(a, b) : builder_.CreateSRem(a, b);
  llvm::Value* zero = llvm::Constant::getNullValue(a->getType());
  llvm::Value* q = builder_.CreateSDiv(a, b);
  llvm::Value* r = builder_.CreateSRem(a, b);
  // The truncated result is one too high when the remainder is non-zero and its sign
  // differs from the divisor's.
  llvm::Value* fix = builder_.CreateAnd(builder_.CreateICmpNE(r, zero),
                                        builder_.CreateICmpSLT(builder_.CreateXor(r, b), zero));
  if (is_div) return builder_.CreateSub(q, builder_.CreateZExt(fix, a->getType()));
  return builder_.CreateAdd(r, builder_.CreateSelect(fix, b, zero));
}

// ---- Memory -----------------------------------------------------------------------------

const CodeGenLLVM::BufferInfo& CodeGenLLVM::buffer_info(const Buffer& b) const {
  auto it = buffers_.find(b.get());
  if (it == buffers_.end())
    throw Error("code generation: buffer '" + b->name +
                "' is neither a parameter nor allocated where it is used");
  if (b.ndim() != 1 || !b->strides.empty())
    throw Error("code generation: buffer '" + b->name + "' was not flattened");
  return it->second;
}

llvm::Value* CodeGenLLVM::element_ptr(const Buffer& b, llvm::Value* index, DataType index_type) {
  const BufferInfo& info = buffer_info(b);
  return builder_.CreateInBoundsGEP(memory_type(b->dtype), info.ptr,
                                    to_i64(index, !index_type.is_uint()));
}

llvm::Value* CodeGenLLVM::emit_load(const BufferLoadNode* op) {
  MLCC_CHECK(op->indices.size() == 1, "load of unflattened buffer " + op->buffer->name);
  const Expr& index = op->indices[0];
  DataType et = op->buffer->dtype;
  llvm::Type* mt = memory_type(et);
  auto finish = [&](llvm::Value* v) {
    return et.is_bool() ? builder_.CreateICmpNE(v, llvm::Constant::getNullValue(v->getType())) : v;
  };
  if (index.dtype().is_scalar()) {
    llvm::Value* p = element_ptr(op->buffer, emit_expr(index), index.dtype());
    return finish(
        builder_.CreateAlignedLoad(mt, p, llvm::Align(access_alignment(op->buffer, index))));
  }
  const auto* r = index.as<RampNode>();
  if (r && is_const_int(r->stride, 1)) {
    llvm::Value* p = element_ptr(op->buffer, emit_expr(r->base), r->base.dtype());
    llvm::Type* vt = llvm::FixedVectorType::get(mt, r->lanes);
    return finish(
        builder_.CreateAlignedLoad(vt, p, llvm::Align(access_alignment(op->buffer, r->base))));
  }
  // A gather: one scalar load per lane.
  llvm::Value* idx = emit_expr(index);
  int elem_align = std::max(1, std::min(et.bytes(), op->buffer->alignment));
  llvm::Value* out = llvm::PoisonValue::get(llvm::FixedVectorType::get(mt, index.dtype().lanes));
  for (int i = 0; i < index.dtype().lanes; ++i) {
    llvm::Value* p = element_ptr(op->buffer, builder_.CreateExtractElement(idx, i), index.dtype());
    out = builder_.CreateInsertElement(
        out, builder_.CreateAlignedLoad(mt, p, llvm::Align(elem_align)), i);
  }
  return finish(out);
}

void CodeGenLLVM::emit_store(const BufferStoreNode* op) {
  MLCC_CHECK(op->indices.size() == 1, "store to unflattened buffer " + op->buffer->name);
  const Expr& index = op->indices[0];
  DataType et = op->buffer->dtype;
  llvm::Value* v = emit_expr(op->value);
  if (et.is_bool()) v = builder_.CreateZExt(v, memory_type(op->value.dtype()));
  if (index.dtype().is_scalar()) {
    llvm::Value* p = element_ptr(op->buffer, emit_expr(index), index.dtype());
    builder_.CreateAlignedStore(v, p, llvm::Align(access_alignment(op->buffer, index)));
    return;
  }
  const auto* r = index.as<RampNode>();
  if (r && is_const_int(r->stride, 1)) {
    llvm::Value* p = element_ptr(op->buffer, emit_expr(r->base), r->base.dtype());
    builder_.CreateAlignedStore(v, p, llvm::Align(access_alignment(op->buffer, r->base)));
    return;
  }
  // A scatter, lane by lane in order (later lanes win where indices repeat, as a loop).
  llvm::Value* idx = emit_expr(index);
  int elem_align = std::max(1, std::min(et.bytes(), op->buffer->alignment));
  for (int i = 0; i < index.dtype().lanes; ++i) {
    llvm::Value* p = element_ptr(op->buffer, builder_.CreateExtractElement(idx, i), index.dtype());
    builder_.CreateAlignedStore(builder_.CreateExtractElement(v, i), p, llvm::Align(elem_align));
  }
}

}  // namespace mlcc::codegen
