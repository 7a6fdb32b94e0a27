// Simplify pass tests: whole loop nests before/after as printed text.
#include <catch2/catch.hpp>

#include "ir/printer.h"
#include "passes/simplify.h"

using namespace mlcc::ir;
using mlcc::passes::simplify;

TEST_CASE("simplify pass: removes a provable bound check after a split", "[passes][simplify]") {
  Buffer A = Buffer::make("A", DataType::f32(), {1024});
  Buffer B = Buffer::make("B", DataType::f32(), {1024});
  Var io("io"), ii("ii");
  Expr idx = io * 4 + ii;
  Stmt body = for_loop(io, 0, 256,
                       for_loop(ii, 0, 4, if_then_else(idx < 1024, store(B, {idx}, A(idx) * 2.0)),
                                ForKind::kVectorized));
  PrimFunc f = simplify(make_prim_func("k", {A, B}, body));
  CHECK(to_string(f) ==
        "func k(A: f32[1024], B: f32[1024]) {\n"
        "  for io in range(0, 256) {\n"
        "    for ii in range(0, 4) vectorized {\n"
        "      B[((io * 4) + ii)] = (A[((io * 4) + ii)] * 2.0f)\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("simplify pass: symbolic extents, fused index round trip", "[passes][simplify]") {
  Var n("n");
  Buffer A = Buffer::make("A", DataType::f32(), {n, 8});
  Buffer B = Buffer::make("B", DataType::f32(), {n * 8});
  Var f("f"), io("io"), ii("ii");
  // A fused loop split by 4 with a tail check that the shape makes redundant.
  Expr fused = io * 4 + ii;
  Stmt body = for_loop(io, 0, n * 2,
                       for_loop(ii, 0, 4,
                                if_then_else(fused < n * 8, store(B, {(fused / 8) * 8 + fused % 8},
                                                                  A(fused / 8, fused % 8)))));
  PrimFunc fn = simplify(make_prim_func("k", {A, B}, body));
  CHECK(to_string(fn) ==
        "func k(A: f32[n, 8], B: f32[(n * 8)], n: i32) {\n"
        "  for io in range(0, (n * 2)) {\n"
        "    for ii in range(0, 4) {\n"
        "      B[((io * 4) + ii)] = A[(io / 2), (((io % 2) * 4) + ii)]\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("simplify pass: keeps a bound check that can fail", "[passes][simplify]") {
  Var n("n");
  Buffer B = Buffer::make("B", DataType::f32(), {n});
  Var io("io"), ii("ii");
  Expr idx = io * 4 + ii;
  Stmt body =
      for_loop(io, 0, (n + 3) / 4, for_loop(ii, 0, 4, if_then_else(idx < n, store(B, {idx}, 1.0))));
  PrimFunc f = simplify(make_prim_func("k", {B}, body));
  CHECK(to_string(f) ==
        "func k(B: f32[n], n: i32) {\n"
        "  for io in range(0, ((n + 3) / 4)) {\n"
        "    for ii in range(0, 4) {\n"
        "      if (((io * 4) + ii) < n) {\n"
        "        B[((io * 4) + ii)] = 1.0f\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("simplify pass: trivial loops, branches and evaluations", "[passes][simplify]") {
  Buffer B = Buffer::make("B", DataType::f32(), {64});
  Var i("i"), j("j"), k("k"), t("t"), p("p");
  Stmt body = seq({
      for_loop(i, 0, 0, store(B, {i}, 1.0)),                          // extent 0: dropped
      for_loop(j, 3, 1, store(B, {j * 2}, 2.0), ForKind::kUnrolled),  // extent 1: inlined
      thread_loop(t, 1, ThreadAxis::kThreadX, store(B, {t}, 3.0)),    // thread-bound: kept
      for_loop(p, 0, 1, store(B, {p + 8}, 4.0), ForKind::kParallel),  // parallel: kept
      evaluate(Expr(1) + Expr(2)),                                    // constant: dropped
      for_loop(k, 0, 8,
               seq({if_then_else(k < 8, store(B, {k}, 5.0), store(B, {k}, 6.0)),
                    if_then_else(k >= 8, store(B, {k + 1}, 7.0)),
                    if_then_else(k < 4, store(B, {k}, 8.0),
                                 if_then_else(k >= 4, store(B, {k + 16}, 9.0)))})),
  });
  PrimFunc f = simplify(make_prim_func("k", {B}, body));
  CHECK(to_string(f) ==
        "func k(B: f32[64]) {\n"
        "  B[6] = 2.0f\n"
        "  for t in range(0, 1) bind(threadIdx.x) {\n"
        "    B[t] = 3.0f\n"
        "  }\n"
        "  for p in range(0, 1) parallel {\n"
        "    B[(p + 8)] = 4.0f\n"
        "  }\n"
        "  for k in range(0, 8) {\n"
        "    B[k] = 5.0f\n"
        "    if (k < 4) {\n"
        "      B[k] = 8.0f\n"
        "    } else {\n"
        "      B[(k + 16)] = 9.0f\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("simplify pass: lets and a function that becomes empty", "[passes][simplify]") {
  Buffer B = Buffer::make("B", DataType::f32(), {64});
  Var i("i"), v("v"), w("w");
  Stmt body = for_loop(
      i, 0, 8,
      let_stmt(v, Expr(4), let_stmt(w, i * v + 1, store(B, {w / 4}, cast(DataType::f32(), w)))));
  PrimFunc f = simplify(make_prim_func("k", {B}, body));
  CHECK(to_string(f) ==
        "func k(B: f32[64]) {\n"
        "  for i in range(0, 8) {\n"
        "    let w: i32 = ((i * 4) + 1)\n"
        "    B[(w / 4)] = f32(w)\n"
        "  }\n"
        "}\n");
  // w's bounds [1, 29] are known inside the let.
  Var x("x");
  Stmt body2 = for_loop(i, 0, 8, let_stmt(x, i * 4 + 1, if_then_else(x > 40, store(B, {x}, 1.0))));
  PrimFunc g = simplify(make_prim_func("g", {B}, body2));
  CHECK(to_string(g) == "func g(B: f32[64]) {\n}\n");
}

TEST_CASE("simplify pass: statement entry point uses the caller's analyzer", "[passes][simplify]") {
  Buffer B = Buffer::make("B", DataType::f32(), {64});
  Var n("n"), i("i");
  mlcc::ir::arith::Analyzer a;
  a.bind_const_range(n, 1, 16);
  Stmt s = for_loop(i, 0, n, if_then_else(i < 16, store(B, {i}, 1.0)));
  CHECK(to_string(simplify(s, a)) ==
        "for i in range(0, n) {\n"
        "  B[i] = 1.0f\n"
        "}\n");
  CHECK(a.can_prove(n <= 16));
  CHECK_FALSE(a.can_prove(i < 16));  // the loop binding did not leak
}
