// Structural equality and hashing of tensor IR that ignore variable and buffer names.
// Variables are matched by where they are defined (loop vars, let vars, function scalar
// params in order, buffer params in order, allocated buffers); a free variable (or buffer)
// is matched by its first occurrence, and must then map one-to-one, so `x + y` differs from
// `x + x`. Types, constants, node kinds, loop kinds, thread axes, memory scopes, buffer
// shapes, strides and alignment are compared exactly (floats bit for bit). The function
// name of a PrimFunc is not compared: two kernels that do the same thing are equal.
// structural_hash(a) == structural_hash(b) whenever structural_equal(a, b).
#pragma once

#include <cstddef>

#include "ir/expr.h"

namespace mlcc::ir {

bool structural_equal(const Expr& a, const Expr& b);
bool structural_equal(const Stmt& a, const Stmt& b);
bool structural_equal(const PrimFunc& a, const PrimFunc& b);

size_t structural_hash(const Expr& e);
size_t structural_hash(const Stmt& s);
size_t structural_hash(const PrimFunc& f);

}  // namespace mlcc::ir
