// Verifier tests: each kind of problem yields its message; well-formed kernels pass.
#include <catch2/catch.hpp>

#include "ir/printer.h"
#include "ir/verifier.h"
#include "runtime/error.h"

using namespace mlcc::ir;

namespace {

// The single error verify_errors reports for f (fails the test when there are others).
std::string only_error(const PrimFunc& f) {
  std::vector<std::string> errors = verify_errors(f);
  INFO(to_string(f));
  for (const std::string& e : errors) INFO(e);
  REQUIRE(errors.size() == 1);
  return errors[0];
}

}  // namespace

TEST_CASE("verifier: a GPU reduction kernel passes", "[ir][verifier]") {
  Var n("n");
  Buffer A = Buffer::make("A", DataType::f32(), {n, 64});
  Buffer B = Buffer::make("B", DataType::f32(), {n});
  Buffer S = Buffer::make("S", DataType::f32(), {Expr(64)}, MemScope::kShared);
  Buffer R = Buffer::make("R", DataType::f32(), {Expr(1)}, MemScope::kLocal);
  Var bx("bx"), tx("tx"), s("s");
  Stmt body = thread_loop(
      bx, n, ThreadAxis::kBlockX,
      allocate(S, thread_loop(tx, 64, ThreadAxis::kThreadX,
                              allocate(R, seq({store(R, {0}, A(bx, tx)), store(S, {tx}, R(0)),
                                               sync_threads(),
                                               if_then_else(eq(tx, 0), store(B, {bx}, S(0)))})))));
  PrimFunc f = make_prim_func("reduce", {A, B}, body);
  CHECK(verify_errors(f).empty());
  CHECK_NOTHROW(verify(f));
}

TEST_CASE("verifier: undefined variables and buffers", "[ir][verifier]") {
  Buffer A = Buffer::make("A", DataType::f32(), {16});
  Var i("i"), j("j");
  PrimFunc f = make_prim_func("k", {A}, for_loop(i, 0, 16, store(A, {j}, 0.0)));
  CHECK(only_error(f) ==
        "k: variable 'j' is used but not defined (not a scalar parameter or an enclosing "
        "loop/let var) in `A[j] = 0.0f`");

  // A loop var used after its loop ended.
  PrimFunc g =
      make_prim_func("k", {A}, seq({for_loop(i, 0, 16, store(A, {i}, 0.0)), store(A, {i}, 1.0)}));
  CHECK_THAT(only_error(g), Catch::Contains("variable 'i' is used but not defined"));

  Buffer B = Buffer::make("B", DataType::f32(), {16});
  PrimFunc h = make_prim_func("k", {A}, for_loop(i, 0, 16, store(A, {i}, B(i))));
  CHECK(only_error(h) ==
        "k: buffer 'B' is neither a parameter nor allocated by an enclosing allocate in "
        "`A[i] = B[i]`");

  // A local buffer used outside its allocation.
  Buffer T = Buffer::make("T", DataType::f32(), {Expr(1)}, MemScope::kLocal);
  PrimFunc l =
      make_prim_func("k", {A}, seq({allocate(T, store(T, {0}, 1.0)), store(A, {0}, T(0))}));
  CHECK_THAT(only_error(l), Catch::Contains("buffer 'T' is neither a parameter nor allocated"));
}

TEST_CASE("verifier: index count, index lanes and store types", "[ir][verifier]") {
  Buffer A = Buffer::make("A", DataType::f32(), {4, 4});
  Buffer V = Buffer::make("V", DataType::f32(), {64});
  Var i("i");
  // Build malformed nodes directly: the builders refuse them.
  Stmt wrong_rank =
      Stmt(std::make_shared<const BufferStoreNode>(A, std::vector<Expr>{i}, Expr(0.0)));
  CHECK(only_error(make_prim_func("k", {A}, for_loop(i, 0, 4, wrong_rank))) ==
        "k: buffer 'A' has rank 2 but is indexed with 1 indices in `A[i] = 0.0f`");

  Stmt wrong_type = Stmt(std::make_shared<const BufferStoreNode>(V, std::vector<Expr>{i},
                                                                 cast(DataType::f16(), Expr(1.0))));
  CHECK(only_error(make_prim_func("k", {V}, for_loop(i, 0, 4, wrong_type))) ==
        "k: store of f16 into buffer 'V' of f32 (expected f32) in `V[i] = f16(1.0f)`");

  // A 4-lane index with a scalar value: the value must be f32x4.
  Stmt scalar_into_vector = Stmt(
      std::make_shared<const BufferStoreNode>(V, std::vector<Expr>{ramp(i * 4, 1, 4)}, Expr(1.0)));
  CHECK_THAT(only_error(make_prim_func("k", {V}, for_loop(i, 0, 4, scalar_into_vector))),
             Catch::Contains("store of f32 into buffer 'V' of f32 (expected f32x4)"));

  Buffer M = Buffer::make("M", DataType::f32(), {8, 8});
  Stmt lanes = Stmt(std::make_shared<const BufferStoreNode>(
      M, std::vector<Expr>{ramp(Expr(0), 1, 4), ramp(Expr(0), 1, 8)}, broadcast(Expr(1.0), 8)));
  CHECK_THAT(only_error(make_prim_func("k", {M}, lanes)),
             Catch::Contains("vector index lanes mismatch on buffer 'M': 4 vs 8"));

  Expr bad_load = Expr(
      std::make_shared<const BufferLoadNode>(DataType::f32(), V, std::vector<Expr>{ramp(i, 1, 4)}));
  Buffer O = Buffer::make("O", DataType::f32(), {4});
  CHECK_THAT(only_error(make_prim_func("k", {V, O}, for_loop(i, 0, 4, store(O, {i}, bad_load)))),
             Catch::Contains("load of buffer 'V' has type f32 but its indices have 4 lanes"));
}

