// Analyzer tests: comparisons and proofs under loop ranges, symbolic extents and assumed
// facts; constant bounds; symbolic ranges; scoping of bindings.
#include <catch2/catch.hpp>

#include "ir/arith/analyzer.h"
#include "ir/printer.h"

using namespace mlcc::ir;
using mlcc::ir::arith::Analyzer;
using mlcc::ir::arith::AnalyzerScope;
using mlcc::ir::arith::ConstIntBound;

namespace {
std::string simp(Analyzer& a, const Expr& e) { return to_string(a.simplify(e)); }
}  // namespace

TEST_CASE("arith: bound checks with constant ranges", "[arith][cmp]") {
  Analyzer a;
  Var i("i"), j("j");
  a.bind(i, 0, 1024);
  a.bind(j, 0, 4);
  CHECK(a.can_prove(i * 4 + j < 4096));
  CHECK(simp(a, i * 4 + j < 4096) == "true");
  CHECK(simp(a, i * 4 + j >= 4096) == "false");
  CHECK_FALSE(a.can_prove(i * 4 + j < 4095));
  CHECK(simp(a, i * 4 + j < 4095) == "(((i * 4) + j) < 4095)");
  CHECK(a.can_prove(i >= 0));
  CHECK(a.can_prove(ne(j * 2 + 1, 8)));
  CHECK(simp(a, eq(i * 2, 7)) == "false");
  CHECK(simp(a, eq(i * 2 + 2, 8)) == "(i == 3)");
}

TEST_CASE("arith: comparisons print canonically", "[arith][cmp]") {
  Analyzer a;
  Var i("i"), j("j"), n("n");
  CHECK(simp(a, i < n) == "(i < n)");
  CHECK(simp(a, n > i) == "(i < n)");
  CHECK(simp(a, i + 1 < n) == "(i < (n - 1))");
  CHECK(simp(a, i * 4 < 8) == "(i < 2)");
  CHECK(simp(a, i * 4 < 9) == "(i < 3)");
  CHECK(simp(a, i * 4 <= 9) == "(i <= 2)");
  CHECK(simp(a, i > 0) == "(i > 0)");
  CHECK(simp(a, 0 < i) == "(i > 0)");
  CHECK(simp(a, i >= 1) == "(i >= 1)");
  CHECK(simp(a, eq(i, j)) == simp(a, eq(j, i)));
  CHECK(simp(a, eq(i, j)) == "(i == j)");
  CHECK(simp(a, ne(i * 2, j * 2)) == "(i != j)");
  CHECK(simp(a, eq(i * 2, j * 2 + 1)) == "false");
  CHECK(simp(a, !(i < n)) == "(n <= i)");
  CHECK(simp(a, !(eq(i, n))) == "(i != n)");
  CHECK(simp(a, i + 1 > i) == "true");
}

TEST_CASE("arith: symbolic extents are proven by substituting extremes", "[arith][cmp]") {
  Analyzer a;
  Var n("n"), io("io"), ii("ii"), i("i");
  a.bind_const_range(n, 1, 4096);
  a.bind(io, 0, n);
  a.bind(ii, 0, 4);
  CHECK(a.can_prove(io * 4 + ii < n * 4));
  CHECK(simp(a, io * 4 + ii < n * 4) == "true");
  CHECK_FALSE(a.can_prove(io * 4 + ii < n * 4 - 1));
  a.bind(i, 0, n);
  CHECK(a.can_prove(i < n));
  CHECK(simp(a, i < n) == "true");
  CHECK(simp(a, i >= n) == "false");
  CHECK(a.can_prove(i * n + io < n * n));
  CHECK(simp(a, min(i, n)) == "i");
  CHECK(simp(a, max(i + 1, n)) == "n");
  CHECK(simp(a, min(i, n - 2)) == "min(i, (n - 2))");
}

TEST_CASE("arith: proofs that must not succeed", "[arith][cmp]") {
  Analyzer a;
  Var n("n"), i("i"), m("m");
  a.bind_const_range(n, 1, 4096);
  a.bind(i, 0, n + 1);
  CHECK_FALSE(a.can_prove(i < n));
  CHECK(simp(a, i < n) == "(i < n)");
  CHECK(a.can_prove(i <= n));
  a.bind_const_range(m, 1, 4096);
  CHECK_FALSE(a.can_prove(i < m));
  Var x("x");  // unbound
  CHECK_FALSE(a.can_prove(x >= 0));
  CHECK_FALSE(a.can_prove(x * x >= 1));
}

TEST_CASE("arith: assumed facts", "[arith][facts]") {
  Analyzer a;
  Var n("n"), m("m"), i("i");
  a.bind_const_range(n, 1, 4096);
  CHECK_FALSE(a.can_prove(n >= 8));
  a.assume(n >= 8);
  CHECK(a.can_prove(n >= 8));
  CHECK(a.can_prove(n > 4));
  CHECK(a.const_int_bound(n).min_value == 8);
  CHECK_FALSE(a.can_prove(eq(n % 4, 0)));
  a.assume(eq(n % 4, 0));
  CHECK(a.can_prove(eq(n % 4, 0)));
  CHECK(simp(a, n % 4) == "0");
  CHECK(simp(a, (n + 6) % 4) == "2");
  CHECK(simp(a, n % 2) == "0");
  CHECK(simp(a, (n / 4) * 4) == "n");
  CHECK(simp(a, (n + 3) / 4) == "(n / 4)");
  a.assume(m <= n);
  CHECK(a.can_prove(m < n + 1));
  CHECK(a.can_prove(m - n <= 0));
  CHECK_FALSE(a.can_prove(m < n));
  Var c("c", DataType::boolean());
  a.assume(c);
  CHECK(a.can_prove(c));
  CHECK(simp(a, select(c, i, n)) == "i");
}

