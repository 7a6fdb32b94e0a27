// Structural equality and hash: names are ignored, everything else is compared exactly.
#include <catch2/catch.hpp>

#include "ir/printer.h"
#include "ir/structural.h"

using namespace mlcc::ir;

namespace {

// for v in range(0, 16) kind: A[v] = A[v] * c
Stmt scale_loop(const Buffer& A, Var v, Expr c, ForKind kind = ForKind::kSerial) {
  return for_loop(v, 0, 16, store(A, {v}, A(v) * c), kind);
}

void check_equal(const Stmt& a, const Stmt& b) {
  CHECK(structural_equal(a, b));
  CHECK(structural_equal(b, a));
  CHECK(structural_hash(a) == structural_hash(b));
}

}  // namespace

TEST_CASE("structural: renamed loop variables are equal", "[ir][structural]") {
  Buffer A = Buffer::make("A", DataType::f32(), {16});
  Stmt s1 = scale_loop(A, Var("i"), 2.0);
  Stmt s2 = scale_loop(A, Var("j"), 2.0);
  check_equal(s1, s2);
  // A buffer with another name but the same type and shape also matches.
  Buffer B = Buffer::make("B", DataType::f32(), {16});
  check_equal(s1, scale_loop(B, Var("k"), 2.0));
  // Let vars are matched by definition too.
  Var x("x", DataType::f32()), y("y", DataType::f32());
  check_equal(let_stmt(x, A(0), store(A, {1}, x + x)), let_stmt(y, A(0), store(A, {1}, y + y)));
}

TEST_CASE("structural: differences that matter", "[ir][structural]") {
  Buffer A = Buffer::make("A", DataType::f32(), {16});
  Var i("i");
  Stmt base = scale_loop(A, i, 2.0);
  CHECK_FALSE(structural_equal(base, scale_loop(A, Var("i"), 3.0)));  // constant
  CHECK_FALSE(structural_equal(base, scale_loop(A, Var("i"), 2.0, ForKind::kUnrolled)));
  Buffer A8 = Buffer::make("A", DataType::f32(), {8});
  CHECK_FALSE(structural_equal(base, scale_loop(A8, Var("i"), 2.0)));  // shape
  Buffer Ah = Buffer::make("A", DataType::f16(), {16});
  CHECK_FALSE(structural_equal(base, scale_loop(Ah, Var("i"), make_const(DataType::f16(), 2.0))));
  Buffer As = Buffer::make("A", DataType::f32(), {16}, MemScope::kShared);
  CHECK_FALSE(structural_equal(base, scale_loop(As, Var("i"), 2.0)));  // scope
  Buffer Ast = Buffer::make("A", DataType::f32(), {16}, MemScope::kGlobal, {Expr(2)});
  CHECK_FALSE(structural_equal(base, scale_loop(Ast, Var("i"), 2.0)));  // strides
  // Loop var type.
  Var k("k", DataType::i64());
  CHECK_FALSE(structural_equal(for_loop(i, 0, 4, evaluate(i)),
                               for_loop(k, int64_t{0}, int64_t{4}, evaluate(k))));
  // Thread axes.
  Var tx("tx");
  Stmt body = store(A, {tx}, 1.0);
  CHECK_FALSE(structural_equal(thread_loop(tx, 16, ThreadAxis::kThreadX, body),
                               thread_loop(tx, 16, ThreadAxis::kThreadY, body)));
  CHECK(structural_hash(thread_loop(tx, 16, ThreadAxis::kThreadX, body)) !=
        structural_hash(thread_loop(tx, 16, ThreadAxis::kThreadY, body)));
  // Expression kinds and dtypes.
  Var x("x"), y("y");
  CHECK_FALSE(structural_equal(x + y, x - y));
  CHECK_FALSE(structural_equal(cast(DataType::f16(), x), cast(DataType::f32(), x)));
  CHECK_FALSE(structural_equal(Expr(1), Expr(int64_t{1})));
  CHECK(structural_hash(x + 1) != structural_hash(x + 2));
}

TEST_CASE("structural: free variables map one to one", "[ir][structural]") {
  Var x("x"), y("y"), z("z");
  CHECK(structural_equal(x + y, y + x));  // x<->y, consistently
  CHECK(structural_equal(x + y, x + z));
  CHECK_FALSE(structural_equal(x + y, x + x));
  CHECK_FALSE(structural_equal(x + x, x + y));
  CHECK(structural_equal(x * x + y, z * z + x));
  CHECK_FALSE(structural_equal(x * x + y, z * x + y));
  CHECK(structural_hash(x * y) == structural_hash(z * x));
  CHECK(structural_hash(x * y) != structural_hash(x * x));
}

TEST_CASE("structural: variables bound in the loop versus free", "[ir][structural]") {
  Buffer A = Buffer::make("A", DataType::i32(), {16});
  Var i("i"), j("j");
  // for i: A[i] = i  vs  for j: A[j] = i (i free on the right): not equal.
  CHECK_FALSE(
      structural_equal(for_loop(i, 0, 16, store(A, {i}, i)), for_loop(j, 0, 16, store(A, {j}, i))));
  // Sibling loops reusing one var equal sibling loops with two vars.
  Stmt same = seq({for_loop(i, 0, 16, store(A, {i}, 0)), for_loop(i, 0, 16, store(A, {i}, 1))});
  Stmt two = seq({for_loop(i, 0, 16, store(A, {i}, 0)), for_loop(j, 0, 16, store(A, {j}, 1))});
  check_equal(same, two);
}

TEST_CASE("structural: functions and allocations", "[ir][structural]") {
  auto make = [](const std::string& suffix, double c) {
    Var n("n" + suffix);
    Buffer A = Buffer::make("A" + suffix, DataType::f32(), {n});
    Buffer T = Buffer::make("T" + suffix, DataType::f32(), {Expr(4)}, MemScope::kLocal);
    Var i("i" + suffix);
    Stmt body = allocate(T, for_loop(i, 0, n, seq({store(T, {0}, A(i)), store(A, {i}, T(0) * c)})));
    return make_prim_func("f" + suffix, {A}, body);
  };
  PrimFunc f1 = make("", 2.0), f2 = make("_other", 2.0), f3 = make("", 3.0);
  CHECK(structural_equal(f1, f2));
  CHECK(structural_hash(f1) == structural_hash(f2));
  CHECK_FALSE(structural_equal(f1, f3));
  CHECK(structural_hash(f1) != structural_hash(f3));
  // Buffer params in another order differ.
  Buffer A = Buffer::make("A", DataType::f32(), {4}), B = Buffer::make("B", DataType::f32(), {4});
  Stmt copy = store(B, {0}, A(0));
  CHECK_FALSE(
      structural_equal(make_prim_func("g", {A, B}, copy), make_prim_func("g", {B, A}, copy)));
}
