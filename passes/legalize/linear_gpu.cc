// GPU schedules of linear() other than the q4 GEMV (gemv_q4.cc) and the tensor-core product
// (linear_mma.cc): the GEMV over unquantized weights (q0f16, q0f32 decode) and the tiled
// matrix product for prefill (any rows, every quantization). Both are written with the direct IR
// builder.
//
// q0 GEMV: one warp per row of W, 8 rows per block; each lane reads 16-byte chunks of its
// row (lanes adjacent: a warp reads 512 contiguous bytes) in batches of four loaded before
// they are multiplied; x is read with 16-byte loads too (the block's warps share it in L1).
// Products are f32; a cross-thread reduction finishes the row.
//
// Tiled product: a 64 x 64 tile of Y per block of 16 x 16 threads, 4 x 4 outputs per
// thread in registers; per 32-wide k step the block stages X's tile and W's tile in shared
// memory as f32, transposed (k-major) so that a thread reads its four X and four W values
// as two 16-byte loads. q4 weights are dequantized as the tile is loaded: each thread
// decodes one word (8 values, one scale). Staging threads run along the tile's rows, so
// their shared-memory stores hit 32 different banks. Tails: rows (symbolic) and n are
// clamped on load and guarded on store; a k tail (q0 only) reads zeros.
// On CUDA sm_80+ with f16 activations prefill runs on tensor cores instead (linear_mma.cc);
// this product serves the other targets and quantizations.
#include <algorithm>
#include <functional>

#include "passes/legalize/linear_internal.h"
#include "runtime/error.h"

