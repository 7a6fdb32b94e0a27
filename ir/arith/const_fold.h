// Constant folding of tensor-IR operators on immediate operands, respecting the result type:
// integers wrap to their width, integer Div/Mod are floor division/modulo, and float results
// are rounded to f16/bf16/f32 precision. Also the integer helpers the simplifier shares.
#pragma once

#include <cstdint>

#include "ir/expr.h"

namespace mlcc::ir::arith {

// Floor division and modulo (b != 0); the modulo has the sign of b.
int64_t floordiv(int64_t a, int64_t b);
int64_t floormod(int64_t a, int64_t b);
int64_t gcd(int64_t a, int64_t b);  // >= 0; gcd(0, 0) == 0

// Arithmetic that wraps (two's complement) instead of overflowing.
int64_t wrap_add(int64_t a, int64_t b);
int64_t wrap_mul(int64_t a, int64_t b);

// v reduced to integer type t: sign-extended from t.bits for signed types, zero-extended
// for unsigned ones, 0/1 for bool.
int64_t wrap_to(DataType t, int64_t v);
// v reduced to t.bits as a signed number, whatever t's signedness (coefficients of
// unsigned sums are kept this way so that -1 stays -1).
int64_t wrap_signed(DataType t, int64_t v);
// Smallest and largest value of an integer (or bool) type.
int64_t type_min(DataType t);
int64_t type_max(DataType t);
// v rounded to the precision of float type t (f16, bf16, f32; f64 unchanged).
double round_float(DataType t, double v);

// The folded result of a binary operator, or an undefined Expr when an operand is not an
// immediate or the operation has no defined constant value (division by zero, shift out of
// range, float modulo, min/max with NaN).
Expr fold_binary(NodeKind k, const Expr& a, const Expr& b);
// cast(t, v) folded, or undefined when v is not an immediate or the value does not fit (a
// float to integer conversion out of range or of NaN).
Expr fold_cast(DataType t, const Expr& v);
// !v folded when v is a bool immediate.
Expr fold_not(const Expr& v);

// An immediate of scalar type t (integers wrapped to t, floats rounded to t).
Expr make_imm(DataType t, int64_t v);
Expr make_float_imm(DataType t, double v);

}  // namespace mlcc::ir::arith
