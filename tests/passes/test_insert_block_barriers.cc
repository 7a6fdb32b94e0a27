// insert_block_barriers: a barrier region between sibling thread regions of a block, none
// inside a region or between non-thread statements.
#include <catch2/catch.hpp>

#include "ir/printer.h"
#include "passes/insert_block_barriers.h"

using namespace mlcc::ir;
using mlcc::passes::insert_block_barriers;

TEST_CASE("insert_block_barriers: sibling thread regions get a barrier", "[passes][barriers]") {
  Buffer S = Buffer::make("S", DataType::f32(), {Expr(1)}, MemScope::kShared);
  Buffer Y = Buffer::make("Y", DataType::f32(), {Expr(64)});
  Var b("b"), t1("t"), t2("u");
  Stmt body = thread_loop(
      b, 1, ThreadAxis::kBlockX,
      allocate(S, seq({thread_loop(t1, 64, ThreadAxis::kThreadX,
                                   if_then_else(eq(t1, 0), store(S, {0}, Expr(2.0)))),
                       thread_loop(t2, 64, ThreadAxis::kThreadX, store(Y, {t2}, S(0)))})));
  PrimFunc f = insert_block_barriers(make_prim_func("k", {Y}, body));
  CHECK(to_string(f.body) ==
        "for b in range(0, 1) bind(blockIdx.x) {\n"
        "  alloc S: f32[1] shared\n"
        "  for t in range(0, 64) bind(threadIdx.x) {\n"
        "    if (t == 0) {\n"
        "      S[0] = 2.0f\n"
        "    }\n"
        "  }\n"
        "  for t.sync in range(0, 64) bind(threadIdx.x) {\n"
        "    sync_threads()\n"
        "  }\n"
        "  for u in range(0, 64) bind(threadIdx.x) {\n"
        "    Y[u] = S[0]\n"
        "  }\n"
        "}\n");
}

TEST_CASE("insert_block_barriers: one region or CPU code is unchanged", "[passes][barriers]") {
  Buffer Y = Buffer::make("Y", DataType::f32(), {Expr(64)});
  Var i("i"), j("j"), t("t");
  Stmt cpu = seq({for_loop(i, 0, 64, store(Y, {i}, Expr(1.0))),
                  for_loop(j, 0, 64, store(Y, {j}, Y(j) * 2.0))});
  PrimFunc f = make_prim_func("k", {Y}, cpu);
  CHECK(insert_block_barriers(f).body.same_as(cpu));
  Stmt gpu = thread_loop(t, 64, ThreadAxis::kThreadX,
                         seq({store(Y, {t}, Expr(1.0)), store(Y, {t}, Y(t) + 1.0)}));
  CHECK(insert_block_barriers(make_prim_func("g", {Y}, gpu)).body.same_as(gpu));
}

TEST_CASE("insert_block_barriers: looks through allocations around a region",
          "[passes][barriers]") {
  Buffer S = Buffer::make("S", DataType::f32(), {Expr(1)}, MemScope::kShared);
  Buffer R = Buffer::make("R", DataType::f32(), {Expr(8)}, MemScope::kShared);
  Buffer Y = Buffer::make("Y", DataType::f32(), {Expr(64)});
  Var t1("t"), t2("u");
  Stmt first = allocate(R, thread_loop(t1, 64, ThreadAxis::kThreadX,
                                       if_then_else(eq(t1, 0), store(S, {0}, Expr(2.0)))));
  Stmt body =
      allocate(S, seq({first, thread_loop(t2, 64, ThreadAxis::kThreadX, store(Y, {t2}, S(0)))}));
  std::string text = to_string(insert_block_barriers(make_prim_func("k", {Y}, body)).body);
  CHECK(
      text.find("}\nfor t.sync in range(0, 64) bind(threadIdx.x) {\n  sync_threads()\n}\nfor u") !=
      std::string::npos);
}
