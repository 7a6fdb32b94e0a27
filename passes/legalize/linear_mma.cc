// The prefill product on tensor cores: linear() with f16 activations (q4f16_1, q0f16) and
// symbolic rows on CUDA sm_80+, written with the direct IR builder around the warp-level
// mma_m16n8k16 (ir/expr.h gives its fragment layout). Other targets and quantizations keep
// the CUDA-core linear_tiled_gpu (linear_gpu.cc).
//
// Why it looks as it does:
//  - a BM x BN = 128 x 128 (or 128 x 64) tile of Y per block of 8 warps, each warp a 64 x 32
//    (32 x 32) sub-tile of 4 x 4 (2 x 4) mma tiles of 16 x 8 held in f32 registers. Per
//    k16 step a warp reads its A and B fragments once and issues MT x NT mmas, so shared
//    memory feeds the tensor cores with MT*4 + NT*2 32-bit reads per MT*NT mmas;
//  - the k loop steps by BK = 32 (one q4 group: one scale per row of W per step) over two
//    shared-memory buffers: the global loads of step kt + 1 are issued into registers
//    before the mmas of step kt and stored (W dequantized) into the other buffer after them,
//    so one barrier per step suffices and the DRAM latency hides behind the mmas;
//  - tiles are stored k-contiguous per row ([row][k], as the row.col fragments read them)
//    with rows padded to 40 halves, so that the eight rows a fragment read touches fall in
//    different banks (80-byte stride) and the 16-byte staging stores stay aligned;
//  - q4 weights are dequantized as they are staged, without conversion instructions:
//    ((w >> 4p) & 0x000F000F) | 0x64006400 is the f16 pair (1024 + q_p, 1024 + q_{p+4}), minus
//    1031 is (q - 7) exactly, times the group's scale in f16x2. The pairs (p, p + 4) of each
//    8-element word land in adjacent halves; X's 8-element chunks are staged in the same
//    permuted order, and a dot product does not care about the order of k within the tile;
//  - rows (symbolic) and n are clamped on load and guarded on store; k must be a multiple
//    of 8 (a 16-byte chunk is wholly inside or outside k) and X reads zeros past k.
#include <cstdlib>
#include <cstring>
#include <functional>

#include "passes/legalize/linear_internal.h"
#include "runtime/error.h"

