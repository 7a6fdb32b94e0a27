// Arithmetic simplifier tests: constant folding, identities, canonical affine forms and the
// floor division/modulo rules, each as printed before/after text.
#include <catch2/catch.hpp>

#include "ir/arith/analyzer.h"
#include "ir/half.h"
#include "ir/printer.h"

using namespace mlcc::ir;
using mlcc::ir::arith::Analyzer;

namespace {

std::string simp(Analyzer& a, const Expr& e) { return to_string(a.simplify(e)); }

Expr imm(DataType t, int64_t v) { return make_const(t, v); }

}  // namespace

TEST_CASE("arith: integer constant folding uses floor division and wraps", "[arith][fold]") {
  Analyzer a;
  CHECK(simp(a, Expr(7) / Expr(2)) == "3");
  CHECK(simp(a, Expr(-7) / Expr(2)) == "-4");
  CHECK(simp(a, Expr(-7) % Expr(2)) == "1");
  CHECK(simp(a, Expr(7) % Expr(-2)) == "-1");
  CHECK(simp(a, Expr(7) / Expr(-2)) == "-4");
  CHECK(simp(a, Expr(2147483647) + Expr(1)) == "-2147483648");
  CHECK(simp(a, Expr(65536) * Expr(65536)) == "0");
  CHECK(simp(a, imm(DataType::i8(), 100) + imm(DataType::i8(), 100)) == "i8(-56)");
  CHECK(simp(a, imm(DataType::u32(), 0) - imm(DataType::u32(), 1)) == "u32(4294967295)");
  CHECK(simp(a, imm(DataType::u32(), 4294967295) / imm(DataType::u32(), 2)) == "u32(2147483647)");
  CHECK(simp(a, imm(DataType::u32(), 4294967288) >> imm(DataType::u32(), 1)) == "u32(2147483644)");
  CHECK(simp(a, Expr(-8) >> Expr(1)) == "-4");
  CHECK(simp(a, Expr(3) << Expr(4)) == "48");
  CHECK(simp(a, Expr(12) & Expr(10)) == "8");
  CHECK(simp(a, Expr(12) | Expr(3)) == "15");
  CHECK(simp(a, Expr(12) ^ Expr(10)) == "6");
  CHECK(simp(a, imm(DataType::i64(), int64_t{1} << 40) * imm(DataType::i64(), 4)) ==
        "i64(4398046511104)");
  CHECK(simp(a, min(Expr(3), Expr(-2))) == "-2");
  CHECK(simp(a, max(Expr(3), Expr(-2))) == "3");
  // Division by zero and out-of-range shifts have no value to fold.
  CHECK(simp(a, Expr(1) / Expr(0)) == "(1 / 0)");
  CHECK(simp(a, Expr(1) << Expr(40)) == "(1 << 40)");
}

TEST_CASE("arith: comparison, logic and select folding", "[arith][fold]") {
  Analyzer a;
  Var x("x"), y("y");
  Var c("c", DataType::boolean());
  CHECK(simp(a, Expr(3) < Expr(4)) == "true");
  CHECK(simp(a, eq(Expr(3), Expr(4))) == "false");
  CHECK(simp(a, imm(DataType::u32(), 4294967295) > imm(DataType::u32(), 1)) == "true");
  CHECK(simp(a, !(Expr(3) < Expr(4))) == "false");
  CHECK(simp(a, c && (Expr(1) < Expr(2))) == "c");
  CHECK(simp(a, c || (Expr(1) < Expr(2))) == "true");
  CHECK(simp(a, c && (Expr(2) < Expr(1))) == "false");
  CHECK(simp(a, !!c) == "c");
  CHECK(simp(a, select(Expr(1) < Expr(2), x, y)) == "x");
  CHECK(simp(a, select(Expr(2) < Expr(1), x, y)) == "y");
  CHECK(simp(a, select(c, x + 1, 1 + x)) == "(x + 1)");
  CHECK(simp(a, c && c) == "c");
}

