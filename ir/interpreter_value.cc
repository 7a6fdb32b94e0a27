// Lane-level semantics of the interpreter: integer wrapping, float rounding, the binary
// operators, casts, bit reinterpretation, math intrinsics and the memory layout of
// elements. ir/interpreter.h states the rules these implement.
#include <cmath>
#include <limits>

#include "ir/half.h"
#include "ir/interpreter_impl.h"

namespace mlcc::ir::interp {

int64_t wrap_int(DataType t, int64_t v) {
  if (t.is_bool()) return v != 0;
  if (t.bits >= 64) return v;
  uint64_t u = static_cast<uint64_t>(v) & ((uint64_t{1} << t.bits) - 1);
  if (t.is_uint()) return static_cast<int64_t>(u);
  uint64_t sign = uint64_t{1} << (t.bits - 1);
  return static_cast<int64_t>((u ^ sign) - sign);
}

double round_float(DataType t, double v) {
  if (t.is_bfloat()) return round_to_bf16(static_cast<float>(v));
  if (t.bits == 16) return round_to_half(static_cast<float>(v));
  if (t.bits == 32) return static_cast<float>(v);
  return v;
}

namespace {

bool is_u64(DataType t) { return t.is_uint() && t.bits == 64; }

bool int_less(DataType t, int64_t x, int64_t y) {
  return is_u64(t) ? static_cast<uint64_t>(x) < static_cast<uint64_t>(y) : x < y;
}

int64_t int_div(DataType t, int64_t x, int64_t y, bool mod) {
  if (y == 0) throw OpError{"integer division by zero"};
  if (is_u64(t)) {
    uint64_t a = static_cast<uint64_t>(x), b = static_cast<uint64_t>(y);
    return static_cast<int64_t>(mod ? a % b : a / b);
  }
  if (y == -1) return mod ? 0 : static_cast<int64_t>(0 - static_cast<uint64_t>(x));
  int64_t q = x / y, r = x % y;
  if (r != 0 && ((r < 0) != (y < 0))) --q, r += y;
  return mod ? r : q;
}

int64_t int_binary(NodeKind k, DataType t, int64_t x, int64_t y) {
  uint64_t ux = static_cast<uint64_t>(x), uy = static_cast<uint64_t>(y);
  switch (k) {
    case NodeKind::kAdd:
      return wrap_int(t, static_cast<int64_t>(ux + uy));
    case NodeKind::kSub:
      return wrap_int(t, static_cast<int64_t>(ux - uy));
    case NodeKind::kMul:
      return wrap_int(t, static_cast<int64_t>(ux * uy));
    case NodeKind::kDiv:
      return wrap_int(t, int_div(t, x, y, false));
    case NodeKind::kMod:
      return wrap_int(t, int_div(t, x, y, true));
    case NodeKind::kMin:
      return int_less(t, y, x) ? y : x;
    case NodeKind::kMax:
      return int_less(t, x, y) ? y : x;
    case NodeKind::kEQ:
      return x == y;
    case NodeKind::kNE:
      return x != y;
    case NodeKind::kLT:
      return int_less(t, x, y);
    case NodeKind::kLE:
      return !int_less(t, y, x);
    case NodeKind::kGT:
      return int_less(t, y, x);
    case NodeKind::kGE:
      return !int_less(t, x, y);
    case NodeKind::kAnd:
      return x && y;
    case NodeKind::kOr:
      return x || y;
    case NodeKind::kBitAnd:
      return wrap_int(t, x & y);
    case NodeKind::kBitOr:
      return wrap_int(t, x | y);
    case NodeKind::kBitXor:
      return wrap_int(t, x ^ y);
    case NodeKind::kShl:
    case NodeKind::kShr: {
      if (y < 0 || y >= t.bits)
        throw OpError{"shift amount " + std::to_string(y) + " out of range for " + to_string(t)};
      if (k == NodeKind::kShl) return wrap_int(t, static_cast<int64_t>(ux << y));
      return t.is_int() ? x >> y : wrap_int(t, static_cast<int64_t>(ux >> y));
    }
    default:
      break;
  }
  throw OpError{std::string("unsupported integer operator ") + kind_name(k)};
}

double nan_or(double x, double y, double r) { return std::isnan(x) || std::isnan(y) ? NAN : r; }

// Returns the float result in *f, or a comparison result in *i.
void float_binary(NodeKind k, DataType t, double x, double y, Lane* out) {
  switch (k) {
    case NodeKind::kAdd:
      out->f = round_float(t, x + y);
      return;
    case NodeKind::kSub:
      out->f = round_float(t, x - y);
      return;
    case NodeKind::kMul:
      out->f = round_float(t, x * y);
      return;
    case NodeKind::kDiv:
      out->f = round_float(t, x / y);
      return;
    case NodeKind::kMod:
      out->f = round_float(t, x - y * std::floor(x / y));
      return;
    case NodeKind::kMin:
      out->f = nan_or(x, y, y < x ? y : x);
      return;
    case NodeKind::kMax:
      out->f = nan_or(x, y, x < y ? y : x);
      return;
    case NodeKind::kEQ:
      out->i = x == y;
      return;
    case NodeKind::kNE:
      out->i = x != y;
      return;
    case NodeKind::kLT:
      out->i = x < y;
      return;
    case NodeKind::kLE:
      out->i = x <= y;
      return;
    case NodeKind::kGT:
      out->i = x > y;
      return;
    case NodeKind::kGE:
      out->i = x >= y;
      return;
    default:
      break;
  }
  throw OpError{std::string(kind_name(k)) + " is not defined on " + to_string(t)};
}

int64_t float_to_int(DataType t, double d) {
  if (std::isnan(d)) return 0;
  double v = std::trunc(d);
  if (t.is_bool()) return v != 0;
  if (t.is_uint()) {
    if (v <= 0) return 0;
    if (v >= std::ldexp(1.0, t.bits)) return wrap_int(t, -1);  // all ones
    return static_cast<int64_t>(static_cast<uint64_t>(v));
  }
  double hi = std::ldexp(1.0, t.bits - 1);
  if (v >= hi) return t.bits >= 64 ? std::numeric_limits<int64_t>::max() : int64_t(hi) - 1;
  if (v <= -hi) return t.bits >= 64 ? std::numeric_limits<int64_t>::min() : -int64_t(hi);
  return static_cast<int64_t>(v);
}

double int_to_double(DataType from, int64_t v) {
  return is_u64(from) ? static_cast<double>(static_cast<uint64_t>(v)) : static_cast<double>(v);
}

}  // namespace

Value binary_op(NodeKind k, DataType t, const Value& a, const Value& b) {
  DataType ot = a.type().element_of();
  Value r(t);
  int lanes = t.lanes;
  if (ot.is_float()) {
    for (int i = 0; i < lanes; ++i) float_binary(k, ot, a.f(i), b.f(i), &r[i]);
  } else {
    for (int i = 0; i < lanes; ++i) r[i].i = int_binary(k, ot, a.i(i), b.i(i));
  }
  return r;
}

Value not_op(const Value& a) {
  Value r(a.type());
  for (int i = 0; i < a.lanes(); ++i) r[i].i = !a[i].i;
  return r;
}

Value select_op(const Value& cond, const Value& t, const Value& f) {
  int lanes = std::max(t.lanes(), f.lanes());
  Value r(t.type().with_lanes(lanes));
  for (int i = 0; i < lanes; ++i) {
    const Value& src = cond.i(i) ? t : f;
    r[i] = src[src.lanes() == 1 ? 0 : i];
  }
  return r;
}

Value cast_value(DataType t, const Value& v) {
  DataType from = v.type().element_of(), to = t.element_of();
  if (from.is_handle() || from.is_void() || to.is_handle() || to.is_void())
    throw OpError{"cast between " + to_string(v.type()) + " and " + to_string(t)};
  Value r(t);
  for (int i = 0; i < t.lanes; ++i) {
    if (to.is_float()) {
      r[i].f = round_float(to, from.is_float() ? v.f(i) : int_to_double(from, v.i(i)));
    } else if (from.is_float()) {
      r[i].i = float_to_int(to, v.f(i));
    } else {
      r[i].i = to.is_bool() ? v.i(i) != 0 : wrap_int(to, v.i(i));
    }
  }
  return r;
}

Value reinterpret_value(DataType t, const Value& v) {
  DataType from = v.type().element_of(), to = t.element_of();
  if (from.is_bool() || to.is_bool() || from.bits * v.lanes() != to.bits * t.lanes)
    throw OpError{"reinterpret of " + to_string(v.type()) + " as " + to_string(t)};
  std::vector<uint8_t> bytes(static_cast<size_t>(from.bits / 8) * v.lanes());
  for (int i = 0; i < v.lanes(); ++i) store_lane(from, bytes.data() + i * (from.bits / 8), v[i]);
  Value r(t);
  for (int i = 0; i < t.lanes; ++i) load_lane(to, bytes.data() + i * (to.bits / 8), &r[i]);
  return r;
}

Value math_op(Intrinsic op, DataType t, const std::vector<Value>& args) {
  size_t want = op == Intrinsic::kPow ? 2 : op == Intrinsic::kFma ? 3 : 1;
  if (args.size() != want)
    throw OpError{std::string(intrinsic_name(op)) + " takes " + std::to_string(want) +
                  " arguments, got " + std::to_string(args.size())};
  for (const Value& a : args)
    if (!a.type().is_float() || !t.is_float())
      throw OpError{std::string(intrinsic_name(op)) + " needs float operands, got " +
                    to_string(a.type())};
  Value r(t);
  for (int i = 0; i < t.lanes; ++i) {
    double x = args[0].f(i), v = 0;
    switch (op) {
      case Intrinsic::kExp:
        v = std::exp(x);
        break;
      case Intrinsic::kLog:
        v = std::log(x);
        break;
      case Intrinsic::kSqrt:
        v = std::sqrt(x);
        break;
      case Intrinsic::kRsqrt:
        v = 1.0 / std::sqrt(x);
        break;
      case Intrinsic::kTanh:
        v = std::tanh(x);
        break;
      case Intrinsic::kFabs:
        v = std::fabs(x);
        break;
      case Intrinsic::kFloor:
        v = std::floor(x);
        break;
      case Intrinsic::kCeil:
        v = std::ceil(x);
        break;
      case Intrinsic::kErf:
        v = std::erf(x);
        break;
      case Intrinsic::kPow:
        v = std::pow(x, args[1].f(i));
        break;
      case Intrinsic::kFma:
        v = std::fma(x, args[1].f(i), args[2].f(i));
        break;
      default:
        throw OpError{std::string(intrinsic_name(op)) + " is not a math intrinsic"};
    }
    r[i].f = round_float(t, v);
  }
  return r;
}

Value reduce_op(ReduceKind k, const Value& a, const Value& b) {
  NodeKind op = k == ReduceKind::kSum   ? NodeKind::kAdd
                : k == ReduceKind::kMax ? NodeKind::kMax
                                        : NodeKind::kMin;
  return binary_op(op, a.type(), a, b);
}

// ---- Memory layout ----------------------------------------------------------------------

namespace {
template <typename T>
T read_as(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
void write_as(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
[[noreturn]] void bad_elem(DataType e) {
  throw OpError{"no memory layout for element type " + to_string(e)};
}
}  // namespace

void load_lane(DataType e, const uint8_t* p, Lane* out) {
  switch (e.code) {
    case TypeCode::kBool:
      out->i = *p != 0;
      return;
    case TypeCode::kInt:
      switch (e.bits) {
        case 8:
          out->i = read_as<int8_t>(p);
          return;
        case 16:
          out->i = read_as<int16_t>(p);
          return;
        case 32:
          out->i = read_as<int32_t>(p);
          return;
        case 64:
          out->i = read_as<int64_t>(p);
          return;
      }
      break;
    case TypeCode::kUInt:
      switch (e.bits) {
        case 8:
          out->i = read_as<uint8_t>(p);
          return;
        case 16:
          out->i = read_as<uint16_t>(p);
          return;
        case 32:
          out->i = read_as<uint32_t>(p);
          return;
        case 64:
          out->i = static_cast<int64_t>(read_as<uint64_t>(p));
          return;
      }
      break;
    case TypeCode::kFloat:
      switch (e.bits) {
        case 16:
          out->f = half_to_float(read_as<uint16_t>(p));
          return;
        case 32:
          out->f = read_as<float>(p);
          return;
        case 64:
          out->f = read_as<double>(p);
          return;
      }
      break;
    case TypeCode::kBFloat:
      out->f = bf16_to_float(read_as<uint16_t>(p));
      return;
    case TypeCode::kHandle:
      break;
  }
  bad_elem(e);
}

void store_lane(DataType e, uint8_t* p, Lane v) {
  switch (e.code) {
    case TypeCode::kBool:
      *p = v.i != 0;
      return;
    case TypeCode::kInt:
    case TypeCode::kUInt:
      switch (e.bits) {
        case 8:
          write_as(p, static_cast<uint8_t>(v.i));
          return;
        case 16:
          write_as(p, static_cast<uint16_t>(v.i));
          return;
        case 32:
          write_as(p, static_cast<uint32_t>(v.i));
          return;
        case 64:
          write_as(p, static_cast<uint64_t>(v.i));
          return;
      }
      break;
    case TypeCode::kFloat:
      switch (e.bits) {
        case 16:
          write_as(p, float_to_half(static_cast<float>(v.f)));
          return;
        case 32:
          write_as(p, static_cast<float>(v.f));
          return;
        case 64:
          write_as(p, v.f);
          return;
      }
      break;
    case TypeCode::kBFloat:
      write_as(p, float_to_bf16(static_cast<float>(v.f)));
      return;
    case TypeCode::kHandle:
      break;
  }
  bad_elem(e);
}

void poison(DataType e, uint8_t* p, size_t count) {
  if (!e.is_float()) {
    std::memset(p, 0xCD, count * e.bytes());
    return;
  }
  Lane nan;
  nan.f = std::numeric_limits<double>::quiet_NaN();
  for (size_t i = 0; i < count; ++i) store_lane(e, p + i * e.bytes(), nan);
}

}  // namespace mlcc::ir::interp
