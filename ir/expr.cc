// Constructors and builder functions of the tensor IR, with the type rules of binary ops.
#include "ir/expr.h"

#include <cmath>
#include <limits>
#include <unordered_set>

#include "runtime/error.h"

namespace mlcc::ir {

const char* kind_name(NodeKind k) {
  switch (k) {
#define MLCC_X(kind, s)   \
  case NodeKind::k##kind: \
    return #kind;
    MLCC_EXPR_KINDS(MLCC_X) MLCC_STMT_KINDS(MLCC_X)
#undef MLCC_X
  }
  return "?";
}

const char* scope_name(MemScope s) {
  switch (s) {
    case MemScope::kGlobal:
      return "global";
    case MemScope::kShared:
      return "shared";
    case MemScope::kLocal:
      return "local";
  }
  return "?";
}

const char* intrinsic_name(Intrinsic op) {
  switch (op) {
    case Intrinsic::kExp:
      return "exp";
    case Intrinsic::kLog:
      return "log";
    case Intrinsic::kSqrt:
      return "sqrt";
    case Intrinsic::kRsqrt:
      return "rsqrt";
    case Intrinsic::kTanh:
      return "tanh";
    case Intrinsic::kFabs:
      return "fabs";
    case Intrinsic::kFloor:
      return "floor";
    case Intrinsic::kCeil:
      return "ceil";
    case Intrinsic::kPow:
      return "pow";
    case Intrinsic::kFma:
      return "fma";
    case Intrinsic::kErf:
      return "erf";
    case Intrinsic::kReinterpret:
      return "reinterpret";
    case Intrinsic::kSyncThreads:
      return "sync_threads";
    case Intrinsic::kWarpShuffleXor:
      return "warp_shuffle_xor";
    case Intrinsic::kWarpShuffleDown:
      return "warp_shuffle_down";
    case Intrinsic::kThreadAllReduce:
      return "thread_allreduce";
    case Intrinsic::kMmaSync:
      return "mma_m16n8k16";
    case Intrinsic::kDotI16Pairs:
      return "dot_i16_pairs";
  }
  return "?";
}

const char* reduce_name(ReduceKind k) {
  switch (k) {
    case ReduceKind::kSum:
      return "sum";
    case ReduceKind::kMax:
      return "max";
    case ReduceKind::kMin:
      return "min";
  }
  return "?";
}

const char* for_kind_name(ForKind k) {
  switch (k) {
    case ForKind::kSerial:
      return "serial";
    case ForKind::kParallel:
      return "parallel";
    case ForKind::kVectorized:
      return "vectorized";
    case ForKind::kUnrolled:
      return "unrolled";
    case ForKind::kThreadBinding:
      return "thread_binding";
  }
  return "?";
}

const char* thread_axis_name(ThreadAxis a) {
  switch (a) {
    case ThreadAxis::kNone:
      return "none";
    case ThreadAxis::kBlockX:
      return "blockIdx.x";
    case ThreadAxis::kBlockY:
      return "blockIdx.y";
    case ThreadAxis::kBlockZ:
      return "blockIdx.z";
    case ThreadAxis::kThreadX:
      return "threadIdx.x";
    case ThreadAxis::kThreadY:
      return "threadIdx.y";
    case ThreadAxis::kThreadZ:
      return "threadIdx.z";
  }
  return "?";
}

Expr::Expr(int v) : Expr(std::make_shared<const IntImmNode>(DataType::i32(), v)) {}
Expr::Expr(int64_t v) : Expr(std::make_shared<const IntImmNode>(DataType::i64(), v)) {}
Expr::Expr(double v) : Expr(std::make_shared<const FloatImmNode>(DataType::f32(), v)) {}

Var::Var(std::string name, DataType t)
    : Expr(std::make_shared<const VarNode>(t, std::move(name))) {}

Buffer Buffer::make(std::string name, DataType dtype, std::vector<Expr> shape, MemScope scope,
                    std::vector<Expr> strides, int alignment) {
  MLCC_CHECK(strides.empty() || strides.size() == shape.size(), "strides rank != shape rank");
  auto n = std::make_shared<BufferNode>();
  n->name = std::move(name);
  n->dtype = dtype;
  n->shape = std::move(shape);
  n->strides = std::move(strides);
  n->scope = scope;
  n->alignment = alignment;
  return Buffer(std::move(n));
}

Expr Buffer::operator()(std::vector<Expr> indices) const {
  if (indices.size() != ndim())
    throw Error("buffer '" + ptr_->name + "' has " + std::to_string(ndim()) +
                " dimensions but was indexed with " + std::to_string(indices.size()));
  int lanes = indices.empty() ? 1 : indices.back().dtype().lanes;
  return Expr(std::make_shared<const BufferLoadNode>(ptr_->dtype.with_lanes(lanes), *this,
                                                     std::move(indices)));
}

Expr Buffer::linear_index(const std::vector<Expr>& indices) const {
  MLCC_CHECK(indices.size() == ndim(), "index rank mismatch for " + ptr_->name);
  if (indices.empty()) return Expr(0);
  Expr offset;
  if (!ptr_->strides.empty()) {
    for (size_t i = 0; i < indices.size(); ++i) {
      Expr term = is_const_int(ptr_->strides[i], 1) ? indices[i] : indices[i] * ptr_->strides[i];
      offset = offset ? offset + term : term;
    }
    return offset;
  }
  offset = indices[0];
  for (size_t i = 1; i < indices.size(); ++i) offset = offset * ptr_->shape[i] + indices[i];
  return offset;
}

PrimFunc make_prim_func(std::string name, std::vector<Buffer> buffers, Stmt body,
                        std::vector<Var> extra_scalars) {
  PrimFunc f{std::move(name), std::move(buffers), {}, std::move(body)};
  std::unordered_set<const VarNode*> seen;
  auto add = [&](const Var& v) {
    if (seen.insert(v.get()).second) f.scalars.push_back(v);
  };
  for (const Buffer& b : f.buffers)
    for (const Expr& dim : b->shape)
      if (dim.as<VarNode>()) add(Var(std::static_pointer_cast<const VarNode>(dim.ptr())));
  for (const Var& v : extra_scalars) add(v);
  return f;
}

Expr buffer_bytes(const Buffer& b) {
  Expr n = make_const(DataType::i64(), int64_t{b->dtype.bytes()});
  for (const Expr& dim : b->shape) n = n * cast(DataType::i64(), dim);
  return n;
}

Expr launch_bytes(const PrimFunc& f) {
  if (f.bytes.defined()) return f.bytes;
  Expr total = make_const(DataType::i64(), int64_t{0});
  for (const Buffer& b : f.buffers) total = total + buffer_bytes(b);
  return total;
}

// ---- Constants --------------------------------------------------------------------------

Expr make_const(DataType t, double v) {
  if (t.is_vector()) return broadcast(make_const(t.element_of(), v), t.lanes);
  if (t.is_float()) return Expr(std::make_shared<const FloatImmNode>(t, v));
  return Expr(std::make_shared<const IntImmNode>(t, static_cast<int64_t>(v)));
}

Expr make_const(DataType t, int64_t v) {
  if (t.is_vector()) return broadcast(make_const(t.element_of(), v), t.lanes);
  if (t.is_float()) return Expr(std::make_shared<const FloatImmNode>(t, static_cast<double>(v)));
  return Expr(std::make_shared<const IntImmNode>(t, v));
}

Expr make_zero(DataType t) { return make_const(t, int64_t{0}); }

bool is_const_int(const Expr& e, int64_t* value) {
  const auto* n = e.as<IntImmNode>();
  if (n && value) *value = n->value;
  return n != nullptr;
}

bool is_const_int(const Expr& e, int64_t value) {
  const auto* n = e.as<IntImmNode>();
  return n && n->value == value;
}

// ---- Operators --------------------------------------------------------------------------

namespace {

bool is_imm(const Expr& e) { return e.as<IntImmNode>() || e.as<FloatImmNode>(); }

Expr convert_imm(const Expr& e, DataType t) {
  if (const auto* i = e.as<IntImmNode>()) return make_const(t, i->value);
  const auto* f = e.as<FloatImmNode>();
  return t.is_float() ? make_const(t, f->value) : make_const(t, static_cast<int64_t>(f->value));
}

// Brings a and b to one type by the rules in expr.h; throws on a real mismatch.
void unify(NodeKind k, Expr& a, Expr& b) {
  MLCC_CHECK(a.defined() && b.defined(), std::string("undefined operand of ") + kind_name(k));
  if (a.dtype() == b.dtype()) return;
  DataType ta = a.dtype(), tb = b.dtype();
  if (ta.element_of() != tb.element_of()) {
    if (is_imm(b) && tb.is_scalar())
      b = convert_imm(b, ta.element_of());
    else if (is_imm(a) && ta.is_scalar())
      a = convert_imm(a, tb.element_of());
    else
      throw Error(std::string("type mismatch in ") + kind_name(k) + ": " + to_string(ta) + " vs " +
                  to_string(tb));
  }
  if (a.dtype().lanes != b.dtype().lanes) {
    if (a.dtype().is_scalar())
      a = broadcast(a, b.dtype().lanes);
    else if (b.dtype().is_scalar())
      b = broadcast(b, a.dtype().lanes);
    else
      throw Error(std::string("lane mismatch in ") + kind_name(k) + ": " + to_string(a.dtype()) +
                  " vs " + to_string(b.dtype()));
  }
}

}  // namespace

Expr binary(NodeKind k, Expr a, Expr b) {
  unify(k, a, b);
  DataType t = a.dtype();
  if (k >= NodeKind::kEQ && k <= NodeKind::kGE) t = DataType::boolean(t.lanes);
  if ((k == NodeKind::kAnd || k == NodeKind::kOr) && !t.is_bool())
    throw Error(std::string(kind_name(k)) + " needs bool operands, got " + to_string(t));
  if (k >= NodeKind::kBitAnd && k <= NodeKind::kShr && !t.is_integer() && !t.is_bool())
    throw Error(std::string(kind_name(k)) + " needs integer operands, got " + to_string(t));
  return Expr(std::make_shared<const BinaryNode>(k, t, std::move(a), std::move(b)));
}

Expr operator+(Expr a, Expr b) { return binary(NodeKind::kAdd, a, b); }
Expr operator-(Expr a, Expr b) { return binary(NodeKind::kSub, a, b); }
Expr operator*(Expr a, Expr b) { return binary(NodeKind::kMul, a, b); }
Expr operator/(Expr a, Expr b) { return binary(NodeKind::kDiv, a, b); }
Expr operator%(Expr a, Expr b) { return binary(NodeKind::kMod, a, b); }
Expr operator-(Expr a) { return binary(NodeKind::kSub, make_zero(a.dtype()), a); }
Expr operator<(Expr a, Expr b) { return binary(NodeKind::kLT, a, b); }
Expr operator<=(Expr a, Expr b) { return binary(NodeKind::kLE, a, b); }
Expr operator>(Expr a, Expr b) { return binary(NodeKind::kGT, a, b); }
Expr operator>=(Expr a, Expr b) { return binary(NodeKind::kGE, a, b); }
Expr operator&&(Expr a, Expr b) { return binary(NodeKind::kAnd, a, b); }
Expr operator||(Expr a, Expr b) { return binary(NodeKind::kOr, a, b); }
Expr operator&(Expr a, Expr b) { return binary(NodeKind::kBitAnd, a, b); }
Expr operator|(Expr a, Expr b) { return binary(NodeKind::kBitOr, a, b); }
Expr operator^(Expr a, Expr b) { return binary(NodeKind::kBitXor, a, b); }
Expr operator<<(Expr a, Expr b) { return binary(NodeKind::kShl, a, b); }
Expr operator>>(Expr a, Expr b) { return binary(NodeKind::kShr, a, b); }
Expr eq(Expr a, Expr b) { return binary(NodeKind::kEQ, a, b); }
Expr ne(Expr a, Expr b) { return binary(NodeKind::kNE, a, b); }
Expr min(Expr a, Expr b) { return binary(NodeKind::kMin, a, b); }
Expr max(Expr a, Expr b) { return binary(NodeKind::kMax, a, b); }

Expr operator!(Expr a) {
  if (!a.dtype().is_bool()) throw Error("Not needs a bool operand, got " + to_string(a.dtype()));
  return Expr(std::make_shared<const NotNode>(a.dtype(), a));
}

Expr select(Expr cond, Expr t, Expr f) {
  unify(NodeKind::kSelect, t, f);
  if (!cond.dtype().is_bool())
    throw Error("Select condition must be bool, got " + to_string(cond.dtype()));
  DataType ty = t.dtype();
  return Expr(std::make_shared<const SelectNode>(ty, std::move(cond), std::move(t), std::move(f)));
}

Expr cast(DataType t, Expr v) {
  if (v.dtype() == t) return v;
  if (v.dtype().is_scalar() && t.is_vector()) v = broadcast(v, t.lanes);
  if (v.dtype().lanes != t.lanes)
    throw Error("cast changes lanes: " + to_string(v.dtype()) + " to " + to_string(t));
  if (v.dtype() == t) return v;
  return Expr(std::make_shared<const CastNode>(t, std::move(v)));
}

Expr ramp(Expr base, Expr stride, int lanes) {
  MLCC_CHECK(base.dtype().is_scalar() && lanes > 1, "ramp needs a scalar base and lanes > 1");
  unify(NodeKind::kRamp, base, stride);
  DataType t = base.dtype().with_lanes(lanes);
  return Expr(std::make_shared<const RampNode>(t, std::move(base), std::move(stride), lanes));
}

Expr broadcast(Expr v, int lanes) {
  MLCC_CHECK(v.dtype().is_scalar(), "broadcast of a vector");
  if (lanes == 1) return v;
  DataType t = v.dtype().with_lanes(lanes);
  return Expr(std::make_shared<const BroadcastNode>(t, std::move(v), lanes));
}

Expr call(DataType t, Intrinsic op, std::vector<Expr> args) {
  return Expr(std::make_shared<const CallNode>(t, op, std::move(args)));
}

namespace {
Expr float_unary(Intrinsic op, Expr x) {
  if (!x.dtype().is_float())
    throw Error(std::string(intrinsic_name(op)) + " needs a float operand, got " +
                to_string(x.dtype()));
  DataType t = x.dtype();
  return call(t, op, {std::move(x)});
}
}  // namespace

Expr exp(Expr x) { return float_unary(Intrinsic::kExp, std::move(x)); }
Expr log(Expr x) { return float_unary(Intrinsic::kLog, std::move(x)); }
Expr sqrt(Expr x) { return float_unary(Intrinsic::kSqrt, std::move(x)); }
Expr rsqrt(Expr x) { return float_unary(Intrinsic::kRsqrt, std::move(x)); }
Expr tanh(Expr x) { return float_unary(Intrinsic::kTanh, std::move(x)); }
Expr fabs(Expr x) { return float_unary(Intrinsic::kFabs, std::move(x)); }

Expr mma_m16n8k16(Expr a, Expr b, Expr c) {
  if (a.dtype() != DataType::f16(8) || b.dtype() != DataType::f16(4) ||
      c.dtype() != DataType::f32(4))
    throw Error("mma_m16n8k16 takes (f16x8, f16x4, f32x4) fragments, not (" + to_string(a.dtype()) +
                ", " + to_string(b.dtype()) + ", " + to_string(c.dtype()) + ")");
  return call(DataType::f32(4), Intrinsic::kMmaSync, {std::move(a), std::move(b), std::move(c)});
}

bool dot_i16_pairs_types(DataType a, DataType b, DataType acc) {
  return a == b && a.is_int() && a.bits == 16 && acc == DataType::i32(acc.lanes) &&
         a.lanes == 2 * acc.lanes;
}

Expr dot_i16_pairs(Expr a, Expr b, Expr acc) {
  if (!dot_i16_pairs_types(a.dtype(), b.dtype(), acc.dtype()))
    throw Error("dot_i16_pairs takes (i16x2N, i16x2N, i32xN), not (" + to_string(a.dtype()) + ", " +
                to_string(b.dtype()) + ", " + to_string(acc.dtype()) + ")");
  DataType t = acc.dtype();
  return call(t, Intrinsic::kDotI16Pairs, {std::move(a), std::move(b), std::move(acc)});
}

Expr reinterpret(DataType t, Expr x) {
  if (t.bits * t.lanes != x.dtype().bits * x.dtype().lanes)
    throw Error("reinterpret between types of different size: " + to_string(x.dtype()) + " to " +
                to_string(t));
  return call(t, Intrinsic::kReinterpret, {std::move(x)});
}

Expr reduce_identity(ReduceKind k, DataType t) {
  if (k == ReduceKind::kSum) return make_zero(t);
  bool is_max = k == ReduceKind::kMax;
  if (t.is_float()) {
    double inf = std::numeric_limits<double>::infinity();
    return make_const(t, is_max ? -inf : inf);
  }
  int64_t lo, hi;
  if (t.is_uint()) {
    lo = 0;
    hi = t.bits >= 64 ? -1 : static_cast<int64_t>((uint64_t{1} << t.bits) - 1);
  } else {
    lo = t.bits >= 64 ? std::numeric_limits<int64_t>::min() : -(int64_t{1} << (t.bits - 1));
    hi = t.bits >= 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (t.bits - 1)) - 1;
  }
  return make_const(t, is_max ? lo : hi);
}

