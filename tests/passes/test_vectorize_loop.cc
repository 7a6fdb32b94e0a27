// vectorize_loops: vector code where it is equivalent to the loop, unrolled loops where not.
#include <catch2/catch.hpp>

#include "ir/printer.h"
#include "passes/vectorize_loop.h"

using namespace mlcc::ir;
using mlcc::passes::vectorize_loops;

namespace {
Stmt vloop(Var v, int lanes, Stmt body) {
  return for_loop(v, 0, lanes, body, ForKind::kVectorized);
}
}  // namespace

TEST_CASE("vectorize: elementwise body becomes vector code", "[passes][vectorize]") {
  Var n("n"), i("i"), j("j");
  Buffer A = Buffer::make("A", DataType::f32(), {n, 8});
  Buffer B = Buffer::make("B", DataType::f32(), {8});
  Buffer C = Buffer::make("C", DataType::f32(), {n, 8});
  Stmt body = for_loop(i, 0, n, vloop(j, 8, store(C, {i, j}, A(i, j) * Expr(2.0) + B(j) + B(0))));
  CHECK(to_string(vectorize_loops(body)) ==
        "for i in range(0, n) {\n"
        "  C[i, ramp(0, 1, 8)] = (((A[i, ramp(0, 1, 8)] * broadcast(2.0f, 8)) + B[ramp(0, 1, 8)]) "
        "+ broadcast(B[0], 8))\n"
        "}\n");
}

TEST_CASE("vectorize: affine indices, casts, selects, lets and math", "[passes][vectorize]") {
  Var io("io"), j("j"), t("t");
  Buffer A = Buffer::make("A", DataType::f16(), {64});
  Buffer C = Buffer::make("C", DataType::f32(), {64});
  Expr x = cast(DataType::f32(), A(io * 8 + j));
  Stmt body = for_loop(
      io, 0, 8,
      vloop(j, 8,
            let_stmt(t, io * 8 + j, store(C, {t}, select(x > Expr(0.0), exp(x), Expr(0.0))))));
  CHECK(to_string(vectorize_loops(body)) ==
        "for io in range(0, 8) {\n"
        "  C[ramp((io * 8), 1, 8)] = select((f32x8(A[ramp((io * 8), 1, 8)]) > broadcast(0.0f, 8)), "
        "exp(f32x8(A[ramp((io * 8), 1, 8)])), broadcast(0.0f, 8))\n"
        "}\n");
}

TEST_CASE("vectorize: a non-affine let value becomes a vector variable", "[passes][vectorize]") {
  Var j("j"), q("q");
  Buffer A = Buffer::make("A", DataType::i32(), {8});
  Stmt body = vloop(j, 8, let_stmt(q, j / 3, store(A, {j}, q * q)));
  CHECK(to_string(vectorize_loops(body)) ==
        "let q: i32x8 = (ramp(0, 1, 8) / broadcast(3, 8))\n"
        "A[ramp(0, 1, 8)] = (q * q)\n");
}

TEST_CASE("vectorize: falls back to an unrolled loop where lanes would differ",
          "[passes][vectorize]") {
  Var j("j");
  Buffer A = Buffer::make("A", DataType::f32(), {16});
  Buffer W = Buffer::make("W", DataType::u32(), {2});
  Buffer acc = Buffer::make("acc", DataType::f32(), {1});
  auto unrolled = [&](Stmt s) {
    std::string text = to_string(vectorize_loops(s));
    INFO(text);
    CHECK(text.find("unrolled") != std::string::npos);
    CHECK(text.find("ramp") == std::string::npos);
  };
  // A reduction into one element (the store index does not vary).
  unrolled(vloop(j, 8, store(acc, {0}, acc(0) + A(j))));
  // A non-affine load index (4-bit unpacking reads W[j / 8]).
  unrolled(vloop(j, 8,
                 store(A, {j}, cast(DataType::f32(), W(j / 8) >> (cast(DataType::u32(), j) * 4)))));
  // A condition that depends on the lane.
  unrolled(vloop(j, 8, if_then_else(j < 3, store(A, {j}, Expr(1.0)))));
  // A dependence between iterations.
  unrolled(vloop(j, 8, store(A, {j + 1}, A(j) + Expr(1.0))));
  // A nested loop.
  Var k("k");
  unrolled(vloop(j, 8, for_loop(k, 0, 2, store(A, {j}, Expr(1.0)))));
}

TEST_CASE("vectorize: symbolic extents stay serial, invariant ifs stay", "[passes][vectorize]") {
  Var n("n"), j("j"), flag("flag", DataType::boolean());
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  Stmt s = for_loop(j, 0, n, store(A, {j}, Expr(1.0)), ForKind::kVectorized);
  CHECK(to_string(vectorize_loops(s)) ==
        "for j in range(0, n) {\n"
        "  A[j] = 1.0f\n"
        "}\n");
  Stmt t = vloop(j, 4, if_then_else(flag, store(A, {j}, Expr(1.0))));
  CHECK(to_string(vectorize_loops(t)) ==
        "if flag {\n"
        "  A[ramp(0, 1, 4)] = broadcast(1.0f, 4)\n"
        "}\n");
}