namespace mlcc::kernels::detail {

using namespace ir;

namespace {

// Widest vector of `dtype` (at most 16 bytes) whose loads stay aligned along a row of k.
int vector_width(DataType dtype, int64_t k) {
  int v = 16 / dtype.bytes();
  while (v > 1 && k % v != 0) v /= 2;
  return v;
}

Expr u32c(int64_t v) { return make_const(DataType::u32(), v); }

// Indices of `lanes` consecutive elements (a scalar index when lanes == 1).
Expr span(Expr base, int lanes) { return lanes == 1 ? base : ramp(std::move(base), 1, lanes); }

}  // namespace

PrimFunc linear_gemv_q0_gpu(const LinearSpec& spec, const LinearBuffers& b, const Target& target) {
  const DataType act = spec.quant.act_dtype(), f32 = DataType::f32();
  const int n = static_cast<int>(spec.n), k = static_cast<int>(spec.k);
  const int V = vector_width(act, k);
  const int chunks = k / V;
  const int iters = (chunks + 31) / 32;  // chunks per lane
  const int full = chunks / 32;          // iterations where every lane has a chunk
  const int rows_per_block = std::max(1, std::min(8, target.max_threads_per_block / 32));
  // Chunks a lane loads before it multiplies: 64 bytes of W (and of x) in flight per lane.
  // A loop of such batches, not one unrolled sweep: unrolled, every load of the row is
  // hoisted to the top (k = 4096 in f16: 136 registers, one block per SM).
  constexpr int U = 4;
  const int batches = full / U;

  Var bx("bx"), ty("ty"), tx("tx"), row("row"), rowc("rowc"), ob("ob"), u("u"), e("e");
  Buffer wl = Buffer::make("wl", act, {Expr(U * V)}, MemScope::kLocal);
  Buffer xl = Buffer::make("xl", act, {Expr(U * V)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", f32, {Expr(V)}, MemScope::kLocal);
  Buffer total = Buffer::make("total", f32, {Expr(1)}, MemScope::kLocal);

  // Iterations [first, first + count) of this lane, batch-relative index u; chunk
  // it * 32 + tx (clamped; `guard` zeroes the products of lanes past the last chunk).
  auto batch = [&](Expr first, int count, bool guard) {
    Expr it = first + u;
    Expr c = guard ? min(it * 32 + tx, Expr(chunks - 1)) : it * 32 + tx;
    Stmt loads = for_loop(u, 0, count,
                          seq({store(wl, {span(u * V, V)}, b.w(rowc, span(c * V, V))),
                               store(xl, {span(u * V, V)}, b.x(Expr(0), span(c * V, V)))}),
                          ForKind::kUnrolled);
    Expr prod = cast(f32, wl(u * V + e)) * cast(f32, xl(u * V + e));
    if (guard) prod = select(it * 32 + tx < chunks, prod, Expr(0.0));
    Stmt fmas =
        for_loop(u, 0, count, for_loop(e, 0, V, store(acc, {e}, acc(e) + prod), ForKind::kUnrolled),
                 ForKind::kUnrolled);
    return seq({loads, fmas});
  };
  std::vector<Stmt> steps = {
      store(acc, {span(0, V)}, V == 1 ? Expr(0.0) : broadcast(Expr(0.0), V))};
  if (batches > 0) steps.push_back(for_loop(ob, 0, batches, batch(ob * U, U, false)));
  if (iters > batches * U) steps.push_back(batch(Expr(batches * U), iters - batches * U, true));
  Expr sum_lanes = acc(0);
  for (int i = 1; i < V; ++i) sum_lanes = sum_lanes + acc(i);
  Expr reduced = call(f32, Intrinsic::kThreadAllReduce,
                      {total(0), make_const(DataType::i32(), int64_t(ReduceKind::kSum)), tx});
  steps.push_back(store(total, {0}, sum_lanes));
  steps.push_back(store(total, {0}, reduced));
  steps.push_back(if_then_else(
      eq(tx, 0) && row < n,
      store(b.y, {Expr(0), row}, linear_output(b, spec.out_dtype, total(0), {Expr(0), row}))));

  Stmt lane =
      let_stmt(row, bx * rows_per_block + ty,
               let_stmt(rowc, min(row, Expr(n - 1)),
                        allocate(wl, allocate(xl, allocate(acc, allocate(total, seq(steps)))))));
  Stmt body = thread_loop(bx, (n + rows_per_block - 1) / rows_per_block, ThreadAxis::kBlockX,
                          thread_loop(ty, rows_per_block, ThreadAxis::kThreadY,
                                      thread_loop(tx, 32, ThreadAxis::kThreadX, lane)));
  return make_prim_func("linear", b.params(), body);
}

PrimFunc linear_tiled_gpu(const LinearSpec& spec, const LinearBuffers& b, const Target& target) {
  constexpr int BM = 64, BN = 64, BK = 32, TM = 4, TN = 4;
  constexpr int TX = BN / TN, TY = BM / TM, kThreads = TX * TY;
  static_assert(kThreads == 256 && BN * (BK / 8) == kThreads, "one q4 word per thread");
  if (kThreads > target.max_threads_per_block)
    throw Error("linear: the tiled GPU schedule needs " + std::to_string(kThreads) +
                " threads per block; target '" + target.str() + "' allows " +
                std::to_string(target.max_threads_per_block));
  const DataType act = spec.quant.act_dtype(), f32 = DataType::f32();
  const bool q4 = spec.quant.quantized();
  const int n = static_cast<int>(spec.n), k = static_cast<int>(spec.k);
  const Expr rows = spec.rows;
  const int V = vector_width(act, k);
  const int k_tiles = (k + BK - 1) / BK;
  const bool k_tail = k % BK != 0;

  Var by("by"), bx("bx"), ty("ty"), tx("tx"), kt("kt"), it("it"), e("e"), kk("kk"), i("i"), j("j");
  Var idx("idx"), m("m"), ch("ch"), kc("kc"), w("w", DataType::u32()), sc("sc", f32);
  Buffer xs = Buffer::make("Xs", f32, {Expr(BK * BM)}, MemScope::kShared);
  Buffer ws = Buffer::make("Ws", f32, {Expr(BK * BN)}, MemScope::kShared);
  Buffer vl = Buffer::make("vl", act, {Expr(V)}, MemScope::kLocal);
  Buffer av = Buffer::make("av", f32, {Expr(TM)}, MemScope::kLocal);
  Buffer bv = Buffer::make("bv", f32, {Expr(TN)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", f32, {Expr(TM * TN)}, MemScope::kLocal);
  Expr tid = ty * TX + tx;

  // Stages a [tile_rows x BK] tile of an activation-dtype matrix (X, or W for q0) whose
  // row r lives at source row row_of(r), transposed into dst[k][r] as f32.
  auto stage_plain = [&](const Buffer& src, const Buffer& dst, int tile_rows,
                         const std::function<Expr(Expr)>& row_of) {
    const int per_thread = tile_rows * BK / V / kThreads;
    Expr start = kt * BK + ch * V;
    Expr value = cast(f32, vl(e));
    if (k_tail) value = select(kc < k, value, Expr(0.0));
    Expr first = k_tail ? min(kc, Expr(k - V)) : Expr(kc);
    Stmt copy = seq(
        {store(vl, {span(0, V)}, src(row_of(m), span(first, V))),
         for_loop(e, 0, V, store(dst, {(ch * V + e) * tile_rows + m}, value), ForKind::kUnrolled)});
    Stmt one = let_stmt(
        idx, it * kThreads + tid,
        let_stmt(m, idx % tile_rows, let_stmt(ch, idx / tile_rows, let_stmt(kc, start, copy))));
    return for_loop(it, 0, per_thread, one, ForKind::kUnrolled);
  };
  auto x_row = [&](Expr r) { return min(by * BM + r, rows - 1); };
  auto w_row = [&](Expr r) { return min(bx * BN + r, Expr(n - 1)); };

  Stmt stage_w;
  if (q4) {
    // Thread t decodes word t / BN of row t % BN: one 4-byte load and one scale.
    Expr q = cast(f32, (w >> cast(DataType::u32(), e * 4)) & u32c(15)) - 7.0;
    stage_w = let_stmt(
        m, tid % BN,
        let_stmt(ch, tid / BN,
                 let_stmt(w, b.w(w_row(m), kt * (BK / 8) + ch),
                          let_stmt(sc, cast(f32, b.s(w_row(m), kt * (BK / 32))),
                                   for_loop(e, 0, 8, store(ws, {(ch * 8 + e) * BN + m}, q * sc),
                                            ForKind::kUnrolled)))));
  } else {
    stage_w = stage_plain(b.w, ws, BN, w_row);
  }
  Stmt stage_x = stage_plain(b.x, xs, BM, x_row);

  Stmt product = for_loop(
      kk, 0, BK,
      seq({store(av, {ramp(0, 1, TM)}, xs(ramp(kk * BM + ty * TM, 1, TM))),
           store(bv, {ramp(0, 1, TN)}, ws(ramp(kk * BN + tx * TN, 1, TN))),
           for_loop(i, 0, TM,
                    for_loop(j, 0, TN, store(acc, {i * TN + j}, acc(i * TN + j) + av(i) * bv(j)),
                             ForKind::kUnrolled),
                    ForKind::kUnrolled)}),
      ForKind::kUnrolled);
  Stmt k_loop =
      for_loop(kt, 0, k_tiles, seq({stage_x, stage_w, sync_threads(), product, sync_threads()}));

  Expr out_m = by * BM + ty * TM + i, out_n = bx * BN + tx * TN + j;
  Stmt epilogue = for_loop(
      i, 0, TM,
      for_loop(
          j, 0, TN,
          if_then_else(out_m < rows && out_n < n,
                       store(b.y, {out_m, out_n},
                             linear_output(b, spec.out_dtype, acc(i * TN + j), {out_m, out_n}))),
          ForKind::kUnrolled),
      ForKind::kUnrolled);
  Stmt init = store(acc, {ramp(0, 1, TM * TN)}, broadcast(Expr(0.0), TM * TN));
  Stmt thread =
      allocate(acc, allocate(av, allocate(bv, allocate(vl, seq({init, k_loop, epilogue})))));
  Stmt body = thread_loop(
      by, (rows + (BM - 1)) / BM, ThreadAxis::kBlockY,
      thread_loop(bx, (n + BN - 1) / BN, ThreadAxis::kBlockX,
                  allocate(xs, allocate(ws, thread_loop(ty, TY, ThreadAxis::kThreadY,
                                                        thread_loop(tx, TX, ThreadAxis::kThreadX,
                                                                    thread))))));
  return make_prim_func("linear", b.params(), body);
}

}  // namespace mlcc::kernels::detail
