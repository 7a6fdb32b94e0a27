// A total order on expressions, used to put the terms of canonical sums, the factors of
// products and the operands of commutative min/max in one deterministic order, so that equal
// expressions print identically. Variables compare by name (then identity), so the order does
// not depend on where nodes happen to be allocated.
#pragma once

#include "ir/expr.h"

namespace mlcc::ir::arith {

// <0, 0 or >0. Zero exactly when the two are the same tree (variables and buffers by
// identity).
int compare_expr(const Expr& a, const Expr& b);
inline bool expr_equal(const Expr& a, const Expr& b) { return compare_expr(a, b) == 0; }
struct ExprLess {
  bool operator()(const Expr& a, const Expr& b) const { return compare_expr(a, b) < 0; }
};

// True when `e` mentions variable v.
bool uses_var(const Expr& e, const VarNode* v);

}  // namespace mlcc::ir::arith
