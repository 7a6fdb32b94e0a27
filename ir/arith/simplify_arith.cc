// Simplification of + - * / % min max on already simplified operands. Integer
// sums and products go through canonical forms; floor division and modulo use
// the rules below, each exact for floor semantics whatever the signs (they only
// need the divisor to be positive):
//   (c*q + r) / c = q + r / c            (c*q + r) % c = r % c
//   (g*x + r) / (g*c') = (x + r/g) / c'  (g*x + r) % (g*c') = g*((x + r/g) %
//   c') + r%g r / c = m and r % c = r - m*c        when r's bounds lie in [m*c,
//   (m+1)*c) (x / a) / c = x / (a*c)              (k*(x % a)) % c = (k*x) % c
//   when c | k*a c*(x / c) + x % c = x
#include <algorithm>
#include <cmath>

#include "ir/arith/analyzer_impl.h"
#include "ir/arith/const_fold.h"
#include "ir/arith/expr_order.h"

namespace mlcc::ir::arith {

namespace {

bool has_canonical_form(DataType t) { return t.is_scalar() && t.is_integer(); }

bool is_float_const(const Expr& e, double v) {
  const auto* f = e.as<FloatImmNode>();
  return f && f->value == v;
}

// The Div or Mod atom x op c with a positive constant c.
bool match_div_mod(const Expr& e, NodeKind k, Expr* x, int64_t* c) {
  const auto* b = e.as<BinaryNode>();
  if (!b || b->kind != k || !is_const_int(b->b, c) || *c <= 0) return false;
  *x = b->a;
  return true;
}

}  // namespace

Expr AnalyzerImpl::simplify_add_sub(NodeKind k, const Expr& a, const Expr& b) {
  if (Expr f = fold_binary(k, a, b); f.defined()) return f;
  DataType t = a.dtype();
  if (has_canonical_form(t)) {
    SumForm f = form_add(expr_to_form(a), expr_to_form(b), k == NodeKind::kSub ? -1 : 1);
    if (is_index_type(t)) combine_div_mod_terms(&f);
    return form_to_expr(f);
  }
  // Float identities that are exact, signed zeros included (x + 0.0 is not:
  // -0.0 + 0.0).
  if (t.is_float() && t.is_scalar()) {
    if (k == NodeKind::kSub && is_float_const(b, 0.0) && !std::signbit(b.as<FloatImmNode>()->value))
      return a;
    if (k == NodeKind::kAdd && is_float_const(b, 0.0) && std::signbit(b.as<FloatImmNode>()->value))
      return a;
  }
  return binary(k, a, b);
}

void AnalyzerImpl::combine_div_mod_terms(SumForm* f) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t i = 0; i < f->terms.size() && !changed; ++i) {
      Expr x;
      int64_t c;
      if (match_div_mod(f->terms[i].atom, NodeKind::kMod, &x, &c)) {
        int64_t k = f->terms[i].coef;
        for (size_t j = 0; j < f->terms.size(); ++j) {
          Expr y;
          int64_t d;
          if (!match_div_mod(f->terms[j].atom, NodeKind::kDiv, &y, &d) || d != c ||
              f->terms[j].coef != wrap_mul(k, c) || !expr_equal(x, y))
            continue;
          SumForm rest = *f;
          rest.terms.erase(rest.terms.begin() + std::max(i, j));
          rest.terms.erase(rest.terms.begin() + std::min(i, j));
          *f = form_add(rest, expr_to_form(x), k);
          changed = true;
          break;
        }
      } else if (match_div_mod(f->terms[i].atom, NodeKind::kDiv, &x, &c) &&
                 f->terms[i].coef % c == 0 &&
                 is_const_int(simplify_div_mod(NodeKind::kMod, x, make_imm(x.dtype(), c)),
                              int64_t{0})) {
        int64_t k = f->terms[i].coef / c;
        SumForm rest = *f;
        rest.terms.erase(rest.terms.begin() + i);
        *f = form_add(rest, expr_to_form(x), k);
        changed = true;
      }
    }
  }
}

Expr AnalyzerImpl::simplify_mul(const Expr& a, const Expr& b) {
  if (Expr f = fold_binary(NodeKind::kMul, a, b); f.defined()) return f;
  DataType t = a.dtype();
  if (has_canonical_form(t)) {
    SumForm f;
    if (!form_mul(expr_to_form(a), expr_to_form(b), &f)) return make_monomial({a, b});
    if (is_index_type(t)) combine_div_mod_terms(&f);
    return form_to_expr(f);
  }
  if (t.is_float() && t.is_scalar()) {
    if (is_float_const(b, 1.0)) return a;
    if (is_float_const(a, 1.0)) return b;
  }
  return binary(NodeKind::kMul, a, b);
}