TEST_CASE("arith: conditions inside && and || use each other", "[arith][logic]") {
  Analyzer a;
  Var i("i"), n("n");
  CHECK(simp(a, i < n && i < n + 1) == "(i < n)");
  CHECK(simp(a, i < n + 1 && i < n) == "(i < n)");
  CHECK(simp(a, i < n || i < n + 1) == "(i < (n + 1))");
  CHECK(simp(a, i < n && i >= n) == "false");
  CHECK(simp(a, i < n || i >= n) == "true");
  CHECK(simp(a, i < 4 && i < 8) == "(i < 4)");
  CHECK(simp(a, i > 0 && i < 8) == "((i > 0) && (i < 8))");
}

TEST_CASE("arith: const_int_bound", "[arith][bound]") {
  Analyzer a;
  Var i("i"), j("j"), x("x"), n("n");
  a.bind(i, 0, 16);
  a.bind(j, -4, 8);  // [-4, 4)
  auto b = a.const_int_bound(i * 4 + j);
  CHECK(b.min_value == -4);
  CHECK(b.max_value == 63);
  b = a.const_int_bound(j % 3);
  CHECK((b.min_value == 0 && b.max_value == 2));
  b = a.const_int_bound(j / 2);
  CHECK((b.min_value == -2 && b.max_value == 1));
  b = a.const_int_bound(i * j);
  CHECK((b.min_value == -60 && b.max_value == 45));
  b = a.const_int_bound(min(i, j));
  CHECK((b.min_value == -4 && b.max_value == 3));
  b = a.const_int_bound(x);
  CHECK((b.min_value == INT32_MIN && b.max_value == INT32_MAX));
  Var w("w", DataType::i64());
  b = a.const_int_bound(w);
  CHECK((b.min_value == ConstIntBound::kNegInf && b.max_value == ConstIntBound::kPosInf));
  b = a.const_int_bound(x & 15);
  CHECK((b.min_value == 0 && b.max_value == 15));
  Var u("u", DataType::u32());
  b = a.const_int_bound(u - 1);  // wraps: the whole range
  CHECK((b.min_value == 0 && b.max_value == 4294967295));
  a.bind_const_range(n, 1, 4096);
  a.bind(x, 0, n);
  b = a.const_int_bound(x);
  CHECK((b.min_value == 0 && b.max_value == 4095));
}

TEST_CASE("arith: symbolic_range relaxes only the listed vars", "[arith][range]") {
  Analyzer a;
  Var io("io"), ii("ii"), n("n"), j("j");
  a.bind_const_range(n, 1, 4096);
  a.bind(io, 0, n);
  a.bind(ii, 0, 4);
  auto r = a.symbolic_range(io * 4 + ii, {ii});
  CHECK(to_string(r.first) == "(io * 4)");
  CHECK(to_string(r.second) == "((io * 4) + 3)");
  r = a.symbolic_range(io * 4 + ii, {io, ii});
  CHECK(to_string(r.first) == "0");
  CHECK(to_string(r.second) == "((n * 4) - 1)");
  r = a.symbolic_range(io * 4 - ii * 2, {ii});
  CHECK(to_string(r.first) == "((io * 4) - 6)");
  CHECK(to_string(r.second) == "(io * 4)");
  r = a.symbolic_range((io * 4 + ii) / 2, {ii});
  CHECK(to_string(r.first) == "(io * 2)");
  CHECK(to_string(r.second) == "((io * 2) + 1)");
  a.bind(j, 0, io + 1);  // a triangular loop
  r = a.symbolic_range(j, {j, io});
  CHECK(to_string(r.first) == "0");
  CHECK(to_string(r.second) == "(n - 1)");
}

TEST_CASE("arith: let values are substituted", "[arith][bind]") {
  Analyzer a;
  Var v("v"), i("i");
  a.bind(i, 0, 8);
  a.bind_value(v, i * 4 + 1);
  CHECK(simp(a, v - i * 4) == "1");
  CHECK(a.can_prove(v < 32));
  CHECK(a.can_prove_equal(v + i, i * 5 + 1));
  CHECK_FALSE(a.can_prove_equal(v, i));
}

TEST_CASE("arith: scopes forget bindings and facts", "[arith][bind]") {
  Analyzer a;
  Var i("i"), n("n");
  {
    AnalyzerScope scope(a);
    a.bind(i, 0, 4);
    a.assume(n > 10);
    CHECK(a.can_prove(i < 4));
    CHECK(a.can_prove(n >= 11));
  }
  CHECK_FALSE(a.can_prove(i < 4));
  CHECK_FALSE(a.can_prove(n >= 11));
  a.bind(i, 0, 8);
  size_t snap = a.snapshot();
  a.bind(i, 0, 2);
  CHECK(a.can_prove(i < 2));
  a.restore(snap);
  CHECK_FALSE(a.can_prove(i < 2));
  CHECK(a.can_prove(i < 8));
}

TEST_CASE("arith: vectors", "[arith][vector]") {
  Analyzer a;
  Var i("i");
  CHECK(simp(a, ramp(i, 1, 4) + broadcast(Expr(2), 4)) == "ramp((i + 2), 1, 4)");
  CHECK(simp(a, ramp(i * 4, 1, 4) * broadcast(Expr(2), 4)) == "ramp((i * 8), 2, 4)");
  CHECK(simp(a, ramp(i, 1, 4) - ramp(i, 1, 4)) == "broadcast(0, 4)");
  CHECK(simp(a, broadcast(Expr(2), 4) * broadcast(Expr(3), 4)) == "broadcast(6, 4)");
  CHECK(simp(a, ramp(i, 0, 4)) == "broadcast(i, 4)");
}