Expr reduce_combine(ReduceKind k, Expr a, Expr b) {
  switch (k) {
    case ReduceKind::kSum:
      return a + b;
    case ReduceKind::kMax:
      return max(a, b);
    case ReduceKind::kMin:
      return min(a, b);
  }
  return Expr();
}

// ---- Statements -------------------------------------------------------------------------

Stmt for_loop(Var v, Expr min, Expr extent, Stmt body, ForKind kind, ThreadAxis axis) {
  MLCC_CHECK((kind == ForKind::kThreadBinding) == (axis != ThreadAxis::kNone),
             "a thread axis goes with ForKind::kThreadBinding and only with it");
  MLCC_CHECK(body.defined(), "for loop without a body");
  return Stmt(std::make_shared<const ForNode>(std::move(v), std::move(min), std::move(extent), kind,
                                              axis, std::move(body)));
}

Stmt thread_loop(Var v, Expr extent, ThreadAxis axis, Stmt body) {
  return for_loop(std::move(v), Expr(0), std::move(extent), std::move(body),
                  ForKind::kThreadBinding, axis);
}

Stmt store(Buffer b, std::vector<Expr> indices, Expr value) {
  if (indices.size() != b.ndim())
    throw Error("buffer '" + b->name + "' has " + std::to_string(b.ndim()) +
                " dimensions but a store gave " + std::to_string(indices.size()) + " indices");
  DataType want = b->dtype.with_lanes(indices.empty() ? 1 : indices.back().dtype().lanes);
  if (value.dtype() != want) {
    if (is_imm(value)) value = convert_imm(value, want.element_of());
    if (value.dtype() != want && value.dtype().is_scalar() && want.is_vector())
      value = broadcast(value, want.lanes);
    if (value.dtype() != want)
      throw Error("store of " + to_string(value.dtype()) + " into buffer '" + b->name + "' of " +
                  to_string(want));
  }
  return Stmt(
      std::make_shared<const BufferStoreNode>(std::move(b), std::move(indices), std::move(value)));
}