Expr AnalyzerImpl::simplify_div_mod(NodeKind k, const Expr& a, const Expr& b) {
  if (Expr f = fold_binary(k, a, b); f.defined()) return f;
  DataType t = a.dtype();
  bool is_div = k == NodeKind::kDiv;
  if (t.is_float()) {
    if (is_div && t.is_scalar() && is_float_const(b, 1.0)) return a;
    return binary(k, a, b);
  }
  int64_t c;
  if (is_const_int(b, &c) && c == 1) return is_div ? a : make_imm(t, 0);
  if (!is_index_type(t)) return binary(k, a, b);
  if (is_const_int(b, &c) && c > 0) {
    SumForm f = expr_to_form(a);
    SumForm quot = form_const(t, floordiv(f.constant, c));
    SumForm rem = form_const(t, floormod(f.constant, c));
    Expr y_unused;
    std::vector<Term> work = f.terms;
    // Merging terms after a rewrite can make a coefficient divisible by c: go
    // again.
    for (bool again = true; again;) {
      again = false;
      for (size_t i = 0; i < work.size(); ++i) {
        Term term = work[i];
        int64_t m = known_divisor(term.atom);
        Expr y;
        int64_t ya;
        if (term.coef % c == 0) {
          quot.terms.push_back({term.atom, term.coef / c});
        } else if (m > 1 && wrap_mul(term.coef, m) % c == 0) {
          // term = coef*m*(atom/m) with atom/m exact: a multiple of c.
          if (is_div)
            quot.terms.push_back(
                {binary(NodeKind::kDiv, term.atom, make_imm(t, m)), wrap_mul(term.coef, m) / c});
        } else if (!is_div && match_div_mod(term.atom, NodeKind::kMod, &y, &ya) &&
                   wrap_mul(term.coef, ya) % c == 0) {
          SumForm inner = form_scale(expr_to_form(y), term.coef);
          for (const Term& it : inner.terms) work.push_back(it);
          rem.constant = floormod(wrap_add(rem.constant, inner.constant), c);
        } else if (!is_div && term.coef > c) {
          rem.terms.push_back({term.atom, floormod(term.coef, c)});
        } else {
          rem.terms.push_back(term);
        }
      }
      form_normalize(&rem);
      if (!is_div) {
        for (const Term& term : rem.terms) {
          int64_t ya;
          again = again || term.coef % c == 0 || term.coef > c ||
                  wrap_mul(term.coef, known_divisor(term.atom)) % c == 0 ||
                  (match_div_mod(term.atom, NodeKind::kMod, &y_unused, &ya) &&
                   wrap_mul(term.coef, ya) % c == 0);
        }
        if (again) work = std::move(rem.terms), rem.terms.clear();
      }
    }
    form_normalize(&quot);
    form_normalize(&rem);
    // Common factor of the remainder's coefficients and the divisor.
    int64_t g = gcd(c, form_coef_gcd(rem));
    int64_t rem_g = 0;
    if (g > 1) {
      for (Term& term : rem.terms) term.coef /= g;
      rem_g = floormod(rem.constant, g);
      rem.constant = floordiv(rem.constant, g);
      c /= g;
    } else {
      g = 1;
    }
    // quotient part + q, and g * r + rem_g for the remainder r of (rem / c).
    auto result = [&](const SumForm& q, const SumForm& r) {
      if (is_div) return form_to_expr(form_add(quot, q));
      return form_to_expr(form_add(form_scale(r, g), form_const(t, rem_g)));
    };
    if (c == 1) return result(rem, form_const(t, 0));
    ConstIntBound rb = bound(form_to_expr(rem));
    if (rb.min_value != ConstIntBound::kNegInf && rb.max_value != ConstIntBound::kPosInf &&
        floordiv(rb.min_value, c) == floordiv(rb.max_value, c)) {
      int64_t m = floordiv(rb.min_value, c);
      return result(form_const(t, m), form_add(rem, form_const(t, -wrap_mul(m, c))));
    }
    if (!rem.is_const() && prove_nonneg(rem) &&
        prove_nonneg(form_add(form_const(t, c - 1), rem, -1)))
      return result(form_const(t, 0), rem);
    // rem = h*G + S with h | c and S in [0, h): (rem / c) = G / (c/h), rem % c =
    // h*(G % (c/h)) + S. E.g. (io*4 + ii) / 8 = io / 2 for ii in [0, 4).
    for (const Term& term : rem.terms) {
      int64_t h = gcd(term.coef, c);
      if (h <= 1 || h == c) continue;
      SumForm big = form_const(t, 0), small = form_const(t, rem.constant);
      for (const Term& x : rem.terms)
        (x.coef % h == 0 ? big : small)
            .terms.push_back({x.atom, x.coef / (x.coef % h == 0 ? h : 1)});
      form_normalize(&big);
      form_normalize(&small);
      ConstIntBound sb = bound(form_to_expr(small));
      if (sb.min_value < 0 || sb.max_value >= h) continue;
      Expr g_expr = form_to_expr(big), ch = make_imm(t, c / h);
      if (is_div) return result(expr_to_form(simplify_div_mod(NodeKind::kDiv, g_expr, ch)), {});
      Expr inner_mod = simplify_div_mod(NodeKind::kMod, g_expr, ch);
      return result({}, form_add(form_scale(expr_to_form(inner_mod), h), small));
    }
    Expr atom;
    Expr inner;
    int64_t ia;
    if (is_div && rem.single_atom() &&
        match_div_mod(*rem.single_atom(), NodeKind::kDiv, &inner, &ia) &&
        !__builtin_mul_overflow(ia, c, &ia) && ia <= type_max(t))
      atom = simplify_div_mod(NodeKind::kDiv, inner, make_imm(t, ia));
    else
      atom = binary(k, form_to_expr(rem), make_imm(t, c));
    return result(expr_to_form(atom), expr_to_form(atom));
  }
  if (b.as<IntImmNode>()) return binary(k, a, b);
  // Symbolic divisor t: terms that have t as a factor divide exactly.
  ConstIntBound db = bound(b);
  if (expr_equal(a, b) && (db.min_value > 0 || db.max_value < 0))
    return is_div ? make_imm(t, 1) : make_imm(t, 0);
  SumForm bf = expr_to_form(b);
  const Expr* div = bf.single_atom();
  if (!div || !prove_nonneg(form_add(bf, form_const(t, -1)))) return binary(k, a, b);
  SumForm f = expr_to_form(a);
  SumForm quot = form_const(t, 0), rem = form_const(t, f.constant);
  for (const Term& term : f.terms) {
    std::vector<Expr> factors = monomial_factors(term.atom);
    auto it = std::find_if(factors.begin(), factors.end(),
                           [&](const Expr& x) { return expr_equal(x, *div); });
    if (it == factors.end()) {
      rem.terms.push_back(term);
      continue;
    }
    factors.erase(it);
    if (factors.empty())
      quot.constant = wrap_add(quot.constant, term.coef);
    else
      quot.terms.push_back({make_monomial(factors), term.coef});
  }
  form_normalize(&quot);
  form_normalize(&rem);
  bool rem_in_range =
      prove_nonneg(rem) && prove_nonneg(form_add(form_add(bf, form_const(t, -1)), rem, -1));
  if (rem_in_range) return is_div ? form_to_expr(quot) : form_to_expr(rem);
  Expr atom = binary(k, form_to_expr(rem), b);
  ConstIntBound ab = bound(atom);
  if (ab.is_const()) atom = make_imm(t, ab.min_value);
  if (quot.is_const() && quot.constant == 0) return atom;
  return is_div ? form_to_expr(form_add(quot, form_atom(atom))) : atom;
}

Expr AnalyzerImpl::simplify_min_max(NodeKind k, const Expr& a, const Expr& b) {
  if (Expr f = fold_binary(k, a, b); f.defined()) return f;
  if (expr_equal(a, b)) return a;
  DataType t = a.dtype();
  bool is_min = k == NodeKind::kMin;
  if (is_index_type(t)) {
    SumForm d = form_add(expr_to_form(b), expr_to_form(a), -1);  // b - a
    if (prove_nonneg(d)) return is_min ? a : b;
    if (prove_nonneg(form_scale(d, -1))) return is_min ? b : a;
  } else if (t.is_scalar() && t.is_integer()) {
    ConstIntBound ba = bound(a), bb = bound(b);
    if (ba.max_value <= bb.min_value) return is_min ? a : b;
    if (bb.max_value <= ba.min_value) return is_min ? b : a;
  }
  if (compare_expr(b, a) < 0) return binary(k, b, a);
  return binary(k, a, b);
}

}  // namespace mlcc::ir::arith