namespace mlcc::kernels::detail {

using namespace ir;

namespace {

constexpr int BM = 128, BK = 32, LD = BK + 8, kWarps = 8, kThreads = kWarps * 32;

// The sm_NN number of a CUDA target (0 for other kinds).
int cuda_sm(const Target& t) {
  if (t.kind != TargetKind::kCuda || t.mcpu.rfind("sm_", 0) != 0) return 0;
  return std::atoi(t.mcpu.c_str() + 3);
}

// MLCC_LINEAR_MMA: unset or "128x128" (default), "128x64", or "0"/"off" (CUDA cores).
int tile_n_from_env() {
  const char* v = std::getenv("MLCC_LINEAR_MMA");
  if (!v || !*v || std::strcmp(v, "128x128") == 0) return 128;
  if (std::strcmp(v, "128x64") == 0) return 64;
  if (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0) return 0;
  throw Error(std::string("MLCC_LINEAR_MMA='") + v +
              "': expected 128x128, 128x64, or 0/off (the CUDA-core tiled product)");
}

Expr u32c(int64_t v) { return make_const(DataType::u32(), v); }
Expr span(Expr base, int lanes) { return lanes == 1 ? base : ramp(std::move(base), 1, lanes); }

}  // namespace

bool linear_mma_applies(const LinearSpec& spec, const Target& target) {
  return cuda_sm(target) >= 80 && spec.quant.act_dtype() == DataType::f16() &&
         !is_const_int(spec.rows, 1) && spec.k % 8 == 0 && target.warp_size == 32 &&
         target.max_threads_per_block >= kThreads && tile_n_from_env() != 0;
}

PrimFunc linear_mma_gpu(const LinearSpec& spec, const LinearBuffers& b, const Target& target) {
  MLCC_CHECK(linear_mma_applies(spec, target), "linear_mma_gpu: spec or target not supported");
  const int BN = tile_n_from_env();
  const int WARPS_M = BN == 128 ? 2 : 4, WARPS_N = kWarps / WARPS_M;
  const int WM = BM / WARPS_M, WN = BN / WARPS_N, MT = WM / 16, NT = WN / 8;
  const DataType f16 = DataType::f16(), f32 = DataType::f32(), u32 = DataType::u32();
  const bool q4 = spec.quant.quantized();
  const int n = static_cast<int>(spec.n), k = static_cast<int>(spec.k);
  const Expr rows = spec.rows;
  const int k_tiles = (k + BK - 1) / BK;
  const bool k_tail = k % BK != 0;
  // 16-byte chunks (8 halves) of a tile row per k step, and chunks each thread stages.
  constexpr int kChunks = BK / 8;
  const int x_chunks = BM * kChunks / kThreads, w_chunks = BN * kChunks / kThreads;
  const int words = q4 ? BN * (BK / 8) / kThreads : 0;  // q4 words per thread
  const int word_threads = q4 ? (BK / 8) / words : 0;   // threads per row of W (q4)
  if (target.max_shared_memory < 2 * (BM + BN) * LD * 2)
    throw Error("linear: the tensor-core schedule needs " + std::to_string(4 * (BM + BN) * LD) +
                " bytes of shared memory; target '" + target.str() + "' allows " +
                std::to_string(target.max_shared_memory));

  Var by("by"), bx("bx"), ty("ty"), tx("tx"), kt("kt"), it("it"), p("p"), j("j");
  Var ks("ks"), mt("mt"), nt("nt"), g("g"), t("t"), wm("wm"), wn("wn");
  Var row("row"), kc("kc"), gk("gk"), w("w", u32);
  Buffer xs = Buffer::make("Xs", f16, {Expr(2 * BM * LD)}, MemScope::kShared);
  Buffer ws = Buffer::make("Ws", f16, {Expr(2 * BN * LD)}, MemScope::kShared);
  Buffer xr = Buffer::make("xr", f16, {Expr(x_chunks * 8)}, MemScope::kLocal);
  Buffer wr = q4 ? Buffer::make("wr", u32, {Expr(words)}, MemScope::kLocal)
                 : Buffer::make("wr", f16, {Expr(w_chunks * 8)}, MemScope::kLocal);
  Buffer sr = Buffer::make("sr", f16, {Expr(1)}, MemScope::kLocal);
  Buffer pm = Buffer::make("pm", f16, {Expr(8)}, MemScope::kLocal);
  Buffer af = Buffer::make("af", f16, {Expr(MT * 8)}, MemScope::kLocal);
  Buffer bf = Buffer::make("bf", f16, {Expr(NT * 4)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", f32, {Expr(MT * NT * 4)}, MemScope::kLocal);
  const Expr tid = ty * 32 + tx;

  // ---- Staging: global -> registers (step `step`), registers -> shared (buffer `buf`).
  // Chunk c of a [tile_rows x BK] tile is row c / kChunks, k chunk c % kChunks.
  auto chunk = [&](int per_thread, const std::function<Stmt(Expr, Expr)>& body) {
    return for_loop(it, 0, per_thread,
                    let_stmt(row, (it * kThreads + tid) / kChunks,
                             let_stmt(kc, (it * kThreads + tid) % kChunks, body(row, kc))),
                    ForKind::kUnrolled);
  };
  // 8 halves of src's row `src_row` at k chunk kc of step `step` into dst[it * 8], zeros
  // past k (the load itself is clamped in bounds).
  auto load_chunk = [&](const Buffer& src, const Buffer& dst, Expr src_row, Expr step) {
    return [=](Expr, Expr kc_) {
      Expr start = step * BK + kc_ * 8;
      if (!k_tail) return store(dst, {ramp(it * 8, 1, 8)}, src(src_row, ramp(start, 1, 8)));
      return let_stmt(gk, start,
                      store(dst, {ramp(it * 8, 1, 8)},
                            select(gk < k, src(src_row, ramp(min(gk, Expr(k - 8)), 1, 8)),
                                   broadcast(make_zero(f16), 8))));
    };
  };
  // Chunk it of `reg` into tile `tile` (buffer offset `base`), pairs (p, p + 4) adjacent.
  auto store_chunk = [&](const Buffer& reg, const Buffer& tile, Expr base) {
    return [=](Expr row_, Expr kc_) {
      Stmt permute = for_loop(p, 0, 4, store(pm, {ramp(p * 2, 1, 2)}, reg(ramp(it * 8 + p, 4, 2))),
                              ForKind::kUnrolled);
      return seq(
          {permute, store(tile, {ramp(base + row_ * LD + kc_ * 8, 1, 8)}, pm(ramp(0, 1, 8)))});
    };
  };
  auto x_row = [&](Expr r) { return min(by * BM + r, rows - 1); };
  auto w_row = [&](Expr r) { return min(bx * BN + r, Expr(n - 1)); };

  auto load_step = [&](Expr step) {
    Stmt x =
        chunk(x_chunks, [&](Expr r, Expr c) { return load_chunk(b.x, xr, x_row(r), step)(r, c); });
    if (!q4) {
      Stmt wq = chunk(w_chunks,
                      [&](Expr r, Expr c) { return load_chunk(b.w, wr, w_row(r), step)(r, c); });
      return seq({x, wq});
    }
    // Thread tid reads `words` consecutive words of row tid / word_threads, and its scale.
    Expr r = w_row(tid / word_threads);
    Stmt wq = seq({store(wr, {span(0, words)},
                         b.w(r, span(step * (BK / 8) + (tid % word_threads) * words, words))),
                   store(sr, {0}, b.s(r, step))});
    return seq({x, wq});
  };
  auto store_step = [&](Expr buf) {
    Stmt x =
        chunk(x_chunks, [&](Expr r, Expr c) { return store_chunk(xr, xs, buf * (BM * LD))(r, c); });
    if (!q4) {
      Stmt wq = chunk(w_chunks,
                      [&](Expr r, Expr c) { return store_chunk(wr, ws, buf * (BN * LD))(r, c); });
      return seq({x, wq});
    }
    Expr pair = (reinterpret(DataType::f16(2),
                             ((w >> cast(u32, p * 4)) & u32c(0x000F000F)) | u32c(0x64006400)) -
                 broadcast(make_const(f16, 1031.0), 2)) *
                broadcast(sr(0), 2);
    Expr wrow = tid / word_threads, wk = (tid % word_threads) * words + j;
    Stmt one = let_stmt(
        w, wr(j),
        seq({for_loop(p, 0, 4, store(pm, {ramp(p * 2, 1, 2)}, pair), ForKind::kUnrolled),
             store(ws, {ramp(buf * (BN * LD) + wrow * LD + wk * 8, 1, 8)}, pm(ramp(0, 1, 8)))}));
    return seq({x, for_loop(j, 0, words, one, ForKind::kUnrolled)});
  };

  // ---- The mmas of one k step on buffer `buf`: fragments from shared memory, 32 bits at a
  // time (one pair along k), in the layout of ir/expr.h.
  auto compute_step = [&](Expr buf) {
    Expr xb = buf * (BM * LD), wb = buf * (BN * LD);
    auto pair_at = [&](const Buffer& tile, Expr base, Expr r, Expr kk) {
      return tile(ramp(base + r * LD + kk, 1, 2));
    };
    Expr r0 = wm * WM + mt * 16 + g, c0 = wn * WN + nt * 8 + g, k0 = ks * 16 + t * 2;
    Stmt load_a =
        for_loop(mt, 0, MT,
                 seq({store(af, {ramp(mt * 8, 1, 2)}, pair_at(xs, xb, r0, k0)),
                      store(af, {ramp(mt * 8 + 2, 1, 2)}, pair_at(xs, xb, r0 + 8, k0)),
                      store(af, {ramp(mt * 8 + 4, 1, 2)}, pair_at(xs, xb, r0, k0 + 8)),
                      store(af, {ramp(mt * 8 + 6, 1, 2)}, pair_at(xs, xb, r0 + 8, k0 + 8))}),
                 ForKind::kUnrolled);
    Stmt load_b = for_loop(nt, 0, NT,
                           seq({store(bf, {ramp(nt * 4, 1, 2)}, pair_at(ws, wb, c0, k0)),
                                store(bf, {ramp(nt * 4 + 2, 1, 2)}, pair_at(ws, wb, c0, k0 + 8))}),
                           ForKind::kUnrolled);
    Expr at = (mt * NT + nt) * 4;
    Stmt mmas = for_loop(mt, 0, MT,
                         for_loop(nt, 0, NT,
                                  store(acc, {ramp(at, 1, 4)},
                                        mma_m16n8k16(af(ramp(mt * 8, 1, 8)), bf(ramp(nt * 4, 1, 4)),
                                                     acc(ramp(at, 1, 4)))),
                                  ForKind::kUnrolled),
                         ForKind::kUnrolled);
    return for_loop(ks, 0, BK / 16, seq({load_a, load_b, mmas}), ForKind::kUnrolled);
  };

  // ---- Epilogue: d[i] of tile (mt, nt) is its element (g + 8 (i / 2), 2t + i % 2); the
  // halves h = i / 2 are two adjacent columns, stored as a pair where n is even.
  const bool pairs = n % 2 == 0;
  Var h("h");
  Expr at = (mt * NT + nt) * 4;
  Expr out_m = by * BM + wm * WM + mt * 16 + g + h * 8;
  Expr out_n = bx * BN + wn * WN + nt * 8 + t * 2;
  Stmt out_half;
  if (pairs) {
    std::vector<Expr> index = {out_m, ramp(out_n, 1, 2)};
    out_half = if_then_else(
        out_m < rows && out_n < n,
        store(b.y, index, linear_output(b, spec.out_dtype, acc(ramp(at + h * 2, 1, 2)), index)));
  } else {
    Expr col = out_n + j;
    out_half = for_loop(
        j, 0, 2,
        if_then_else(out_m < rows && col < n,
                     store(b.y, {out_m, col},
                           linear_output(b, spec.out_dtype, acc(at + h * 2 + j), {out_m, col}))),
        ForKind::kUnrolled);
  }
  Stmt epilogue = for_loop(
      mt, 0, MT,
      for_loop(nt, 0, NT, for_loop(h, 0, 2, out_half, ForKind::kUnrolled), ForKind::kUnrolled),
      ForKind::kUnrolled);

  // ---- The k loop: step 0 staged before it, step kt + 1 loaded and staged around the mmas
  // of step kt, the last step's mmas after it.
  std::vector<Stmt> steps = {
      store(acc, {ramp(0, 1, MT * NT * 4)}, broadcast(Expr(0.0), MT * NT * 4)), load_step(Expr(0)),
      store_step(Expr(0)), sync_threads()};
  if (k_tiles > 1)
    steps.push_back(for_loop(
        kt, 0, k_tiles - 1,
        seq({load_step(kt + 1), compute_step(kt % 2), store_step((kt + 1) % 2), sync_threads()})));
  steps.push_back(compute_step(Expr((k_tiles - 1) % 2)));
  steps.push_back(epilogue);
  Stmt thread = seq(steps);
  for (const Buffer& local : {acc, bf, af, pm, sr, wr, xr}) thread = allocate(local, thread);
  thread = let_stmt(wm, ty % WARPS_M,
                    let_stmt(wn, ty / WARPS_M, let_stmt(g, tx / 4, let_stmt(t, tx % 4, thread))));
  Stmt body = thread_loop(
      by, (rows + (BM - 1)) / BM, ThreadAxis::kBlockY,
      thread_loop(bx, (n + BN - 1) / BN, ThreadAxis::kBlockX,
                  allocate(xs, allocate(ws, thread_loop(ty, kWarps, ThreadAxis::kThreadY,
                                                        thread_loop(tx, 32, ThreadAxis::kThreadX,
                                                                    thread))))));
  return make_prim_func("linear", b.params(), body);
}

}  // namespace mlcc::kernels::detail