TEST_CASE("arith: float folding rounds to the result type", "[arith][fold]") {
  Analyzer a;
  CHECK(simp(a, Expr(1.5) + Expr(2.25)) == "3.75f");
  CHECK(simp(a, Expr(1.0) / Expr(4.0)) == "0.25f");
  CHECK(simp(a, Expr(1.0) < Expr(2.0)) == "true");
  // f32 arithmetic is single precision: 0.1f + 0.2f is not the double 0.3.
  Expr s = a.simplify(Expr(0.1) + Expr(0.2));
  CHECK(s.as<FloatImmNode>()->value == static_cast<double>(0.1f + 0.2f));
  // f16 results are rounded to half precision.
  Expr h = a.simplify(make_const(DataType::f16(), 0.1) + make_const(DataType::f16(), 0.2));
  float h01 = mlcc::round_to_half(0.1f), h02 = mlcc::round_to_half(0.2f);
  CHECK(h.dtype() == DataType::f16());
  CHECK(h.as<FloatImmNode>()->value == static_cast<double>(mlcc::round_to_half(h01 + h02)));
  CHECK(simp(a, make_const(DataType::f16(), 65504.0) * make_const(DataType::f16(), 2.0)) ==
        "f16(inf)");
  Expr b = a.simplify(make_const(DataType::bf16(), 1.0) / make_const(DataType::bf16(), 3.0));
  CHECK(b.as<FloatImmNode>()->value == static_cast<double>(mlcc::round_to_bf16(1.0f / 3.0f)));
}

TEST_CASE("arith: cast folding", "[arith][fold]") {
  Analyzer a;
  CHECK(simp(a, cast(DataType::i32(), Expr(3.7))) == "3");
  CHECK(simp(a, cast(DataType::i32(), Expr(-3.7))) == "-3");
  CHECK(simp(a, cast(DataType::u8(), Expr(300))) == "u8(44)");
  CHECK(simp(a, cast(DataType::i8(), Expr(200))) == "i8(-56)");
  CHECK(simp(a, cast(DataType::f32(), Expr(7))) == "7.0f");
  CHECK(simp(a, cast(DataType::f32(), imm(DataType::u32(), 4294967295))) == "4.2949673e+09f");
  CHECK(simp(a, cast(DataType::boolean(), Expr(5))) == "true");
  Expr h = a.simplify(cast(DataType::f16(), Expr(1.0 / 3.0)));
  CHECK(h.as<FloatImmNode>()->value == static_cast<double>(mlcc::round_to_half(1.0f / 3.0f)));
  // Out of range float -> int conversion has no defined value: left alone.
  CHECK(simp(a, cast(DataType::i8(), Expr(1000.0))) == "i8(1000.0f)");
}

TEST_CASE("arith: algebraic identities", "[arith][identity]") {
  Analyzer a;
  Var x("x"), y("y");
  Var f("f", DataType::f32());
  CHECK(simp(a, x + 0) == "x");
  CHECK(simp(a, 0 + x) == "x");
  CHECK(simp(a, x * 1) == "x");
  CHECK(simp(a, x * 0) == "0");
  CHECK(simp(a, x - x) == "0");
  CHECK(simp(a, x / 1) == "x");
  CHECK(simp(a, x % 1) == "0");
  CHECK(simp(a, min(x, x)) == "x");
  CHECK(simp(a, max(y + 1, 1 + y)) == "(y + 1)");
  CHECK(simp(a, x & 0) == "0");
  CHECK(simp(a, x | 0) == "x");
  CHECK(simp(a, x >> 0) == "x");
  // Floats: only identities exact for every value, NaN, inf and -0.0 included.
  CHECK(simp(a, f * 1.0) == "f");
  CHECK(simp(a, f / 1.0) == "f");
  CHECK(simp(a, f - 0.0) == "f");
  CHECK(simp(a, f * 0.0) == "(f * 0.0f)");
  CHECK(simp(a, f + 0.0) == "(f + 0.0f)");
  CHECK(simp(a, f - f) == "(f - f)");
}

TEST_CASE("arith: canonical affine forms", "[arith][canonical]") {
  Analyzer a;
  Var i("i"), j("j"), k("k"), n("n");
  CHECK(simp(a, (i * 4 + j) - (j + i * 4)) == "0");
  CHECK(simp(a, i * 4 + i * 2) == "(i * 6)");
  CHECK(simp(a, (i + 3) + (j + 4) - 2) == "((i + j) + 5)");
  CHECK(simp(a, j + i * 4) == simp(a, i * 4 + j));
  CHECK(simp(a, i * 4 + j) == "((i * 4) + j)");
  CHECK(simp(a, ((i * 16 + j) * 4 + k)) == "(((i * 64) + (j * 4)) + k)");
  CHECK(simp(a, 5 - i) == "(5 - i)");
  CHECK(simp(a, 0 - i) == "(0 - i)");
  CHECK(simp(a, j - i * 4 - 1) == "((j - (i * 4)) - 1)");
  CHECK(simp(a, (i + 1) * n) == simp(a, n + n * i));
  CHECK(simp(a, (i + 1) * n) == "(n + (i * n))");
  CHECK(simp(a, n * i - i * n) == "0");
  CHECK(simp(a, (i + j) * (i - j)) == "((i * i) - (j * j))");
  CHECK(simp(a, (i * 2) * (j * 3)) == "((i * j) * 6)");
  // Unsigned sums are canonical too (exact modulo 2^32).
  Var u("u", DataType::u32());
  CHECK(simp(a, (u + 3) - (u + 1)) == "u32(2)");
  CHECK(simp(a, u - 1 + 1) == "u");
}