Stmt allocate(Buffer b, Stmt body) {
  return Stmt(std::make_shared<const AllocateNode>(std::move(b), std::move(body)));
}

Stmt if_then_else(Expr cond, Stmt then_case, Stmt else_case) {
  if (!cond.dtype().is_bool() || cond.dtype().is_vector())
    throw Error("if condition must be a scalar bool, got " + to_string(cond.dtype()));
  return Stmt(std::make_shared<const IfThenElseNode>(std::move(cond), std::move(then_case),
                                                     std::move(else_case)));
}

Stmt let_stmt(Var v, Expr value, Stmt body) {
  if (v.dtype() != value.dtype())
    throw Error("let " + v.name() + ": variable is " + to_string(v.dtype()) + ", value is " +
                to_string(value.dtype()));
  return Stmt(std::make_shared<const LetStmtNode>(std::move(v), std::move(value), std::move(body)));
}

Stmt seq(std::vector<Stmt> stmts) {
  std::vector<Stmt> flat;
  for (Stmt& s : stmts) {
    if (!s.defined()) continue;
    if (const auto* sq = s.as<SeqNode>())
      flat.insert(flat.end(), sq->seq.begin(), sq->seq.end());
    else
      flat.push_back(std::move(s));
  }
  if (flat.size() == 1) return flat[0];
  return Stmt(std::make_shared<const SeqNode>(std::move(flat)));
}

Stmt evaluate(Expr v) { return Stmt(std::make_shared<const EvaluateNode>(std::move(v))); }

Stmt sync_threads() { return evaluate(call(DataType::void_type(), Intrinsic::kSyncThreads, {})); }

}  // namespace mlcc::ir
