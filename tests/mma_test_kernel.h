// A kernel around one mma_m16n8k16 per warp, shared by the interpreter tests (tests/ir) and
// the code generator tests (tests/codegen): warp w of the block (threadIdx.y) gathers its
// fragments of A[w] (16 x 16, row-major), B[w] (16 x 8, B[k][n]) and C[w] (16 x 8) from
// global memory in the layout ir/expr.h documents, multiplies, and scatters D[w] back.
#pragma once

#include "ir/expr.h"

namespace mlcc::testing {

inline ir::PrimFunc mma_test_kernel(int warps, const char* name = "mma_tile") {
  using namespace ir;
  Buffer A = Buffer::make("A", DataType::f16(), {warps, 16, 16});
  Buffer B = Buffer::make("B", DataType::f16(), {warps, 16, 8});
  Buffer C = Buffer::make("C", DataType::f32(), {warps, 16, 8});
  Buffer D = Buffer::make("D", DataType::f32(), {warps, 16, 8});
  Buffer af = Buffer::make("af", DataType::f16(), {8}, MemScope::kLocal);
  Buffer bf = Buffer::make("bf", DataType::f16(), {4}, MemScope::kLocal);
  Buffer cf = Buffer::make("cf", DataType::f32(), {4}, MemScope::kLocal);
  Var ty("ty"), tx("tx"), i("i");
  Expr g = tx / 4, t = tx % 4;
  Expr a_row = g + ((i / 2) % 2) * 8, a_col = t * 2 + i % 2 + (i / 4) * 8;
  Expr b_row = t * 2 + i % 2 + (i / 2) * 8;
  Expr c_row = g + (i / 2) * 8, c_col = t * 2 + i % 2;
  Stmt gather = seq({for_loop(i, 0, 8, store(af, {i}, A(ty, a_row, a_col)), ForKind::kUnrolled),
                     for_loop(i, 0, 4, store(bf, {i}, B(ty, b_row, g)), ForKind::kUnrolled),
                     for_loop(i, 0, 4, store(cf, {i}, C(ty, c_row, c_col)), ForKind::kUnrolled)});
  Stmt product = store(cf, {ramp(0, 1, 4)},
                       mma_m16n8k16(af(ramp(0, 1, 8)), bf(ramp(0, 1, 4)), cf(ramp(0, 1, 4))));
  Stmt scatter = for_loop(i, 0, 4, store(D, {ty, c_row, c_col}, cf(i)), ForKind::kUnrolled);
  Stmt body = thread_loop(
      ty, warps, ThreadAxis::kThreadY,
      thread_loop(tx, 32, ThreadAxis::kThreadX,
                  allocate(af, allocate(bf, allocate(cf, seq({gather, product, scatter}))))));
  return make_prim_func(name, {A, B, C, D}, body);
}

}  // namespace mlcc::testing
