// Symbolic ranges: the interval an expression takes when some variables run over their
// (possibly symbolic) ranges, evaluated bottom-up with interval arithmetic as TVM's int-set
// evaluation does. Each relaxed variable is replaced by its symbolic extreme (min or max
// according to the sign it contributes with); the bounds are simplified at the end.
#include <algorithm>

#include "ir/arith/analyzer_impl.h"
#include "ir/arith/const_fold.h"
#include "ir/functor.h"

namespace mlcc::ir::arith {

namespace {

using Relax = std::function<bool(const VarNode*)>;

bool mentions(const Expr& e, const Relax& relax) {
  struct Finder : ExprVisitor {
    const Relax* relax;
    bool found = false;
    void visit(const Expr& x) override {
      if (!found) ExprVisitor::visit(x);
    }
    void visit_(const VarNode* n) override { found = found || (*relax)(n); }
  } f;
  f.relax = &relax;
  f.visit(e);
  return f.found;
}

Expr op(NodeKind k, const Expr& a, const Expr& b) {
  if (!a.defined() || !b.defined()) return Expr();
  return binary(k, a, b);
}

// min/max of two bounds where an undefined side means "unbounded in that direction".
Expr op_either(NodeKind k, const Expr& a, const Expr& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return binary(k, a, b);
}

// A constant bound usable inside symbolic bounds: far enough from the type's limits that
// the arithmetic on the bounds cannot wrap (bounds near the limits say "unknown" anyway).
Expr bound_imm(DataType t, int64_t v) {
  int64_t limit = int64_t{1} << (std::min<int>(t.bits, 64) - 2);
  if (v <= -limit || v >= limit) return Expr();
  return make_imm(t, v);
}

}  // namespace

SymInterval AnalyzerImpl::eval_interval(const Expr& e, const Relax& relax, int depth) {
  if (!mentions(e, relax)) return {e, e};
  DataType t = e.dtype();
  auto from_bounds = [&]() {
    ConstIntBound b = bound(e);
    return SymInterval{bound_imm(t, b.min_value), bound_imm(t, b.max_value)};
  };
  if (depth > 16 || !is_index_type(t)) return from_bounds();
  if (const auto* v = e.as<VarNode>()) {
    const VarInfo* info = find(v);
    if (!info || !info->min.defined()) return from_bounds();
    Expr last =
        binary(NodeKind::kSub, binary(NodeKind::kAdd, info->min, info->extent), make_imm(t, 1));
    SymInterval r{eval_interval(info->min, relax, depth + 1).lo,
                  eval_interval(last, relax, depth + 1).hi};
    // The constant bounds recorded at bind time can be tighter (e.g. from assume).
    if (!r.lo.defined()) r.lo = bound_imm(t, info->lo);
    if (!r.hi.defined()) r.hi = bound_imm(t, info->hi);
    return r;
  }
  const auto* n = e.as<BinaryNode>();
  if (!n) {
    if (const auto* s = e.as<SelectNode>()) {
      SymInterval x = eval_interval(s->true_value, relax, depth + 1);
      SymInterval y = eval_interval(s->false_value, relax, depth + 1);
      return {op(NodeKind::kMin, x.lo, y.lo), op(NodeKind::kMax, x.hi, y.hi)};
    }
    return from_bounds();
  }
  NodeKind k = n->kind;
  int64_t c;
  switch (k) {
    case NodeKind::kAdd: {
      SymInterval x = eval_interval(n->a, relax, depth + 1);
      SymInterval y = eval_interval(n->b, relax, depth + 1);
      return {op(k, x.lo, y.lo), op(k, x.hi, y.hi)};
    }
    case NodeKind::kSub: {
      SymInterval x = eval_interval(n->a, relax, depth + 1);
      SymInterval y = eval_interval(n->b, relax, depth + 1);
      return {op(k, x.lo, y.hi), op(k, x.hi, y.lo)};
    }
    case NodeKind::kMul: {
      // Scaling by a value of known sign keeps or swaps the ends.
      for (int side = 0; side < 2; ++side) {
        const Expr& s = side ? n->a : n->b;
        const Expr& other = side ? n->b : n->a;
        if (mentions(s, relax)) continue;
        ConstIntBound sb = bound(s);
        SymInterval x = eval_interval(other, relax, depth + 1);
        if (sb.min_value >= 0) return {op(k, x.lo, s), op(k, x.hi, s)};
        if (sb.max_value <= 0) return {op(k, x.hi, s), op(k, x.lo, s)};
      }
      if (bound(n->a).min_value >= 0 && bound(n->b).min_value >= 0) {
        SymInterval x = eval_interval(n->a, relax, depth + 1);
        SymInterval y = eval_interval(n->b, relax, depth + 1);
        Expr zero = make_imm(t, 0);
        Expr lo = op(k, op(NodeKind::kMax, x.lo, zero), op(NodeKind::kMax, y.lo, zero));
        return {lo.defined() ? lo : zero, op(k, x.hi, y.hi)};
      }
      return from_bounds();
    }
    case NodeKind::kDiv: {
      if (mentions(n->b, relax)) return from_bounds();
      ConstIntBound db = bound(n->b);
      SymInterval x = eval_interval(n->a, relax, depth + 1);
      if (db.min_value > 0) return {op(k, x.lo, n->b), op(k, x.hi, n->b)};
      if (db.max_value < 0) return {op(k, x.hi, n->b), op(k, x.lo, n->b)};
      return from_bounds();
    }
    case NodeKind::kMod: {
      if (mentions(n->b, relax)) return from_bounds();
      ConstIntBound db = bound(n->b);
      if (db.min_value <= 0) return from_bounds();
      SymInterval x = eval_interval(n->a, relax, depth + 1);
      if (is_const_int(n->b, &c) && x.lo.defined() && x.hi.defined() &&
          bound(simplify(x.lo)).min_value >= 0 && bound(simplify(x.hi)).max_value < c)
        return x;
      return {make_imm(t, 0), binary(NodeKind::kSub, n->b, make_imm(t, 1))};
    }
    case NodeKind::kMin:
    case NodeKind::kMax: {
      SymInterval x = eval_interval(n->a, relax, depth + 1);
      SymInterval y = eval_interval(n->b, relax, depth + 1);
      if (k == NodeKind::kMin) return {op(k, x.lo, y.lo), op_either(k, x.hi, y.hi)};
      return {op_either(k, x.lo, y.lo), op(k, x.hi, y.hi)};
    }
    default:
      return from_bounds();
  }
}

SymInterval AnalyzerImpl::symbolic_range(const Expr& e, const Relax& relax) {
  Expr s = simplify(e);
  SymInterval iv = eval_interval(s, relax, 0);
  if (iv.lo.defined()) iv.lo = simplify(iv.lo);
  if (iv.hi.defined()) iv.hi = simplify(iv.hi);
  return iv;
}

}  // namespace mlcc::ir::arith
