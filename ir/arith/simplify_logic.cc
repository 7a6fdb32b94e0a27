// The simplifier's dispatch over node kinds, and the rules for comparisons, logic, select,
// casts, bit operations and vectors. Integer comparisons are decided on the canonical form
// of their difference: proven by bounds and symbolic ranges, or else printed canonically
// (negative terms on the left, the common factor of the coefficients divided out).
#include <algorithm>

#include "ir/arith/analyzer_impl.h"
#include "ir/arith/const_fold.h"
#include "ir/arith/expr_order.h"

namespace mlcc::ir::arith {

namespace {

Expr bool_imm(bool v) { return make_imm(DataType::boolean(), v); }

bool is_cmp(NodeKind k) { return k >= NodeKind::kEQ && k <= NodeKind::kGE; }

// `0 k d` for k in {LT, LE}, `d k 0` for k in {EQ, NE}, with negative terms moved left.
Expr emit_cmp(NodeKind k, SumForm d) {
  DataType t = d.dtype;
  if (k == NodeKind::kEQ || k == NodeKind::kNE) {
    // The sign that puts the first term (in atom order) on the left.
    const Term* first = &d.terms[0];
    for (const Term& x : d.terms)
      if (compare_expr(x.atom, first->atom) < 0) first = &x;
    if (first->coef > 0) d = form_scale(d, -1);
  }
  SumForm neg = form_const(t, 0), pos = form_const(t, 0);
  for (const Term& x : d.terms) {
    if (x.coef < 0)
      neg.terms.push_back({x.atom, wrap_mul(x.coef, -1)});
    else
      pos.terms.push_back(x);
  }
  form_normalize(&neg);
  form_normalize(&pos);
  if (neg.terms.empty()) {
    NodeKind flipped = k == NodeKind::kLT ? NodeKind::kGT : NodeKind::kGE;
    return binary(flipped, form_to_expr(pos), make_imm(t, wrap_mul(d.constant, -1)));
  }
  pos.constant = d.constant;
  return binary(k, form_to_expr(neg), form_to_expr(pos));
}

NodeKind negate_cmp(NodeKind k) {
  switch (k) {
    case NodeKind::kLT:
      return NodeKind::kGE;
    case NodeKind::kLE:
      return NodeKind::kGT;
    case NodeKind::kGT:
      return NodeKind::kLE;
    case NodeKind::kGE:
      return NodeKind::kLT;
    case NodeKind::kEQ:
      return NodeKind::kNE;
    default:
      return NodeKind::kEQ;
  }
}

}  // namespace

Expr AnalyzerImpl::simplify_cmp(NodeKind k, const Expr& a, const Expr& b) {
  if (Expr f = fold_binary(k, a, b); f.defined()) return f;
  DataType t = a.dtype();
  if (!is_index_type(t)) {
    if (t.is_scalar() && (t.is_integer() || t.is_bool())) {
      bool same = expr_equal(a, b);
      ConstIntBound x = bound(a), y = bound(b);
      bool lt = x.max_value<y.min_value, gt = x.min_value> y.max_value;
      bool le = same || x.max_value <= y.min_value, ge = same || x.min_value >= y.max_value;
      switch (k) {
        case NodeKind::kLT:
          if (lt || ge) return bool_imm(lt);
          break;
        case NodeKind::kLE:
          if (le || gt) return bool_imm(le);
          break;
        case NodeKind::kGT:
          if (gt || le) return bool_imm(gt);
          break;
        case NodeKind::kGE:
          if (ge || lt) return bool_imm(ge);
          break;
        case NodeKind::kEQ:
          if (same || lt || gt) return bool_imm(same);
          break;
        case NodeKind::kNE:
          if (same || lt || gt) return bool_imm(!same);
          break;
        default:
          break;
      }
    }
    Expr r = binary(k, a, b);
    return is_literal_fact(r) ? bool_imm(true) : r;
  }
  SumForm fa = expr_to_form(a), fb = expr_to_form(b);
  Expr result;
  if (k == NodeKind::kEQ || k == NodeKind::kNE) {
    bool eq = k == NodeKind::kEQ;
    SumForm d = form_add(fa, fb, -1);
    if (d.is_const()) return bool_imm((d.constant == 0) == eq);
    SumForm neg_d = form_scale(d, -1);
    if (prove_nonneg(form_add(d, form_const(t, -1))) ||
        prove_nonneg(form_add(neg_d, form_const(t, -1))))
      return bool_imm(!eq);
    if (prove_nonneg(d) && prove_nonneg(neg_d)) return bool_imm(eq);
    int64_t g = form_coef_gcd(d);
    if (d.constant % g != 0) return bool_imm(!eq);
    for (Term& x : d.terms) x.coef /= g;
    d.constant /= g;
    result = emit_cmp(k, d);
  } else {
    bool strict = k == NodeKind::kLT || k == NodeKind::kGT;
    bool a_small = k == NodeKind::kLT || k == NodeKind::kLE;
    SumForm d = a_small ? form_add(fb, fa, -1) : form_add(fa, fb, -1);
    if (strict) d = form_add(d, form_const(t, -1));  // d >= 0 is the condition now
    if (d.is_const()) return bool_imm(d.constant >= 0);
    // g*x + c >= 0 is x + floor(c/g) >= 0: the tighter constant helps the proofs.
    int64_t g = form_coef_gcd(d);
    for (Term& x : d.terms) x.coef /= g;
    d.constant = floordiv(d.constant, g);
    if (prove_nonneg(d)) return bool_imm(true);
    if (prove_nonneg(form_add(form_scale(d, -1), form_const(t, -1)))) return bool_imm(false);
    if (strict) d = form_add(d, form_const(t, 1));
    result = emit_cmp(strict ? NodeKind::kLT : NodeKind::kLE, d);
  }
  if (is_literal_fact(result)) return bool_imm(true);
  const auto* r = result.as<BinaryNode>();
  if (is_literal_fact(binary(negate_cmp(r->kind), r->a, r->b))) return bool_imm(false);
  return result;
}

Expr AnalyzerImpl::simplify_not(const Expr& a) {
  if (Expr f = fold_not(a); f.defined()) return f;
  if (const auto* n = a.as<NotNode>()) return n->a;
  if (is_literal_fact(a)) return bool_imm(false);
  const auto* b = a.as<BinaryNode>();
  // !(x < y) is y <= x only without NaN, so only for integers.
  if (b && is_cmp(b->kind) && b->a.dtype().is_integer())
    return simplify_cmp(negate_cmp(b->kind), b->a, b->b);
  return !a;
}

Expr AnalyzerImpl::simplify_logic(NodeKind k, const Expr& a_in, const Expr& b_in) {
  bool is_and = k == NodeKind::kAnd;
  Expr a = simplify(a_in);
  if (a.dtype().is_vector()) return binary(k, a, simplify(b_in));
  if (is_const_int(a, int64_t{is_and ? 0 : 1})) return a;
  if (a.as<IntImmNode>()) return simplify(b_in);
  // b only matters where a is true (for &&) or false (for ||).
  Expr b;
  {
    size_t snap = snapshot();
    assume(is_and ? a : simplify_not(a));
    b = simplify(b_in);
    restore(snap);
  }
  if (is_const_int(b, int64_t{is_and ? 0 : 1})) return b;
  if (b.as<IntImmNode>()) return a;
  if (expr_equal(a, b)) return a;
  const auto* ab = a.as<BinaryNode>();
  if (ab && is_cmp(ab->kind)) {
    size_t snap = snapshot();
    assume(is_and ? b : simplify_not(b));
    Expr a2 = simplify(a);
    restore(snap);
    if (is_const_int(a2, int64_t{is_and ? 0 : 1})) return a2;
    if (a2.as<IntImmNode>()) return b;
  }
  return binary(k, a, b);
}

namespace {

bool is_zero(const Expr& e) { return is_const_int(e, int64_t{0}); }

}  // namespace

Expr AnalyzerImpl::simplify(const Expr& e) {
  if (!e.defined()) return e;
  if (e.as<IntImmNode>() || e.as<FloatImmNode>()) return e;
  if (const auto* v = e.as<VarNode>()) {
    const VarInfo* info = find(v);
    if (info && info->value.defined()) return info->value;
    if (v->dtype == DataType::boolean() && is_literal_fact(e)) return bool_imm(true);
    return e;
  }
  if (const auto* n = e.as<BinaryNode>()) {
    NodeKind k = n->kind;
    if (k == NodeKind::kAnd || k == NodeKind::kOr) return simplify_logic(k, n->a, n->b);
    Expr a = simplify(n->a), b = simplify(n->b);
    DataType t = a.dtype();
    if (t.is_vector()) {
      const auto* ba = a.as<BroadcastNode>();
      const auto* bb = b.as<BroadcastNode>();
      if (ba && bb) return broadcast(simplify(binary(k, ba->value, bb->value)), ba->lanes);
      const auto* ra = a.as<RampNode>();
      const auto* rb = b.as<RampNode>();
      bool add_sub = k == NodeKind::kAdd || k == NodeKind::kSub;
      Expr zero;
      if ((ra || rb) && add_sub) {
        // ramp(b1, s1) +- ramp(b2, s2) = ramp(b1 +- b2, s1 +- s2); a broadcast has stride 0.
        auto base = [](const Expr& x) {
          if (const auto* r = x.as<RampNode>()) return r->base;
          if (const auto* br = x.as<BroadcastNode>()) return br->value;
          return Expr();
        };
        auto stride = [](const Expr& x) {
          if (const auto* r = x.as<RampNode>()) return r->stride;
          if (const auto* br = x.as<BroadcastNode>()) return make_zero(br->value.dtype());
          return Expr();
        };
        if (base(a).defined() && base(b).defined()) {
          int lanes = t.lanes;
          Expr nb = simplify(binary(k, base(a), base(b)));
          Expr ns = simplify(binary(k, stride(a), stride(b)));
          return is_zero(ns) ? broadcast(nb, lanes) : ramp(nb, ns, lanes);
        }
      }
      if (k == NodeKind::kMul && ((ra && bb) || (rb && ba))) {
        const RampNode* r = ra ? ra : rb;
        Expr s = ra ? bb->value : ba->value;
        return ramp(simplify(binary(k, r->base, s)), simplify(binary(k, r->stride, s)), r->lanes);
      }
      if (a.same_as(n->a) && b.same_as(n->b)) return e;
      return binary(k, a, b);
    }
    switch (k) {
      case NodeKind::kAdd:
      case NodeKind::kSub:
        return simplify_add_sub(k, a, b);
      case NodeKind::kMul:
        return simplify_mul(a, b);
      case NodeKind::kDiv:
      case NodeKind::kMod:
        return simplify_div_mod(k, a, b);
      case NodeKind::kMin:
      case NodeKind::kMax:
        return simplify_min_max(k, a, b);
      default:
        break;
    }
    if (is_cmp(k)) return simplify_cmp(k, a, b);
    if (Expr f = fold_binary(k, a, b); f.defined()) return f;
    // Bit operations.
    if (t.is_integer() || t.is_bool()) {
      if (k == NodeKind::kBitAnd && (is_zero(a) || is_zero(b))) return make_imm(t, 0);
      if ((k == NodeKind::kBitOr || k == NodeKind::kBitXor) && is_zero(b)) return a;
      if ((k == NodeKind::kBitOr || k == NodeKind::kBitXor) && is_zero(a)) return b;
      if ((k == NodeKind::kShl || k == NodeKind::kShr) && is_zero(b)) return a;
      if ((k == NodeKind::kBitAnd || k == NodeKind::kBitOr) && expr_equal(a, b)) return a;
      if (k == NodeKind::kBitXor && expr_equal(a, b)) return make_imm(t, 0);
    }
    if (a.same_as(n->a) && b.same_as(n->b)) return e;
    return binary(k, a, b);
  }
  if (const auto* n = e.as<NotNode>()) return simplify_not(simplify(n->a));
  if (const auto* n = e.as<SelectNode>()) {
    Expr c = simplify(n->cond);
    if (const auto* ci = c.as<IntImmNode>())
      return simplify(ci->value ? n->true_value : n->false_value);
    Expr tv, fv;
    if (c.dtype().is_scalar()) {
      size_t snap = snapshot();
      assume(c);
      tv = simplify(n->true_value);
      restore(snap);
      assume(simplify_not(c));
      fv = simplify(n->false_value);
      restore(snap);
    } else {
      tv = simplify(n->true_value), fv = simplify(n->false_value);
    }
    if (expr_equal(tv, fv)) return tv;
    if (c.same_as(n->cond) && tv.same_as(n->true_value) && fv.same_as(n->false_value)) return e;
    return select(c, tv, fv);
  }
  if (const auto* n = e.as<CastNode>()) {
    Expr v = simplify(n->value);
    if (Expr f = fold_cast(n->dtype, v); f.defined()) return f;
    if (const auto* bv = v.as<BroadcastNode>())
      return broadcast(simplify(cast(n->dtype.element_of(), bv->value)), bv->lanes);
    return v.same_as(n->value) ? e : cast(n->dtype, v);
  }
  if (const auto* n = e.as<RampNode>()) {
    Expr b = simplify(n->base), s = simplify(n->stride);
    if (is_zero(s)) return broadcast(b, n->lanes);
    return b.same_as(n->base) && s.same_as(n->stride) ? e : ramp(b, s, n->lanes);
  }
  if (const auto* n = e.as<BroadcastNode>()) {
    Expr v = simplify(n->value);
    return v.same_as(n->value) ? e : broadcast(v, n->lanes);
  }
  if (const auto* n = e.as<BufferLoadNode>()) {
    std::vector<Expr> idx;
    bool changed = false;
    for (const Expr& i : n->indices) {
      idx.push_back(simplify(i));
      changed = changed || !idx.back().same_as(i);
    }
    return changed ? n->buffer(std::move(idx)) : e;
  }
  if (const auto* n = e.as<CallNode>()) {
    std::vector<Expr> args;
    bool changed = false;
    for (const Expr& x : n->args) {
      args.push_back(simplify(x));
      changed = changed || !args.back().same_as(x);
    }
    return changed ? call(n->dtype, n->op, std::move(args)) : e;
  }
  return e;
}

}  // namespace mlcc::ir::arith