TEST_CASE("arith: floor division and modulo with known bounds", "[arith][divmod]") {
  Analyzer a;
  Var i("i"), j("j"), x("x"), f("f");
  a.bind(i, 0, 1024);
  a.bind(j, 0, 4);
  CHECK(simp(a, (i * 4 + j) / 4) == "i");
  CHECK(simp(a, (i * 4 + j) % 4) == "j");
  CHECK(simp(a, (j + i * 4) / 4) == "i");
  CHECK(simp(a, (x * 8) / 4) == "(x * 2)");
  CHECK(simp(a, (x * 8) % 4) == "0");
  CHECK(simp(a, (x * 8 + 4) / 4) == "((x * 2) + 1)");
  CHECK(simp(a, (x * 4 + 6) / 4) == "(x + 1)");
  CHECK(simp(a, (x * 4 + 6) % 4) == "2");
  CHECK(simp(a, j % 4) == "j");
  CHECK(simp(a, j / 4) == "0");
  CHECK(simp(a, (j + 4) / 4) == "1");
  CHECK(simp(a, (j + 8) % 4) == "j");
  CHECK(simp(a, (x / 4) / 8) == "(x / 32)");
  CHECK(simp(a, (x % 32) % 8) == "(x % 8)");
  CHECK(simp(a, (x % 8) / 8) == "0");
  CHECK(simp(a, (x % 32) % 64) == "(x % 32)");
  CHECK(simp(a, (f / 8) * 8 + f % 8) == "f");
  CHECK(simp(a, f % 8 + (f / 8) * 8 + 1) == "(f + 1)");
  CHECK(simp(a, (x * 2) / 4) == "(x / 2)");
  CHECK(simp(a, (x * 6 + 3) % 4) == "((((x + 1) % 2) * 2) + 1)");
  CHECK(simp(a, (x + 5) / 4) == "(((x + 1) / 4) + 1)");
  CHECK(simp(a, (x + 5) % 4) == "((x + 1) % 4)");
  // Division by a negative constant is left as it is (after folding).
  CHECK(simp(a, x / -2) == "(x / -2)");
}

TEST_CASE("arith: division that must not simplify", "[arith][divmod]") {
  Analyzer a;
  Var i("i"), j("j"), x("x");
  a.bind(i, 0, 1024);
  a.bind(j, 0, 5);
  CHECK(simp(a, (i * 4 + j) / 4) == "(i + (j / 4))");
  CHECK(simp(a, (i * 4 + j) % 4) == "(j % 4)");
  CHECK(simp(a, x / 4) == "(x / 4)");
  CHECK(simp(a, x % 4) == "(x % 4)");
  CHECK(simp(a, (x / 4) * 4) == "((x / 4) * 4)");
  Var k("k");
  a.bind(k, -1, 4);  // k in [-1, 3): k % 4 is not k
  CHECK(simp(a, k % 4) == "(k % 4)");
  CHECK(simp(a, k / 4) == "(k / 4)");
}

TEST_CASE("arith: symbolic divisors", "[arith][divmod]") {
  Analyzer a;
  Var i("i"), j("j"), n("n"), m("m");
  a.bind_const_range(n, 1, 4096);
  a.bind(i, 0, 64);
  a.bind(j, 0, n);
  CHECK(simp(a, (i * n + j) / n) == "i");
  CHECK(simp(a, (i * n + j) % n) == "j");
  CHECK(simp(a, (n * 4) / n) == "4");
  CHECK(simp(a, n / n) == "1");
  CHECK(simp(a, n % n) == "0");
  // j in [0, n) is not known against an unrelated divisor m.
  a.bind_const_range(m, 1, 4096);
  CHECK(simp(a, (i * m + j) / m) == "(i + (j / m))");
  // A divisor that may be zero is left alone.
  Var z("z");
  a.bind_const_range(z, 0, 10);
  CHECK(simp(a, (i * z) / z) == "((i * z) / z)");
}
