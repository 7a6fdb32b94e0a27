// Constant folding: the exact value of an operator on immediates, in the operator's type.
#include "ir/arith/const_fold.h"

#include <cmath>
#include <limits>

#include "ir/half.h"

namespace mlcc::ir::arith {

int64_t floordiv(int64_t a, int64_t b) {
  if (b == -1) return static_cast<int64_t>(0 - static_cast<uint64_t>(a));  // INT64_MIN wraps
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floormod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

int64_t gcd(int64_t a, int64_t b) {
  uint64_t x = a < 0 ? 0 - static_cast<uint64_t>(a) : a;
  uint64_t y = b < 0 ? 0 - static_cast<uint64_t>(b) : b;
  while (y) {
    uint64_t t = x % y;
    x = y;
    y = t;
  }
  return static_cast<int64_t>(x);
}

int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

int64_t wrap_signed(DataType t, int64_t v) {
  if (t.is_bool()) return v != 0;
  if (t.bits >= 64) return v;
  int shift = 64 - t.bits;
  return static_cast<int64_t>(static_cast<uint64_t>(v) << shift) >> shift;
}

int64_t wrap_to(DataType t, int64_t v) {
  if (t.is_bool()) return v != 0;
  if (t.is_uint() && t.bits < 64)
    return static_cast<int64_t>(static_cast<uint64_t>(v) & ((uint64_t{1} << t.bits) - 1));
  return wrap_signed(t, v);
}

int64_t type_min(DataType t) {
  if (t.is_bool() || t.is_uint()) return 0;
  if (t.bits >= 64) return std::numeric_limits<int64_t>::min();
  return -(int64_t{1} << (t.bits - 1));
}

int64_t type_max(DataType t) {
  if (t.is_bool()) return 1;
  if (t.bits >= 64) return std::numeric_limits<int64_t>::max();
  if (t.is_uint()) return static_cast<int64_t>((uint64_t{1} << t.bits) - 1);
  return (int64_t{1} << (t.bits - 1)) - 1;
}

double round_float(DataType t, double v) {
  if (t.bits == 64) return v;
  float f = static_cast<float>(v);
  if (t.is_bfloat()) return mlcc::round_to_bf16(f);
  if (t.bits == 16) return mlcc::round_to_half(f);
  return f;
}

Expr make_imm(DataType t, int64_t v) {
  if (t.is_float()) return make_float_imm(t, static_cast<double>(v));
  return Expr(std::make_shared<const IntImmNode>(t, wrap_to(t, v)));
}

Expr make_float_imm(DataType t, double v) {
  return Expr(std::make_shared<const FloatImmNode>(t, round_float(t, v)));
}

namespace {

Expr make_bool(bool v) { return make_imm(DataType::boolean(), v); }

// The six comparisons, shared by integer and float folding.
template <typename T>
bool compare(NodeKind k, T x, T y) {
  switch (k) {
    case NodeKind::kEQ:
      return x == y;
    case NodeKind::kNE:
      return x != y;
    case NodeKind::kLT:
      return x < y;
    case NodeKind::kLE:
      return x <= y;
    case NodeKind::kGT:
      return x > y;
    default:
      return x >= y;
  }
}

Expr fold_int(NodeKind k, DataType t, int64_t x, int64_t y) {
  // Unsigned operands are held zero-extended, so comparisons and floor ops on them are the
  // unsigned ones.
  switch (k) {
    case NodeKind::kAdd:
      return make_imm(t, wrap_add(x, y));
    case NodeKind::kSub:
      return make_imm(t, wrap_add(x, wrap_mul(y, -1)));
    case NodeKind::kMul:
      return make_imm(t, wrap_mul(x, y));
    case NodeKind::kDiv:
      return y == 0 ? Expr() : make_imm(t, floordiv(x, y));
    case NodeKind::kMod:
      return y == 0 ? Expr() : make_imm(t, floormod(x, y));
    case NodeKind::kMin:
      return make_imm(t, x < y ? x : y);
    case NodeKind::kMax:
      return make_imm(t, x > y ? x : y);
    case NodeKind::kEQ:
    case NodeKind::kNE:
    case NodeKind::kLT:
    case NodeKind::kLE:
    case NodeKind::kGT:
    case NodeKind::kGE:
      return make_bool(compare(k, x, y));
    case NodeKind::kAnd:
      return make_bool(x && y);
    case NodeKind::kOr:
      return make_bool(x || y);
    case NodeKind::kBitAnd:
      return make_imm(t, x & y);
    case NodeKind::kBitOr:
      return make_imm(t, x | y);
    case NodeKind::kBitXor:
      return make_imm(t, x ^ y);
    case NodeKind::kShl:
      if (y < 0 || y >= t.bits) return Expr();
      return make_imm(t, static_cast<int64_t>(static_cast<uint64_t>(x) << y));
    case NodeKind::kShr:
      if (y < 0 || y >= t.bits) return Expr();
      if (t.is_uint()) return make_imm(t, static_cast<int64_t>(static_cast<uint64_t>(x) >> y));
      return make_imm(t, x >> y);
    default:
      return Expr();
  }
}

Expr fold_float(NodeKind k, DataType t, double x, double y) {
  // An immediate of a narrow type means the nearest value of that type.
  x = round_float(t, x), y = round_float(t, y);
  switch (k) {
    case NodeKind::kAdd:
      return make_float_imm(t, t.bits == 64 ? x + y : double(float(x) + float(y)));
    case NodeKind::kSub:
      return make_float_imm(t, t.bits == 64 ? x - y : double(float(x) - float(y)));
    case NodeKind::kMul:
      return make_float_imm(t, t.bits == 64 ? x * y : double(float(x) * float(y)));
    case NodeKind::kDiv:
      return make_float_imm(t, t.bits == 64 ? x / y : double(float(x) / float(y)));
    case NodeKind::kMin:
      if (std::isnan(x) || std::isnan(y)) return Expr();
      return make_float_imm(t, x < y ? x : y);
    case NodeKind::kMax:
      if (std::isnan(x) || std::isnan(y)) return Expr();
      return make_float_imm(t, x > y ? x : y);
    case NodeKind::kEQ:
    case NodeKind::kNE:
    case NodeKind::kLT:
    case NodeKind::kLE:
    case NodeKind::kGT:
    case NodeKind::kGE:
      return make_bool(compare(k, x, y));
    default:
      return Expr();
  }
}

}  // namespace

Expr fold_binary(NodeKind k, const Expr& a, const Expr& b) {
  if (!a.defined() || !b.defined() || a.dtype() != b.dtype()) return Expr();
  DataType t = a.dtype();
  if (const auto* x = a.as<IntImmNode>()) {
    if (const auto* y = b.as<IntImmNode>()) return fold_int(k, t, x->value, y->value);
    return Expr();
  }
  if (const auto* x = a.as<FloatImmNode>()) {
    if (const auto* y = b.as<FloatImmNode>()) return fold_float(k, t, x->value, y->value);
  }
  return Expr();
}

Expr fold_cast(DataType t, const Expr& v) {
  if (t.is_vector() || t.is_handle() || t.is_void()) return Expr();
  if (const auto* i = v.as<IntImmNode>()) {
    if (t.is_bool()) return make_imm(t, i->value != 0);
    if (t.is_float()) {
      double d = v.dtype().is_uint() ? static_cast<double>(static_cast<uint64_t>(i->value))
                                     : static_cast<double>(i->value);
      return make_float_imm(t, d);
    }
    return make_imm(t, i->value);
  }
  if (const auto* f = v.as<FloatImmNode>()) {
    if (t.is_float()) return make_float_imm(t, f->value);
    if (t.is_bool()) return make_imm(t, f->value != 0);
    double tr = std::trunc(f->value);
    if (std::isnan(tr) || tr < static_cast<double>(type_min(t)) ||
        tr > static_cast<double>(type_max(t)))
      return Expr();
    return make_imm(t, static_cast<int64_t>(tr));
  }
  return Expr();
}

Expr fold_not(const Expr& v) {
  const auto* i = v.as<IntImmNode>();
  if (!i || !v.dtype().is_bool()) return Expr();
  return make_bool(i->value == 0);
}

}  // namespace mlcc::ir::arith
