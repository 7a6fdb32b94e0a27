// flatten_buffers: multi-dimensional buffers become 1-D, strides honoured, Ramps kept.
// Offsets are not simplified here (the pipeline's simplify pass does that).
#include <catch2/catch.hpp>

#include "ir/printer.h"
#include "passes/flatten_buffer.h"

using namespace mlcc::ir;
using mlcc::passes::flatten_buffers;

TEST_CASE("flatten: 2-D parameters become 1-D with row-major offsets", "[passes][flatten]") {
  Var n("n"), i("i"), j("j");
  Buffer A = Buffer::make("A", DataType::f32(), {n, 16});
  Buffer B = Buffer::make("B", DataType::f32(), {n, 16});
  Stmt body = for_loop(i, 0, n, for_loop(j, 0, 16, store(B, {i, j}, A(i, j) + Expr(1.0))));
  PrimFunc f = flatten_buffers(make_prim_func("add", {A, B}, body));
  CHECK(to_string(f) ==
        "func add(A: f32[(n * 16)], B: f32[(n * 16)], n: i32) {\n"
        "  for i in range(0, n) {\n"
        "    for j in range(0, 16) {\n"
        "      B[((i * 16) + j)] = (A[((i * 16) + j)] + 1.0f)\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("flatten: a Ramp last index stays a Ramp", "[passes][flatten]") {
  Var i("i");
  Buffer A = Buffer::make("A", DataType::f32(), {4, 16});
  Buffer B = Buffer::make("B", DataType::f32(), {4, 16});
  Stmt body = for_loop(i, 0, 4, store(B, {i, ramp(Expr(8), 1, 8)}, A(i, ramp(Expr(0), 1, 8))));
  PrimFunc f = flatten_buffers(make_prim_func("k", {A, B}, body));
  CHECK(to_string(f.body) ==
        "for i in range(0, 4) {\n"
        "  B[ramp(((i * 16) + 8), 1, 8)] = A[ramp(((i * 16) + 0), 1, 8)]\n"
        "}\n");
}

TEST_CASE("flatten: strided allocations are sized by their span", "[passes][flatten]") {
  Var i("i");
  Buffer A = Buffer::make("A", DataType::f32(), {4, 8});
  Buffer S = Buffer::make("S", DataType::f32(), {4, 8}, MemScope::kShared, {Expr(9), Expr(1)});
  Buffer T = Buffer::make("T", DataType::f32(), {2, 3, 4}, MemScope::kLocal);
  Stmt body = allocate(
      S, allocate(T, for_loop(i, 0, 4,
                              seq({store(S, {i, ramp(Expr(0), 1, 8)}, A(i, ramp(Expr(0), 1, 8))),
                                   store(T, {1, 2, i}, S(i, 3)), store(A, {i, 0}, T(1, 2, i))}))));
  PrimFunc f = flatten_buffers(make_prim_func("k", {A}, body));
  CHECK(to_string(f) ==
        "func k(A: f32[32]) {\n"
        "  alloc S: f32[35] shared\n"
        "  alloc T: f32[24] local\n"
        "  for i in range(0, 4) {\n"
        "    S[ramp(((i * 9) + 0), 1, 8)] = A[ramp(((i * 8) + 0), 1, 8)]\n"
        "    T[((((1 * 3) + 2) * 4) + i)] = S[((i * 9) + 3)]\n"
        "    A[((i * 8) + 0)] = T[((((1 * 3) + 2) * 4) + i)]\n"
        "  }\n"
        "}\n");
}

TEST_CASE("flatten: 1-D dense buffers and 0-d buffers", "[passes][flatten]") {
  Var n("n"), i("i");
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  Buffer C = Buffer::make("C", DataType::f32(), {});
  Stmt body = for_loop(i, 0, n, store(A, {i}, C({})));
  PrimFunc in = make_prim_func("k", {A, C}, body);
  PrimFunc f = flatten_buffers(in);
  CHECK(f.buffers[0].same_as(A));  // already flat: the very same buffer
  CHECK(to_string(f.body) ==
        "for i in range(0, n) {\n"
        "  A[i] = C[0]\n"
        "}\n");
  CHECK(to_string(f.buffers[1]->shape[0]) == "1");
}
