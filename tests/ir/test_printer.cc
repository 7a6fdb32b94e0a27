// Printer tests: the text form of expressions, statements and functions.
#include <catch2/catch.hpp>

#include "ir/functor.h"
#include "ir/printer.h"
#include "runtime/error.h"

using namespace mlcc::ir;

TEST_CASE("printer: expressions are fully parenthesized", "[ir][printer]") {
  Var i("i"), j("j");
  CHECK(to_string(i * 4 + j) == "((i * 4) + j)");
  CHECK(to_string(min(i, j) / 2) == "(min(i, j) / 2)");
  CHECK(to_string(cast(DataType::f16(), Expr(1.5))) == "f16(1.5f)");
  CHECK(to_string(select(i < j, i, Expr(0))) == "select((i < j), i, 0)");
  CHECK(to_string(Expr(int64_t{7})) == "i64(7)");
  CHECK(to_string(ramp(i, 1, 4)) == "ramp(i, 1, 4)");
}

TEST_CASE("printer: distinct variables with one name get suffixes", "[ir][printer]") {
  Var a("x"), b("x");
  CHECK(to_string(a + b) == "(x + x_1)");
}

TEST_CASE("printer: a function with loops, allocation and thread bindings", "[ir][printer]") {
  Var n("n");
  Buffer A = Buffer::make("A", DataType::f32(), {n, 4});
  Buffer B = Buffer::make("B", DataType::f32(), {n});
  Buffer S = Buffer::make("S", DataType::f32(), {Expr(32)}, MemScope::kShared);
  Var bx("bx"), tx("tx");
  Stmt body = thread_loop(
      bx, n, ThreadAxis::kBlockX,
      allocate(S, thread_loop(tx, 4, ThreadAxis::kThreadX,
                              seq({store(S, {tx}, A(bx, tx)), sync_threads(),
                                   if_then_else(eq(tx, 0), store(B, {bx}, S(0) + S(1)))}))));
  PrimFunc f = make_prim_func("k", {A, B}, body);
  CHECK(to_string(f) ==
        "func k(A: f32[n, 4], B: f32[n], n: i32) {\n"
        "  for bx in range(0, n) bind(blockIdx.x) {\n"
        "    alloc S: f32[32] shared\n"
        "    for tx in range(0, 4) bind(threadIdx.x) {\n"
        "      S[tx] = A[bx, tx]\n"
        "      sync_threads()\n"
        "      if (tx == 0) {\n"
        "        B[bx] = (S[0] + S[1])\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n");
}

TEST_CASE("builders: type rules", "[ir][builders]") {
  Var i("i"), k("k", DataType::i64());
  Var x("x", DataType::f32());
  CHECK((i + 1).dtype() == DataType::i32());
  CHECK((k + 1).dtype() == DataType::i64());  // the constant adopts the variable's type
  CHECK((x * 2).dtype() == DataType::f32());
  CHECK((i < 3).dtype() == DataType::boolean());
  CHECK((x + broadcast(Expr(1.0), 4)).dtype() == DataType::f32(4));
  CHECK_THROWS_WITH(i + k, Catch::Contains("type mismatch in Add: i32 vs i64"));
  CHECK_THROWS_WITH(x & x, Catch::Contains("BitAnd needs integer operands"));
  Buffer A = Buffer::make("A", DataType::f32(), {8, 8});
  CHECK_THROWS_WITH(A(i), Catch::Contains("buffer 'A' has 2 dimensions"));
}

TEST_CASE("mutator: returns the same node when nothing changes", "[ir][functor]") {
  Var i("i"), j("j");
  Buffer A = Buffer::make("A", DataType::f32(), {16});
  Stmt s = for_loop(i, 0, 16, store(A, {i}, A(i) * 2.0));
  IRMutator identity;
  CHECK(identity.mutate(s).same_as(s));

  struct Rename : IRMutator {
    Var from, to;
    Expr mutate_(const VarNode* n, const Expr& self) override {
      return n == from.get() ? Expr(to) : self;
    }
  } r;
  r.from = i, r.to = j;
  Expr e = i + 1;
  CHECK(to_string(r.mutate(e)) == "(j + 1)");
  Expr untouched = j * 3;
  CHECK(r.mutate(untouched).same_as(untouched));
}
