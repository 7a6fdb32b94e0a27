// Canonical affine forms: building, combining and printing back sums of terms.
#include "ir/arith/canonical.h"

#include <algorithm>

#include "ir/arith/const_fold.h"
#include "ir/arith/expr_order.h"

namespace mlcc::ir::arith {

SumForm form_const(DataType t, int64_t c) {
  SumForm f;
  f.dtype = t;
  f.constant = wrap_signed(t, c);
  return f;
}

SumForm form_atom(const Expr& atom, int64_t coef) {
  SumForm f;
  f.dtype = atom.dtype();
  f.terms.push_back({atom, coef});
  form_normalize(&f);
  return f;
}

SumForm form_add(const SumForm& a, const SumForm& b, int64_t scale) {
  SumForm f = a;
  for (const Term& t : b.terms) f.terms.push_back({t.atom, wrap_mul(t.coef, scale)});
  f.constant = wrap_add(a.constant, wrap_mul(b.constant, scale));
  form_normalize(&f);
  return f;
}

SumForm form_scale(const SumForm& a, int64_t k) {
  SumForm f = a;
  for (Term& t : f.terms) t.coef = wrap_mul(t.coef, k);
  f.constant = wrap_mul(f.constant, k);
  form_normalize(&f);
  return f;
}

void form_normalize(SumForm* f) {
  std::sort(f->terms.begin(), f->terms.end(),
            [](const Term& x, const Term& y) { return compare_expr(x.atom, y.atom) < 0; });
  std::vector<Term> merged;
  for (const Term& t : f->terms) {
    if (!merged.empty() && expr_equal(merged.back().atom, t.atom))
      merged.back().coef = wrap_add(merged.back().coef, t.coef);
    else
      merged.push_back(t);
  }
  std::vector<Term> out;
  for (Term& t : merged) {
    t.coef = wrap_signed(f->dtype, t.coef);
    if (t.coef != 0) out.push_back(std::move(t));
  }
  // Stable on the atom order above, so equal coefficients keep the canonical atom order.
  std::stable_sort(out.begin(), out.end(),
                   [](const Term& x, const Term& y) { return x.coef > y.coef; });
  f->terms = std::move(out);
  f->constant = wrap_signed(f->dtype, f->constant);
}

int64_t form_coef_gcd(const SumForm& f) {
  int64_t g = 0;
  for (const Term& t : f.terms) g = gcd(g, t.coef);
  return g;
}

namespace {

void collect(const Expr& e, int64_t scale, SumForm* f) {
  if (const auto* i = e.as<IntImmNode>()) {
    f->constant = wrap_add(f->constant, wrap_mul(wrap_signed(e.dtype(), i->value), scale));
    return;
  }
  if (const auto* b = e.as<BinaryNode>()) {
    if (b->kind == NodeKind::kAdd || b->kind == NodeKind::kSub) {
      collect(b->a, scale, f);
      collect(b->b, b->kind == NodeKind::kAdd ? scale : wrap_mul(scale, -1), f);
      return;
    }
    int64_t k;
    if (b->kind == NodeKind::kMul && is_const_int(b->b, &k)) {
      collect(b->a, wrap_mul(scale, wrap_signed(e.dtype(), k)), f);
      return;
    }
    if (b->kind == NodeKind::kMul && is_const_int(b->a, &k)) {
      collect(b->b, wrap_mul(scale, wrap_signed(e.dtype(), k)), f);
      return;
    }
  }
  f->terms.push_back({e, scale});
}

Expr term_expr(const Term& t, int64_t k) {
  if (k == 1) return t.atom;
  return binary(NodeKind::kMul, t.atom, make_imm(t.atom.dtype(), k));
}

}  // namespace

SumForm expr_to_form(const Expr& e) {
  SumForm f;
  f.dtype = e.dtype();
  collect(e, 1, &f);
  form_normalize(&f);
  return f;
}

Expr form_to_expr(const SumForm& f) {
  DataType t = f.dtype;
  Expr acc;
  bool const_used = false;
  for (const Term& term : f.terms) {
    if (term.coef > 0) {
      Expr x = term_expr(term, term.coef);
      acc = acc.defined() ? binary(NodeKind::kAdd, acc, x) : x;
      continue;
    }
    if (!acc.defined()) {
      acc = make_imm(t, f.constant);
      const_used = true;
    }
    if (wrap_signed(t, wrap_mul(term.coef, -1)) != wrap_mul(term.coef, -1))  // -coef overflows
      acc = binary(NodeKind::kAdd, acc, term_expr(term, term.coef));
    else
      acc = binary(NodeKind::kSub, acc, term_expr(term, -term.coef));
  }
  if (!acc.defined()) return make_imm(t, f.constant);
  if (const_used || f.constant == 0) return acc;
  if (f.constant < 0 && wrap_signed(t, wrap_mul(f.constant, -1)) == wrap_mul(f.constant, -1))
    return binary(NodeKind::kSub, acc, make_imm(t, -f.constant));
  return binary(NodeKind::kAdd, acc, make_imm(t, f.constant));
}

std::vector<Expr> monomial_factors(const Expr& atom) {
  const auto* b = atom.as<BinaryNode>();
  if (!b || b->kind != NodeKind::kMul || b->a.as<IntImmNode>() || b->b.as<IntImmNode>())
    return {atom};
  std::vector<Expr> out = monomial_factors(b->a);
  std::vector<Expr> rhs = monomial_factors(b->b);
  out.insert(out.end(), rhs.begin(), rhs.end());
  std::sort(out.begin(), out.end(), ExprLess());
  return out;
}

Expr make_monomial(std::vector<Expr> factors) {
  std::sort(factors.begin(), factors.end(), ExprLess());
  Expr acc = factors[0];
  for (size_t i = 1; i < factors.size(); ++i) acc = binary(NodeKind::kMul, acc, factors[i]);
  return acc;
}

bool form_mul(const SumForm& a, const SumForm& b, SumForm* out, size_t max_terms) {
  if (a.is_const()) return *out = form_scale(b, a.constant), true;
  if (b.is_const()) return *out = form_scale(a, b.constant), true;
  size_t na = a.terms.size() + (a.constant != 0), nb = b.terms.size() + (b.constant != 0);
  if (na * nb > max_terms) return false;
  SumForm f;
  f.dtype = a.dtype;
  for (const Term& x : a.terms) {
    std::vector<Expr> fx = monomial_factors(x.atom);
    for (const Term& y : b.terms) {
      std::vector<Expr> fs = fx;
      std::vector<Expr> fy = monomial_factors(y.atom);
      fs.insert(fs.end(), fy.begin(), fy.end());
      f.terms.push_back({make_monomial(std::move(fs)), wrap_mul(x.coef, y.coef)});
    }
    if (b.constant) f.terms.push_back({x.atom, wrap_mul(x.coef, b.constant)});
  }
  if (a.constant)
    for (const Term& y : b.terms) f.terms.push_back({y.atom, wrap_mul(y.coef, a.constant)});
  f.constant = wrap_mul(a.constant, b.constant);
  form_normalize(&f);
  *out = std::move(f);
  return true;
}

}  // namespace mlcc::ir::arith
