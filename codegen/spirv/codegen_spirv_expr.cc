// Expression lowering of the SPIR-V generator: types, constants, arithmetic with the IR's
// floor division, casts with the interpreter's saturating float-to-int rule, and loads
// (packed u32 words for 16-bit buffers without 16-bit storage; vector loads are in
// codegen_spirv_vector.cc).
#include <cmath>
#include <limits>

#include "codegen/non_negative.h"
#include "codegen/spirv/codegen_spirv_impl.h"
#include "runtime/error.h"

namespace mlcc::codegen::spirv {

using namespace ir;
using spv::Op;

void CodeGenSpirv::fail(const std::string& what) const {
  throw Error("code generation (vulkan): kernel '" + func_name_ + "': " + what);
}

// ---- Types ------------------------------------------------------------------------------

DataType CodeGenSpirv::reg_dtype(DataType t) const {
  if (t.is_float() && !t.is_bfloat() && t.bits == 16 && !target_.f16_arithmetic)
    return DataType::f32(t.lanes);
  return t;
}

uint32_t CodeGenSpirv::reg_type(DataType t) {
  t = reg_dtype(t.element_of());
  if (t.is_bool()) return b_.t_bool();
  if (t.is_integer()) {
    if (t.bits == 64) b_.capability(spv::Capability::Int64);
    if (t.bits == 16) b_.capability(spv::Capability::Int16);
    if (t.bits == 8) b_.capability(spv::Capability::Int8);
    if (t.bits != 8 && t.bits != 16 && t.bits != 32 && t.bits != 64)
      fail("no SPIR-V type for " + to_string(t));
    return b_.t_int(t.bits, t.is_int());
  }
  if (t.is_float() && !t.is_bfloat() && (t.bits == 16 || t.bits == 32)) {
    if (t.bits == 16) b_.capability(spv::Capability::Float16);
    return b_.t_float(t.bits);
  }
  fail("values of type " + to_string(t) +
       " are not supported (expected bool, i8-i64, u8-u32, "
       "f16 or f32)");
}

uint32_t CodeGenSpirv::storage_type(DataType t) {
  t = t.element_of();
  if (t.is_bool() || t.is_bfloat() || t.is_handle())
    fail("storage buffers of " + to_string(t) + " are not supported");
  if (t.bits == 16) {
    MLCC_CHECK(target_.storage_16bit,
               "16-bit buffers without 16-bit storage are bound as packed u32 words");
    b_.capability(spv::Capability::StorageBuffer16BitAccess);
    return t.is_float() ? b_.t_float(16) : b_.t_int(16, t.is_int());
  }
  if (t.bits == 8) {
    b_.capability(spv::Capability::StorageBuffer8BitAccess);
    b_.extension("SPV_KHR_8bit_storage");
    return b_.t_int(8, t.is_int());
  }
  return reg_type(t);
}

uint32_t CodeGenSpirv::constant(DataType t, double v) {
  t = reg_dtype(t.element_of());
  if (t.is_bool()) return b_.c_bool(v != 0);
  if (t.is_integer()) return b_.c_int(reg_type(t), t.bits, static_cast<int64_t>(v));
  return b_.c_float(reg_type(t), t.bits, v);
}

// ---- Expressions ------------------------------------------------------------------------

uint32_t CodeGenSpirv::emit_scalar(const Expr& e) {
  Lanes l = emit(e);
  if (l.size() != 1) fail(std::string("expected a scalar, got ") + to_string(e.dtype()));
  return l[0];
}

namespace {
Lanes widen(Lanes l, size_t n) {
  if (l.size() == 1 && n > 1) l.assign(n, l[0]);
  return l;
}
}  // namespace

Lanes CodeGenSpirv::emit(const Expr& e) {
  MLCC_CHECK(e.defined(), "undefined expression in SPIR-V code generation");
  DataType t = e.dtype();
  if (const auto* n = e.as<IntImmNode>()) {
    if (t.is_bool()) return Lanes(t.lanes, b_.c_bool(n->value != 0));
    return Lanes(t.lanes, b_.c_int(reg_type(t), reg_dtype(t).bits, n->value));
  }
  if (const auto* n = e.as<FloatImmNode>()) return Lanes(t.lanes, constant(t, n->value));
  if (const auto* n = e.as<VarNode>()) {
    auto it = vars_.find(n);
    if (it == vars_.end()) fail("variable '" + n->name + "' is used outside its definition");
    return it->second;
  }
  if (const auto* n = e.as<BinaryNode>()) return emit_binary(n);
  if (const auto* n = e.as<NotNode>()) {
    Lanes a = emit(n->a), r;
    uint32_t ty = reg_type(t);
    for (uint32_t x : a) r.push_back(b_.op(t.is_bool() ? Op::OpLogicalNot : Op::OpNot, ty, {x}));
    return r;
  }
  if (const auto* n = e.as<SelectNode>()) {
    Lanes c = widen(emit(n->cond), t.lanes), x = widen(emit(n->true_value), t.lanes),
          y = widen(emit(n->false_value), t.lanes), r;
    for (int i = 0; i < t.lanes; ++i)
      r.push_back(b_.op(Op::OpSelect, reg_type(t), {c[i], x[i], y[i]}));
    return r;
  }
  if (const auto* n = e.as<CastNode>()) {
    Lanes v = widen(emit(n->value), t.lanes), r;
    for (uint32_t x : v) r.push_back(convert(x, n->value.dtype().element_of(), t.element_of()));
    return r;
  }
  if (const auto* n = e.as<RampNode>()) {
    DataType et = t.element_of();
    if (!et.is_integer()) fail("ramp of " + to_string(t));
    int64_t stride = 0, base_value = 0;
    bool const_stride = is_const_int(n->stride, &stride);
    Lanes r;
    if (const_stride && is_const_int(n->base, &base_value)) {
      for (int i = 0; i < n->lanes; ++i)
        r.push_back(b_.c_int(reg_type(et), et.bits, base_value + stride * i));
      return r;
    }
    uint32_t base = emit_scalar(n->base);
    uint32_t s = const_stride ? 0 : emit_scalar(n->stride);
    r.push_back(base);
    for (int i = 1; i < n->lanes; ++i) {
      uint32_t step =
          const_stride ? b_.c_int(reg_type(et), et.bits, stride * i)
                       : b_.op(Op::OpIMul, reg_type(et), {s, b_.c_int(reg_type(et), et.bits, i)});
      r.push_back(b_.op(Op::OpIAdd, reg_type(et), {base, step}));
    }
    return r;
  }
  if (const auto* n = e.as<BroadcastNode>()) return Lanes(n->lanes, emit_scalar(n->value));
  if (const auto* n = e.as<BufferLoadNode>()) return emit_load(n);
  if (const auto* n = e.as<CallNode>()) return emit_call(n);
  fail(std::string("unsupported expression ") + kind_name(e.kind()));
}

Lanes CodeGenSpirv::emit_binary(const BinaryNode* op) {
  int lanes = std::max(op->a.dtype().lanes, op->b.dtype().lanes);
  Lanes a = widen(emit(op->a), lanes), b = widen(emit(op->b), lanes), r;
  DataType t = op->a.dtype().element_of();
  for (int i = 0; i < lanes; ++i) r.push_back(binary_lane(op, t, a[i], b[i]));
  return r;
}

// The IR rounds every operation (an FMA is its own intrinsic), as the interpreter and the
// LLVM backends do; without NoContraction Vulkan compilers fuse a multiply and an add.
uint32_t CodeGenSpirv::exact(uint32_t result) {
  b_.decorate(result, spv::Decoration::NoContraction);
  return result;
}

uint32_t CodeGenSpirv::binary_lane(const BinaryNode* op, DataType t, uint32_t a, uint32_t b) {
  NodeKind k = op->kind;
  uint32_t ty = reg_type(t), tb = b_.t_bool();
  if (t.is_bfloat()) fail("bf16 arithmetic is not supported");
  if (t.is_float()) {
    switch (k) {
      case NodeKind::kAdd:
        return exact(b_.op(Op::OpFAdd, ty, {a, b}));
      case NodeKind::kSub:
        return exact(b_.op(Op::OpFSub, ty, {a, b}));
      case NodeKind::kMul:
        return exact(b_.op(Op::OpFMul, ty, {a, b}));
      case NodeKind::kDiv:
        return b_.op(Op::OpFDiv, ty, {a, b});
      case NodeKind::kMod: {  // floor modulo: a - floor(a / b) * b
        uint32_t q = b_.ext(ty, GLSLstd450Floor, {b_.op(Op::OpFDiv, ty, {a, b})});
        return b_.op(Op::OpFSub, ty, {a, b_.op(Op::OpFMul, ty, {q, b})});
      }
      case NodeKind::kMin:
      case NodeKind::kMax: {
        // NaN-propagating (as the interpreter and the LLVM backends): FMin/FMax leave NaN
        // operands undefined, and a poisoned value must not vanish in a reduction.
        uint32_t m = b_.ext(ty, k == NodeKind::kMin ? GLSLstd450FMin : GLSLstd450FMax, {a, b});
        uint32_t nan =
            b_.op(Op::OpLogicalOr, tb, {b_.op(Op::OpIsNan, tb, {a}), b_.op(Op::OpIsNan, tb, {b})});
        return b_.op(Op::OpSelect, ty, {nan, b_.op(Op::OpFAdd, ty, {a, b}), m});
      }
      case NodeKind::kEQ:
        return b_.op(Op::OpFOrdEqual, tb, {a, b});
      case NodeKind::kNE:
        return b_.op(Op::OpFUnordNotEqual, tb, {a, b});
      case NodeKind::kLT:
        return b_.op(Op::OpFOrdLessThan, tb, {a, b});
      case NodeKind::kLE:
        return b_.op(Op::OpFOrdLessThanEqual, tb, {a, b});
      case NodeKind::kGT:
        return b_.op(Op::OpFOrdGreaterThan, tb, {a, b});
      case NodeKind::kGE:
        return b_.op(Op::OpFOrdGreaterThanEqual, tb, {a, b});
      default:
        fail(std::string(kind_name(k)) + " on " + to_string(t));
    }
  }
  if (t.is_bool()) {
    switch (k) {
      case NodeKind::kAnd:
      case NodeKind::kBitAnd:
        return b_.op(Op::OpLogicalAnd, tb, {a, b});
      case NodeKind::kOr:
      case NodeKind::kBitOr:
        return b_.op(Op::OpLogicalOr, tb, {a, b});
      case NodeKind::kEQ:
        return b_.op(Op::OpLogicalEqual, tb, {a, b});
      case NodeKind::kNE:
      case NodeKind::kBitXor:
        return b_.op(Op::OpLogicalNotEqual, tb, {a, b});
      default:
        fail(std::string(kind_name(k)) + " on bool");
    }
  }
  bool sgn = t.is_int();
  switch (k) {
    case NodeKind::kAdd:
      return b_.op(Op::OpIAdd, ty, {a, b});
    case NodeKind::kSub:
      return b_.op(Op::OpISub, ty, {a, b});
    case NodeKind::kMul:
      return b_.op(Op::OpIMul, ty, {a, b});
    case NodeKind::kDiv:
    case NodeKind::kMod:
      return int_div_mod(op, t, a, b);
    case NodeKind::kMin:
      return b_.ext(ty, sgn ? GLSLstd450SMin : GLSLstd450UMin, {a, b});
    case NodeKind::kMax:
      return b_.ext(ty, sgn ? GLSLstd450SMax : GLSLstd450UMax, {a, b});
    case NodeKind::kEQ:
      return b_.op(Op::OpIEqual, tb, {a, b});
    case NodeKind::kNE:
      return b_.op(Op::OpINotEqual, tb, {a, b});
    case NodeKind::kLT:
      return b_.op(sgn ? Op::OpSLessThan : Op::OpULessThan, tb, {a, b});
    case NodeKind::kLE:
      return b_.op(sgn ? Op::OpSLessThanEqual : Op::OpULessThanEqual, tb, {a, b});
    case NodeKind::kGT:
      return b_.op(sgn ? Op::OpSGreaterThan : Op::OpUGreaterThan, tb, {a, b});
    case NodeKind::kGE:
      return b_.op(sgn ? Op::OpSGreaterThanEqual : Op::OpUGreaterThanEqual, tb, {a, b});
    case NodeKind::kBitAnd:
      return b_.op(Op::OpBitwiseAnd, ty, {a, b});
    case NodeKind::kBitOr:
      return b_.op(Op::OpBitwiseOr, ty, {a, b});
    case NodeKind::kBitXor:
      return b_.op(Op::OpBitwiseXor, ty, {a, b});
    case NodeKind::kShl:
      return b_.op(Op::OpShiftLeftLogical, ty, {a, b});
    case NodeKind::kShr:
      return b_.op(sgn ? Op::OpShiftRightArithmetic : Op::OpShiftRightLogical, ty, {a, b});
    default:
      fail(std::string(kind_name(k)) + " on " + to_string(t));
  }
}

namespace {
bool const_int_of(const Expr& e, int64_t* v) {
  if (const auto* b = e.as<BroadcastNode>()) return is_const_int(b->value, v);
  return is_const_int(e, v);
}
}  // namespace

// Floor division and modulo (ARCHITECTURE.md): shifts and masks for positive powers of two,
// OpSDiv/OpSRem when both sides are provably non-negative, otherwise the truncating result
// corrected toward negative infinity (one less, or the divisor added, when the remainder
// is non-zero and its sign differs from the divisor's).
uint32_t CodeGenSpirv::int_div_mod(const BinaryNode* op, DataType t, uint32_t a, uint32_t b) {
  bool is_div = op->kind == NodeKind::kDiv;
  uint32_t ty = reg_type(t), tb = b_.t_bool();
  if (t.is_uint()) return b_.op(is_div ? Op::OpUDiv : Op::OpUMod, ty, {a, b});
  int64_t c = 0;
  if (const_int_of(op->b, &c) && c > 0 && (c & (c - 1)) == 0) {
    int shift = 0;
    while ((int64_t{1} << shift) != c) ++shift;
    if (is_div) return b_.op(Op::OpShiftRightArithmetic, ty, {a, b_.c_int(ty, t.bits, shift)});
    return b_.op(Op::OpBitwiseAnd, ty, {a, b_.c_int(ty, t.bits, c - 1)});
  }
  if (non_negative(op->a) && (non_negative(op->b) || c > 0))
    return b_.op(is_div ? Op::OpSDiv : Op::OpSRem, ty, {a, b});
  uint32_t zero = b_.c_int(ty, t.bits, 0);
  uint32_t q = b_.op(Op::OpSDiv, ty, {a, b});
  uint32_t r = b_.op(Op::OpSRem, ty, {a, b});
  uint32_t fix = b_.op(Op::OpLogicalAnd, tb,
                       {b_.op(Op::OpINotEqual, tb, {r, zero}),
                        b_.op(Op::OpSLessThan, tb, {b_.op(Op::OpBitwiseXor, ty, {r, b}), zero})});
  if (is_div)
    return b_.op(Op::OpISub, ty,
                 {q, b_.op(Op::OpSelect, ty, {fix, b_.c_int(ty, t.bits, 1), zero})});
  return b_.op(Op::OpIAdd, ty, {r, b_.op(Op::OpSelect, ty, {fix, b, zero})});
}

bool CodeGenSpirv::non_negative(const Expr& e) const {
  return provably_non_negative(e, non_negative_vars_);
}

// ---- Casts ------------------------------------------------------------------------------

// f32 -> nearest f16 -> f32 through GLSL's half packing, for f16 values kept in f32
// registers (-f16=0) that must still round as the IR says.
uint32_t CodeGenSpirv::round_to_half(uint32_t x) {
  uint32_t f32 = b_.t_float(32), v2 = b_.t_vector(f32, 2), u32 = b_.t_int(32, false);
  uint32_t pair = b_.op(Op::OpCompositeConstruct, v2, {x, b_.c_float(f32, 32, 0.0)});
  uint32_t packed = b_.ext(u32, GLSLstd450PackHalf2x16, {pair});
  uint32_t back = b_.ext(v2, GLSLstd450UnpackHalf2x16, {packed});
  return b_.op(Op::OpCompositeExtract, f32, {back, 0});
}

uint32_t CodeGenSpirv::convert(uint32_t v, DataType from, DataType to) {
  if (from.is_bfloat() || to.is_bfloat()) fail("bf16 casts are not supported");
  DataType rf = reg_dtype(from), rt = reg_dtype(to);
  uint32_t ty = reg_type(to), tb = b_.t_bool();
  if (from == to) return v;
  if (rf == rt) {  // f16 <-> f32 with f16 kept in f32 registers
    return to.is_float() && to.bits == 16 ? round_to_half(v) : v;
  }
  if (to.is_bool()) {
    if (from.is_float()) return b_.op(Op::OpFUnordNotEqual, tb, {v, constant(from, 0)});
    return b_.op(Op::OpINotEqual, tb, {v, constant(from, 0)});
  }
  if (from.is_bool()) return b_.op(Op::OpSelect, ty, {v, constant(to, 1), constant(to, 0)});
  if (from.is_integer() && to.is_integer()) {
    // OpUConvert makes an unsigned result; the signedness is fixed up by a bitcast.
    uint32_t r = v;
    bool is_signed = from.is_int();
    if (to.bits > from.bits && from.is_int()) {
      r = b_.op(Op::OpSConvert, b_.t_int(to.bits, true), {v});
    } else if (to.bits != from.bits) {
      r = b_.op(Op::OpUConvert, b_.t_int(to.bits, false), {v});
      is_signed = false;
    }
    return is_signed == to.is_int() ? r : b_.op(Op::OpBitcast, ty, {r});
  }
  if (from.is_integer())
    return b_.op(from.is_int() ? Op::OpConvertSToF : Op::OpConvertUToF, ty, {v});
  if (to.is_integer()) {
    // Saturating with NaN to 0 (the interpreter's rule): clamp in f32 to the largest
    // floats inside the integer range, then convert.
    uint32_t f32 = b_.t_float(32);
    uint32_t x = convert(v, from, DataType::f32());
    double lo = to.is_int() ? -std::ldexp(1.0, to.bits - 1) : 0.0;
    double hi_exact = to.is_int() ? std::ldexp(1.0, to.bits - 1) - 1 : std::ldexp(1.0, to.bits) - 1;
    float hi = static_cast<float>(hi_exact);
    if (static_cast<double>(hi) > hi_exact) hi = std::nextafter(hi, 0.0f);
    uint32_t clamped =
        b_.ext(f32, GLSLstd450FClamp, {x, b_.c_float(f32, 32, lo), b_.c_float(f32, 32, hi)});
    uint32_t nan = b_.op(Op::OpIsNan, tb, {x});
    clamped = b_.op(Op::OpSelect, f32, {nan, b_.c_float(f32, 32, 0.0), clamped});
    return b_.op(to.is_int() ? Op::OpConvertFToS : Op::OpConvertFToU, ty, {clamped});
  }
  return b_.op(Op::OpFConvert, ty, {v});  // f16 <-> f32
}

// ---- Loads ------------------------------------------------------------------------------

Lanes CodeGenSpirv::emit_load(const BufferLoadNode* op) {
  if (op->indices.size() != 1)
    fail("load of buffer '" + op->buffer->name + "', which was not flattened");
  const BufferInfo& info = buffer_info(op->buffer);
  if (int piece = vector_piece(op->buffer, op->indices[0])) return load_vector(op, piece);
  DataType et = op->buffer->dtype.element_of();
  DataType it = op->indices[0].dtype().element_of();
  Lanes idx = widen(emit(op->indices[0]), op->dtype.lanes), r;
  for (uint32_t i : idx) {
    if (info.packed) {
      r.push_back(load_packed(op->buffer, i, it));
      continue;
    }
    uint32_t v = b_.op(Op::OpLoad, info.elem, {element_ptr(op->buffer, i, it)});
    if (info.sc == spv::StorageClass::StorageBuffer && reg_dtype(et) != et)
      v = b_.op(Op::OpFConvert, reg_type(et), {v});
    r.push_back(v);
  }
  return r;
}

// The 16 bits of element `index` of a packed buffer, as a register value of its dtype.
uint32_t CodeGenSpirv::load_packed(const Buffer& buf, uint32_t index, DataType index_type) {
  DataType et = buf->dtype.element_of();
  uint32_t u32 = b_.t_int(32, false), i32 = b_.t_int(32, true), f32 = b_.t_float(32);
  uint32_t i = convert(index, index_type, DataType::i32());
  uint32_t word_index = b_.op(Op::OpShiftRightArithmetic, i32, {i, b_.c_i32(1)});
  uint32_t word = b_.op(Op::OpLoad, u32, {element_ptr(buf, word_index, DataType::i32())});
  uint32_t shift = b_.op(
      Op::OpShiftLeftLogical, u32,
      {b_.op(Op::OpBitcast, u32, {b_.op(Op::OpBitwiseAnd, i32, {i, b_.c_i32(1)})}), b_.c_u32(4)});
  uint32_t bits = b_.op(Op::OpShiftRightLogical, u32, {word, shift});
  if (et.is_float()) {
    uint32_t pair = b_.ext(b_.t_vector(f32, 2), GLSLstd450UnpackHalf2x16, {bits});
    uint32_t x = b_.op(Op::OpCompositeExtract, f32, {pair, 0});
    return reg_dtype(et) == et ? b_.op(Op::OpFConvert, reg_type(et), {x}) : x;
  }
  return convert(b_.op(Op::OpBitwiseAnd, u32, {bits, b_.c_u32(0xffff)}), DataType::u32(), et);
}

// Two atomics per element: the neighbour in the same word may be written at the same time
// by another invocation, and each atomic touches only this element's half.
void CodeGenSpirv::store_packed(const Buffer& buf, uint32_t index, DataType index_type,
                                uint32_t value) {
  DataType et = buf->dtype.element_of();
  uint32_t u32 = b_.t_int(32, false), i32 = b_.t_int(32, true), f32 = b_.t_float(32);
  uint32_t bits;
  if (et.is_float()) {
    uint32_t x = reg_dtype(et) == et ? b_.op(Op::OpFConvert, f32, {value}) : value;
    uint32_t pair =
        b_.op(Op::OpCompositeConstruct, b_.t_vector(f32, 2), {x, b_.c_float(f32, 32, 0.0)});
    bits = b_.ext(u32, GLSLstd450PackHalf2x16, {pair});
  } else {
    bits = b_.op(Op::OpBitwiseAnd, u32, {convert(value, et, DataType::u32()), b_.c_u32(0xffff)});
  }
  uint32_t i = convert(index, index_type, DataType::i32());
  uint32_t word_index = b_.op(Op::OpShiftRightArithmetic, i32, {i, b_.c_i32(1)});
  uint32_t ptr = element_ptr(buf, word_index, DataType::i32());
  uint32_t shift = b_.op(
      Op::OpShiftLeftLogical, u32,
      {b_.op(Op::OpBitcast, u32, {b_.op(Op::OpBitwiseAnd, i32, {i, b_.c_i32(1)})}), b_.c_u32(4)});
  uint32_t keep =
      b_.op(Op::OpNot, u32, {b_.op(Op::OpShiftLeftLogical, u32, {b_.c_u32(0xffff), shift})});
  uint32_t scope = b_.c_u32(static_cast<uint32_t>(spv::Scope::Device));
  uint32_t relaxed = b_.c_u32(0);
  b_.op(Op::OpAtomicAnd, u32, {ptr, scope, relaxed, keep});
  b_.op(Op::OpAtomicOr, u32,
        {ptr, scope, relaxed, b_.op(Op::OpShiftLeftLogical, u32, {bits, shift})});
}

}  // namespace mlcc::codegen::spirv
