// Canonical affine forms of integer expressions: constant + sum of coefficient x term, where
// a term is a variable or a non-linear sub-expression (a product of factors, a division, a
// modulo, a min/max, a load...). Terms are merged, zero coefficients dropped and the rest
// sorted (coefficient descending, then by compare_expr), so equal sums print identically.
// Coefficients wrap to the type's width, which keeps add/sub/mul exact under wraparound.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/expr.h"

namespace mlcc::ir::arith {

struct Term {
  Expr atom;
  int64_t coef;
};

struct SumForm {
  DataType dtype;
  std::vector<Term> terms;  // canonical: distinct atoms, nonzero coefficients, sorted
  int64_t constant = 0;

  bool is_const() const { return terms.empty(); }
  // The form is exactly one term with coefficient 1 and no constant.
  const Expr* single_atom() const {
    return terms.size() == 1 && terms[0].coef == 1 && constant == 0 ? &terms[0].atom : nullptr;
  }
};

SumForm form_const(DataType t, int64_t c);
SumForm form_atom(const Expr& atom, int64_t coef = 1);
// a + b * scale
SumForm form_add(const SumForm& a, const SumForm& b, int64_t scale = 1);
SumForm form_scale(const SumForm& a, int64_t k);
// Sorts, merges equal atoms and drops zero coefficients.
void form_normalize(SumForm* f);
// gcd of the term coefficients (0 for a constant form).
int64_t form_coef_gcd(const SumForm& f);

// Reads an expression built by form_to_expr (or any expression) as a form: Add, Sub and
// multiplication by a constant are flattened; anything else is an atom.
SumForm expr_to_form(const Expr& e);
// Builds the expression: positive terms first, then subtracted ones, then the constant.
Expr form_to_expr(const SumForm& f);

// The non-constant factors of a product term, in canonical order (a non-product atom is its
// own single factor).
std::vector<Expr> monomial_factors(const Expr& atom);
// The product of factors in canonical order, left-associated; one factor is returned as is.
Expr make_monomial(std::vector<Expr> factors);
// a * b for forms: distributes when the result has at most max_terms terms; otherwise returns
// false and leaves *out alone.
bool form_mul(const SumForm& a, const SumForm& b, SumForm* out, size_t max_terms = 16);

}  // namespace mlcc::ir::arith
