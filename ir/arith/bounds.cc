// Constant integer bounds by interval arithmetic over the expression tree, with saturating
// infinities. Signed results are clamped to the type (index math is assumed not to
// overflow); an unsigned result that leaves the type's range becomes the whole range.
#include <algorithm>

#include "ir/arith/analyzer_impl.h"
#include "ir/arith/const_fold.h"

namespace mlcc::ir::arith {

namespace {

constexpr int64_t kNegInf = ConstIntBound::kNegInf;
constexpr int64_t kPosInf = ConstIntBound::kPosInf;

bool is_inf(int64_t x) { return x == kNegInf || x == kPosInf; }

// x + y where an infinity wins; `lower` says which infinity wins when both appear.
int64_t add_bound(int64_t x, int64_t y, bool lower) {
  int64_t inf_first = lower ? kNegInf : kPosInf, inf_second = lower ? kPosInf : kNegInf;
  if (x == inf_first || y == inf_first) return inf_first;
  if (x == inf_second || y == inf_second) return inf_second;
  int64_t r;
  if (__builtin_add_overflow(x, y, &r)) return x > 0 ? kPosInf : kNegInf;
  return r;
}

int64_t neg_bound(int64_t x) {
  if (x == kNegInf) return kPosInf;
  if (x == kPosInf) return kNegInf;
  return -x;
}

int64_t mul_bound(int64_t x, int64_t y) {
  if (x == 0 || y == 0) return 0;
  bool neg = (x < 0) != (y < 0);
  int64_t r;
  if (is_inf(x) || is_inf(y) || __builtin_mul_overflow(x, y, &r)) return neg ? kNegInf : kPosInf;
  return r;
}

// floor(x / d) for d > 0, where x may be infinite and d may be +inf.
int64_t div_bound(int64_t x, int64_t d) {
  if (is_inf(x)) return x;
  if (d == kPosInf) return x >= 0 ? 0 : -1;
  return floordiv(x, d);
}

ConstIntBound make(int64_t lo, int64_t hi) { return ConstIntBound{lo, hi}; }

ConstIntBound type_range(DataType t) {
  if (t.is_float() || t.bits >= 64) {
    if (t.is_uint()) return make(0, kPosInf);
    return make(kNegInf, kPosInf);
  }
  return make(type_min(t), type_max(t));
}

ConstIntBound intersect(ConstIntBound a, ConstIntBound b) {
  return make(std::max(a.min_value, b.min_value), std::min(a.max_value, b.max_value));
}

ConstIntBound corners(int64_t a, int64_t b, int64_t c, int64_t d) {
  return make(std::min({a, b, c, d}), std::max({a, b, c, d}));
}

ConstIntBound floordiv_bound(ConstIntBound x, ConstIntBound d) {
  if (d.min_value > 0)
    return corners(div_bound(x.min_value, d.min_value), div_bound(x.min_value, d.max_value),
                   div_bound(x.max_value, d.min_value), div_bound(x.max_value, d.max_value));
  if (d.max_value < 0)  // floor(x / d) == floor(-x / -d)
    return floordiv_bound(make(neg_bound(x.max_value), neg_bound(x.min_value)),
                          make(neg_bound(d.max_value), neg_bound(d.min_value)));
  return make(kNegInf, kPosInf);
}

ConstIntBound floormod_bound(ConstIntBound x, ConstIntBound d) {
  if (d.min_value > 0) {
    int64_t top = d.max_value == kPosInf ? kPosInf : d.max_value - 1;
    if (x.min_value >= 0 && x.max_value < d.min_value) return x;
    if (x.min_value >= 0) return make(0, std::min(x.max_value, top));
    return make(0, top);
  }
  if (d.max_value < 0) return make(d.min_value == kNegInf ? kNegInf : d.min_value + 1, 0);
  return make(kNegInf, kPosInf);
}

}  // namespace

ConstIntBound AnalyzerImpl::bound(const Expr& e) {
  DataType t = e.dtype();
  ConstIntBound full = type_range(t);
  if (t.is_float() || t.is_handle() || t.is_void()) return make(kNegInf, kPosInf);
  ConstIntBound r = full;
  NodeKind k = e.kind();
  if (const auto* n = e.as<IntImmNode>()) {
    return make(n->value, n->value);
  } else if (const auto* n = e.as<VarNode>()) {
    if (const VarInfo* info = find(n)) {
      r = make(info->lo, info->hi);
      if (info->value.defined()) r = intersect(r, bound(info->value));
    }
  } else if (const auto* n = e.as<BinaryNode>()) {
    if (k >= NodeKind::kEQ && k <= NodeKind::kOr) return make(0, 1);
    ConstIntBound a = bound(n->a), b = bound(n->b);
    switch (k) {
      case NodeKind::kAdd:
        r = make(add_bound(a.min_value, b.min_value, true),
                 add_bound(a.max_value, b.max_value, false));
        break;
      case NodeKind::kSub:
        r = make(add_bound(a.min_value, neg_bound(b.max_value), true),
                 add_bound(a.max_value, neg_bound(b.min_value), false));
        break;
      case NodeKind::kMul:
        r = corners(mul_bound(a.min_value, b.min_value), mul_bound(a.min_value, b.max_value),
                    mul_bound(a.max_value, b.min_value), mul_bound(a.max_value, b.max_value));
        break;
      case NodeKind::kDiv:
        r = floordiv_bound(a, b);
        break;
      case NodeKind::kMod:
        r = floormod_bound(a, b);
        break;
      case NodeKind::kMin:
        r = make(std::min(a.min_value, b.min_value), std::min(a.max_value, b.max_value));
        break;
      case NodeKind::kMax:
        r = make(std::max(a.min_value, b.min_value), std::max(a.max_value, b.max_value));
        break;
      case NodeKind::kBitAnd:
        if (a.min_value >= 0 && b.min_value >= 0)
          r = make(0, std::min(a.max_value, b.max_value));
        else if (a.min_value >= 0)
          r = make(0, a.max_value);
        else if (b.min_value >= 0)
          r = make(0, b.max_value);
        break;
      case NodeKind::kShr:
        if (a.min_value >= 0 && b.is_const() && b.min_value >= 0 && b.min_value < 64)
          r = make(a.min_value >> b.min_value, a.max_value >> b.min_value);
        break;
      default:
        break;
    }
  } else if (e.as<NotNode>()) {
    return make(0, 1);
  } else if (const auto* n = e.as<SelectNode>()) {
    ConstIntBound a = bound(n->true_value), b = bound(n->false_value);
    r = make(std::min(a.min_value, b.min_value), std::max(a.max_value, b.max_value));
  } else if (const auto* n = e.as<CastNode>()) {
    DataType from = n->value.dtype();
    if (from.is_integer() || from.is_bool()) {
      ConstIntBound v = bound(n->value);
      if (v.min_value >= full.min_value && v.max_value <= full.max_value) r = v;
    }
  } else if (const auto* n = e.as<BroadcastNode>()) {
    r = bound(n->value);
  } else if (const auto* n = e.as<RampNode>()) {
    ConstIntBound b = bound(n->base), s = bound(n->stride);
    ConstIntBound last =
        make(mul_bound(s.min_value, n->lanes - 1), mul_bound(s.max_value, n->lanes - 1));
    r = make(add_bound(b.min_value, std::min<int64_t>(0, last.min_value), true),
             add_bound(b.max_value, std::max<int64_t>(0, last.max_value), false));
  }
  int64_t lo, hi;
  if (!e.as<VarNode>() && !e.as<IntImmNode>() && atom_bound(e, &lo, &hi))
    r = intersect(r, make(lo, hi));
  if (t.is_uint() && (r.min_value < full.min_value || r.max_value > full.max_value)) return full;
  return intersect(r, full);
}

}  // namespace mlcc::ir::arith