TEST_CASE("verifier: loop variables and extents", "[ir][verifier]") {
  Buffer A = Buffer::make("A", DataType::f32(), {16, 16});
  Var i("i");
  PrimFunc twice =
      make_prim_func("k", {A}, for_loop(i, 0, 16, for_loop(i, 0, 16, store(A, {i, i}, 0.0))));
  CHECK(only_error(twice) ==
        "k: variable 'i' is defined twice (it is already in scope here) in "
        "`for i in range(0, 16)`");

  Var x("x", DataType::f32()), j("j");
  Stmt float_loop = Stmt(std::make_shared<const ForNode>(j, Expr(0), x, ForKind::kSerial,
                                                         ThreadAxis::kNone, store(A, {j, j}, x)));
  CHECK_THAT(only_error(make_prim_func("k", {A}, float_loop, {x})),
             Catch::Contains("loop extent of non-integer type f32 in `for j in range(0, x)`"));
}

TEST_CASE("verifier: GPU structure", "[ir][verifier]") {
  Buffer A = Buffer::make("A", DataType::f32(), {64});
  Buffer S = Buffer::make("S", DataType::f32(), {Expr(64)}, MemScope::kShared);
  Var bx("bx"), tx("tx");

  Stmt block_in_thread =
      thread_loop(tx, 32, ThreadAxis::kThreadX,
                  thread_loop(bx, 2, ThreadAxis::kBlockX, store(A, {bx * 32 + tx}, 0.0)));
  CHECK(only_error(make_prim_func("k", {A}, block_in_thread)) ==
        "k: loop bound to blockIdx.x is nested inside a threadIdx loop in "
        "`for bx in range(0, 2) bind(blockIdx.x)`");

  Stmt shared_inside = thread_loop(
      bx, 1, ThreadAxis::kBlockX,
      thread_loop(tx, 64, ThreadAxis::kThreadX,
                  allocate(S, seq({store(S, {tx}, A(tx)), store(A, {tx}, S(63 - tx))}))));
  CHECK(only_error(make_prim_func("k", {A}, shared_inside)) ==
        "k: shared allocation 'S' inside a threadIdx loop (shared allocations must enclose "
        "the thread loops) in `alloc S: f32[64] shared`");

  Stmt sync_outside = thread_loop(bx, 1, ThreadAxis::kBlockX,
                                  allocate(S, seq({sync_threads(), store(A, {0}, 1.0)})));
  CHECK(only_error(make_prim_func("k", {A}, sync_outside)) ==
        "k: sync_threads() outside any threadIdx loop in `sync_threads()`");

  Buffer G = Buffer::make("G", DataType::f32(), {Expr(64)});
  Stmt global_alloc =
      thread_loop(bx, 1, ThreadAxis::kBlockX,
                  allocate(G, thread_loop(tx, 64, ThreadAxis::kThreadX, store(G, {tx}, A(tx)))));
  CHECK(only_error(make_prim_func("k", {A}, global_alloc)) ==
        "k: global allocation 'G' inside a GPU kernel (the function has thread-bound loops) in "
        "`alloc G: f32[64]`");

  // A global scratch buffer in a CPU function is fine.
  Var i("i");
  CHECK(
      verify_errors(make_prim_func("k", {A}, allocate(G, for_loop(i, 0, 64, store(G, {i}, A(i))))))
          .empty());
}

TEST_CASE("verifier: verify() lists every problem", "[ir][verifier]") {
  Buffer A = Buffer::make("A", DataType::f32(), {16});
  Buffer B = Buffer::make("B", DataType::f32(), {16});
  Var i("i"), j("j");
  PrimFunc f = make_prim_func("two_bugs", {A},
                              for_loop(i, 0, 16, seq({store(A, {j}, 0.0), store(B, {i}, 1.0)})));
  CHECK(verify_errors(f).size() == 2);
  CHECK_THROWS_WITH(verify(f),
                    Catch::Contains("PrimFunc 'two_bugs' failed verification (2 problems):") &&
                        Catch::Contains("\n  two_bugs: variable 'j' is used") &&
                        Catch::Contains("\n  two_bugs: buffer 'B' is neither"));
}
