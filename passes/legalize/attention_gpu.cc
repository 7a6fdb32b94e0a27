// The GPU kernel of attention(): a grid of (query row tile, query head) blocks of 256
// threads, with two paths chosen by `rows == 1` (uniform over the launch, so barriers and
// shuffles stay convergent). A constant `rows` keeps only the path it needs.
//
// Decode (one row, one block per query head): the row's position sees every cached
// position. A key's D elements are spread over KL lanes, each reading 16 bytes with one
// vector load (D=128 f16: 16 lanes), so the block reads 256/KL keys side by side, U of
// them per lane per iteration. The loop is software-pipelined: the keys and values of the
// next iteration and the page-table entries of the one after are loaded before the current
// iteration is computed, so the page-table -> cache dependency and the DRAM latency overlap
// the arithmetic. A key's score is the lanes' partial dots summed by a warp_shuffle_xor
// butterfly; each group of KL lanes keeps its own online softmax (max, sum, value
// accumulator), merged once through shared memory at the end (in prefill's query tile where
// shared memory is short: narrow subgroups make many groups, e.g. Vulkan's -subgroup=8).
// Measured on the H100 (f16, D=128, 32 heads): 9.7 us at 512 positions, 26 us at 2048 (1.3
// TB/s of K/V). One block per head leaves most SMs idle and each SM can keep only so many
// loads in flight: the next step is flash-decoding (the positions split over several
// blocks per head, a second small kernel merging their partial softmaxes), which needs a
// scratch buffer and a second launch that the one-PrimFunc contract does not have yet.
//
// Prefill (a block per 32 query rows and one head, 8 threads per row): tiles of 32 keys
// (16 or 8 where shared memory is short: f32 with D=128) and their values are staged in shared
// memory (keys padded by 16 bytes per row so that the 8 threads of a row, reading 8
// different keys, hit different banks), each thread scores tile/8 keys of its row against
// the f32 query row in shared memory, the row's max and sum are shuffle butterflies over
// its 8 threads (online softmax across tiles), the probabilities go through shared memory,
// and each thread accumulates D/8 output columns. Tiles stop at the block's last row's
// position; later positions are masked per row. Plain f32 FMAs (512x512, 32 heads: 210 us
// on the H100): a tensor-core (mma) version needs IR support that does not exist yet.
#include "passes/legalize/attention_gpu.h"

#include <cmath>

#include "passes/legalize/schedule_util.h"
#include "runtime/error.h"

namespace mlcc::kernels {

using namespace ir;

namespace {

const DataType kF32 = DataType::f32();
constexpr int kThreads = 256;
constexpr int kUnroll = 8;                        // decode: keys per lane whose loads are in flight
constexpr int kRowThreads = 8;                    // prefill: threads per query row
constexpr int kRowTile = kThreads / kRowThreads;  // prefill: query rows per block
constexpr double kLowest = -3.4028234663852886e38;  // -FLT_MAX: a max that exp() can subtract

Expr vidx(const Expr& base, int lanes) { return lanes == 1 ? base : ramp(base, 1, lanes); }

Expr tree_sum(std::vector<Expr> t) {
  while (t.size() > 1) {
    std::vector<Expr> next;
    for (size_t i = 0; i + 1 < t.size(); i += 2) next.push_back(t[i] + t[i + 1]);
    if (t.size() % 2) next.push_back(t.back());
    t = std::move(next);
  }
  return t[0];
}

Expr tree_max(std::vector<Expr> t) {
  while (t.size() > 1) {
    std::vector<Expr> next;
    for (size_t i = 0; i + 1 < t.size(); i += 2) next.push_back(max(t[i], t[i + 1]));
    if (t.size() % 2) next.push_back(t.back());
    t = std::move(next);
  }
  return t[0];
}

// b[k] = combine over the `width` lanes of each aligned lane group (xor butterfly).
std::vector<Stmt> butterfly(const Buffer& b, int k, ReduceKind kind, int width) {
  std::vector<Stmt> out;
  for (int off = width / 2; off >= 1; off /= 2)
    out.push_back(store(
        b, {k},
        reduce_combine(kind, b(k),
                       call(kF32, Intrinsic::kWarpShuffleXor, {b(k), Expr(off), Expr(width)}))));
  return out;
}

Stmt allocate_all(const std::vector<Buffer>& bufs, Stmt body) {
  for (auto it = bufs.rbegin(); it != bufs.rend(); ++it) body = allocate(*it, body);
  return body;
}

struct Kernel {
  Expr rows, total_len;
  int heads, d, ps, group;
  DataType dtype;
  float scale;
  AttentionBuffers buf;
  Var h, g, tx, bx;
};

// ---- decode ----------------------------------------------------------------------------

struct DecodeShape {
  int e, kl, ng;  // elements per lane, lanes per key, key groups per block
};

DecodeShape decode_shape(int d, DataType dtype, const Target& target) {
  int lanes_cap = std::min(32, target.warp_size);
  int e = std::max(1, 16 / dtype.bytes());
  // At most 32 key groups: the final merge weighs every group's partial sums in one
  // expression per output element, and small heads (head_dim 8: a key per lane, 256
  // groups) would otherwise keep hundreds of terms live (spills, minutes of register
  // allocation). Such heads take narrower loads instead.
  int min_kl = std::min(lanes_cap, std::max(1, kThreads / 32));
  e = std::min(e, std::max(1, d / min_kl));
  while (d / e > lanes_cap) e *= 2;
  int kl = d / e;
  if (d % e != 0 || (kl & (kl - 1)) != 0)
    throw Error("attention (gpu): head_dim " + std::to_string(d) +
                " must be a power of two for the decode kernel");
  return {e, kl, kThreads / kl};
}

std::vector<Buffer> decode_shared(const Kernel& k, const DecodeShape& s) {
  return {Buffer::make("dec_m", kF32, {Expr(s.ng)}, MemScope::kShared),
          Buffer::make("dec_l", kF32, {Expr(s.ng)}, MemScope::kShared),
          Buffer::make("dec_acc", kF32, {Expr(s.ng), Expr(k.d)}, MemScope::kShared)};
}

Stmt decode_path(const Kernel& k, const DecodeShape& s, const std::vector<Buffer>& sh) {
  const auto& [Q, C, PT, O] = k.buf;
  const Buffer &sm = sh[0], &sl = sh[1], &sacc = sh[2];
  const int E = s.e, KL = s.kl, NG = s.ng, U = kUnroll, d = k.d, ps = k.ps;
  const DataType fE = kF32.with_lanes(E);
  Buffer qv = Buffer::make("qv", kF32, {Expr(E)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", kF32, {Expr(E)}, MemScope::kLocal);
  // Keys and values of the iteration being computed (kb, vb) and of the next (nk, nv), and
  // the pages of the iteration after that: loads stay two steps ahead of their use.
  Buffer kb = Buffer::make("kb", k.dtype, {Expr(U * E)}, MemScope::kLocal);
  Buffer vb = Buffer::make("vb", k.dtype, {Expr(U * E)}, MemScope::kLocal);
  Buffer nk = Buffer::make("nk", k.dtype, {Expr(U * E)}, MemScope::kLocal);
  Buffer nv = Buffer::make("nv", k.dtype, {Expr(U * E)}, MemScope::kLocal);
  Buffer pg = Buffer::make("pg", DataType::i32(), {Expr(U)}, MemScope::kLocal);
  Buffer sc = Buffer::make("sc", kF32, {Expr(U)}, MemScope::kLocal);
  Buffer st = Buffer::make("st", kF32, {Expr(2)}, MemScope::kLocal);  // running max, sum
  Var lane("lane"), grp("grp"), it("it"), j("j"), jo("jo");
  Var mnew("mnew", kF32), alpha("alpha", kF32), big_m("M", kF32);
  const Expr T = k.total_len;
  // Position of key u of iteration `step`, and the same clamped to the sequence (loads past
  // the end read the last position; their scores are masked).
  auto key_at = [&](const Expr& step, int u) { return (step * U + u) * NG + grp; };
  auto clamped = [&](const Expr& step, int u) { return min(key_at(step, u), T - 1); };
  auto load_pages = [&](const Expr& step) {
    std::vector<Stmt> out;
    for (int u = 0; u < U; ++u) out.push_back(store(pg, {u}, PT(clamped(step, u) / ps)));
    return seq(out);
  };
  auto load_kv = [&](const Expr& step, const Buffer& kd, const Buffer& vd) {
    std::vector<Stmt> out;
    Expr col = vidx(lane * E, E);
    for (int u = 0; u < U; ++u) {
      Expr slot = clamped(step, u) % ps;
      out.push_back(store(kd, {vidx(u * E, E)}, C(pg(u), 0, k.g, slot, col)));
      out.push_back(store(vd, {vidx(u * E, E)}, C(pg(u), 1, k.g, slot, col)));
    }
    return seq(out);
  };

  std::vector<Stmt> loop = {load_kv(it + 1, nk, nv), load_pages(it + 2)};
  for (int u = 0; u < U; ++u) {
    std::vector<Expr> terms;
    for (int e = 0; e < E; ++e) terms.push_back(qv(e) * cast(kF32, kb(u * E + e)));
    loop.push_back(store(sc, {u}, tree_sum(terms)));
    for (Stmt& b : butterfly(sc, u, ReduceKind::kSum, KL)) loop.push_back(b);
    loop.push_back(store(sc, {u}, select(key_at(it, u) < T, sc(u), make_const(kF32, -INFINITY))));
  }
  std::vector<Expr> scores, probs;
  for (int u = 0; u < U; ++u) scores.push_back(sc(u));
  std::vector<Stmt> update;
  Expr weighted = acc(vidx(0, E)) * alpha;
  for (int u = 0; u < U; ++u) {
    update.push_back(store(sc, {u}, exp(sc(u) - mnew)));
    probs.push_back(sc(u));
    weighted = weighted + sc(u) * cast(fE, vb(vidx(u * E, E)));
  }
  update.push_back(store(st, {1}, st(1) * alpha + tree_sum(probs)));
  update.push_back(store(acc, {vidx(0, E)}, weighted));
  update.push_back(store(st, {0}, mnew));
  loop.push_back(let_stmt(mnew, max(st(0), tree_max(scores)),
                          let_stmt(alpha, exp(st(0) - mnew), seq(update))));
  loop.push_back(store(kb, {vidx(0, U * E)}, nk(vidx(0, U * E))));
  loop.push_back(store(vb, {vidx(0, U * E)}, nv(vidx(0, U * E))));
  Expr iters = (T + (NG * U - 1)) / (NG * U);

  // Merge the NG groups: output element j weighs each group by exp(m_g - M).
  std::vector<Expr> ms, ls, os;
  for (int q = 0; q < NG; ++q) ms.push_back(sm(q));
  for (int q = 0; q < NG; ++q) {
    Expr w = exp(sm(q) - big_m);
    ls.push_back(sl(q) * w);
    os.push_back(sacc(q, j) * w);
  }
  Stmt out_one = let_stmt(big_m, tree_max(ms),
                          store(O, {0, k.h * d + j}, cast(k.dtype, tree_sum(os) / tree_sum(ls))));
  const int out_iters = (d + kThreads - 1) / kThreads;
  Stmt merge = for_loop(jo, 0, out_iters,
                        let_stmt(j, jo * kThreads + k.tx,
                                 d % kThreads == 0 ? out_one : if_then_else(j < d, out_one)));

  Stmt body = seq({
      store(qv, {vidx(0, E)}, cast(fE, Q(0, vidx(k.h * d + lane * E, E))) * k.scale),
      store(acc, {vidx(0, E)}, make_zero(fE)),
      store(st, {0}, kLowest),
      store(st, {1}, 0.0),
      load_pages(Expr(0)),
      load_kv(Expr(0), kb, vb),
      load_pages(Expr(1)),
      for_loop(it, 0, iters, seq(loop)),
      if_then_else(eq(lane, 0), seq({store(sm, {grp}, st(0)), store(sl, {grp}, st(1))})),
      store(sacc, {grp, vidx(lane * E, E)}, acc(vidx(0, E))),
      sync_threads(),
      merge,
  });
  return let_stmt(
      lane, k.tx % KL,
      let_stmt(grp, k.tx / KL, allocate_all({qv, acc, kb, vb, nk, nv, pg, sc, st}, body)));
}

// ---- prefill ---------------------------------------------------------------------------

struct PrefillShape {
  int vq, vw, nq, nw;  // load vector, output vector, load chunks per row, output chunks
  int bc;              // keys per shared-memory tile
};

PrefillShape prefill_shape(int d, DataType dtype, const Target& target, int key_tile) {
  if (target.warp_size < kRowThreads || d % kRowThreads != 0)
    throw Error("attention (gpu): the prefill kernel needs a warp of at least " +
                std::to_string(kRowThreads) + " lanes and head_dim a multiple of " +
                std::to_string(kRowThreads) + " (head_dim " + std::to_string(d) + ", warp " +
                std::to_string(target.warp_size) + ")");
  int vq = std::max(1, 16 / dtype.bytes());
  while (vq > 1 && d % vq != 0) vq /= 2;
  int per_thread = d / kRowThreads;
  int vw = std::min(std::max(1, 16 / dtype.bytes()), per_thread);
  while (vw > 1 && per_thread % vw != 0) vw /= 2;
  return {vq, vw, d / vq, per_thread / vw, key_tile};
}

std::vector<Buffer> prefill_shared(const Kernel& k, const PrefillShape& s) {
  return {Buffer::make("pre_q", kF32, {Expr(kRowTile), Expr(k.d + 4)}, MemScope::kShared),
          Buffer::make("pre_k", k.dtype, {Expr(s.bc), Expr(k.d + s.vq)}, MemScope::kShared),
          Buffer::make("pre_v", k.dtype, {Expr(s.bc), Expr(k.d)}, MemScope::kShared),
          Buffer::make("pre_p", kF32, {Expr(kRowTile), Expr(s.bc)}, MemScope::kShared)};
}

Stmt prefill_path(const Kernel& k, const PrefillShape& s, const std::vector<Buffer>& sh) {
  const auto& [Q, C, PT, O] = k.buf;
  const Buffer &Qs = sh[0], &Ks = sh[1], &Vs = sh[2], &Ps = sh[3];
  const int d = k.d, ps = k.ps, VQ = s.vq, VW = s.vw, NQ = s.nq, NW = s.nw;
  const int BC = s.bc, KK = BC / kRowThreads;  // keys per tile, and per thread
  const DataType fq = kF32.with_lanes(VQ), fw = kF32.with_lanes(VW);
  Buffer o = Buffer::make("o", kF32, {Expr(NW * VW)}, MemScope::kLocal);
  Buffer pv = Buffer::make("pv", kF32, {Expr(KK * VQ)}, MemScope::kLocal);
  Buffer sc = Buffer::make("sc", kF32, {Expr(KK)}, MemScope::kLocal);
  Buffer red = Buffer::make("red", kF32, {Expr(1)}, MemScope::kLocal);
  Buffer st = Buffer::make("st", kF32, {Expr(2)}, MemScope::kLocal);  // running max, sum
  Var cr("cr"), rr("rr"), i("i"), ic("ic"), qpos("qpos"), kt("kt"), ch("ch"), c("c"), dc("dc");
  Var kc("kc"), page("page"), slot("slot"), mnew("mnew", kF32), alpha("alpha", kF32);
  Var p("p", kF32), key("key");
  const Expr T = k.total_len, rows = k.rows;

  // The query rows, scaled, as f32.
  std::vector<Stmt> stage_q;
  for (int q = 0; q < (NQ + kRowThreads - 1) / kRowThreads; ++q) {
    Expr chunk = cr + q * kRowThreads;
    Stmt st_q = store(Qs, {rr, vidx(chunk * VQ, VQ)},
                      cast(fq, Q(ic, vidx(k.h * d + chunk * VQ, VQ))) * k.scale);
    stage_q.push_back(NQ % kRowThreads == 0 ? st_q : if_then_else(chunk < NQ, st_q));
  }

  // One tile of keys and values into shared memory (positions past the end clamped).
  const int chunks = BC * NQ;
  std::vector<Stmt> load;
  for (int q = 0; q < (chunks + kThreads - 1) / kThreads; ++q) {
    Stmt one = let_stmt(
        c, ch / NQ,
        let_stmt(
            dc, ch % NQ,
            let_stmt(kc, min(kt * BC + c, T - 1),
                     let_stmt(page, PT(kc / ps),
                              let_stmt(slot, kc % ps,
                                       seq({store(Ks, {c, vidx(dc * VQ, VQ)},
                                                  C(page, 0, k.g, slot, vidx(dc * VQ, VQ))),
                                            store(Vs, {c, vidx(dc * VQ, VQ)},
                                                  C(page, 1, k.g, slot, vidx(dc * VQ, VQ)))}))))));
    load.push_back(let_stmt(ch, q * kThreads + k.tx,
                            chunks % kThreads == 0 ? one : if_then_else(ch < chunks, one)));
  }

  // Scores of keys cr + 8 kk against the row, masked past the row's position.
  std::vector<Stmt> dot;
  for (int kk = 0; kk < KK; ++kk)
    dot.push_back(
        store(pv, {vidx(kk * VQ, VQ)},
              pv(vidx(kk * VQ, VQ)) + Qs(rr, vidx(dc * VQ, VQ)) *
                                          cast(fq, Ks(cr + kk * kRowThreads, vidx(dc * VQ, VQ)))));
  std::vector<Stmt> tile = {sync_threads(), seq(load), sync_threads(),
                            store(pv, {vidx(0, KK * VQ)}, make_zero(kF32.with_lanes(KK * VQ))),
                            for_loop(dc, 0, NQ, seq(dot), ForKind::kUnrolled)};
  std::vector<Expr> scores, probs;
  for (int kk = 0; kk < KK; ++kk) {
    std::vector<Expr> terms;
    for (int e = 0; e < VQ; ++e) terms.push_back(pv(kk * VQ + e));
    Expr pos = kt * BC + cr + kk * kRowThreads;
    tile.push_back(
        store(sc, {kk}, select(pos <= qpos, tree_sum(terms), make_const(kF32, -INFINITY))));
    scores.push_back(sc(kk));
    probs.push_back(sc(kk));
  }
  tile.push_back(store(red, {0}, tree_max(scores)));
  for (Stmt& b : butterfly(red, 0, ReduceKind::kMax, kRowThreads)) tile.push_back(b);
  std::vector<Stmt> update;
  for (int kk = 0; kk < KK; ++kk) {
    update.push_back(store(sc, {kk}, exp(sc(kk) - mnew)));
    update.push_back(store(Ps, {rr, cr + kk * kRowThreads}, sc(kk)));
  }
  update.push_back(store(red, {0}, tree_sum(probs)));
  for (Stmt& b : butterfly(red, 0, ReduceKind::kSum, kRowThreads)) update.push_back(b);
  update.push_back(store(st, {1}, st(1) * alpha + red(0)));
  update.push_back(store(st, {0}, mnew));
  for (int w = 0; w < NW; ++w)
    update.push_back(store(o, {vidx(w * VW, VW)}, o(vidx(w * VW, VW)) * alpha));
  tile.push_back(
      let_stmt(mnew, max(st(0), red(0)), let_stmt(alpha, exp(st(0) - mnew), seq(update))));
  tile.push_back(sync_threads());
  // Probabilities times values: thread cr owns the VW-wide column chunks cr + 8 w.
  std::vector<Stmt> pv_acc;
  for (int w = 0; w < NW; ++w) {
    Expr col = vidx((cr + w * kRowThreads) * VW, VW);
    pv_acc.push_back(store(o, {vidx(w * VW, VW)}, o(vidx(w * VW, VW)) + p * cast(fw, Vs(c, col))));
  }
  tile.push_back(for_loop(c, 0, BC, let_stmt(p, Ps(rr, c), seq(pv_acc)), ForKind::kUnrolled));

  std::vector<Stmt> write;
  for (int w = 0; w < NW; ++w)
    write.push_back(store(O, {i, vidx(k.h * d + (cr + w * kRowThreads) * VW, VW)},
                          cast(k.dtype.with_lanes(VW), o(vidx(w * VW, VW)) / st(1))));
  Expr last_pos = T - rows + min(k.bx * kRowTile + kRowTile, rows) - 1;
  Stmt body =
      seq({seq(stage_q), store(st, {0}, kLowest), store(st, {1}, 0.0),
           store(o, {vidx(0, NW * VW)}, make_zero(kF32.with_lanes(NW * VW))),
           for_loop(kt, 0, last_pos / BC + 1, seq(tile)), if_then_else(i < rows, seq(write))});
  return let_stmt(cr, k.tx % kRowThreads,
                  let_stmt(rr, k.tx / kRowThreads,
                           let_stmt(i, k.bx * kRowTile + rr,
                                    let_stmt(ic, min(i, rows - 1),
                                             let_stmt(qpos, T - rows + ic,
                                                      allocate_all({o, pv, sc, red, st}, body))))));
}

int shared_bytes(const std::vector<Buffer>& bufs, const Target& target) {
  int64_t total = 0;
  for (const Buffer& b : bufs) {
    int64_t n = shared_element_bytes(target, b->dtype);
    for (const Expr& e : b->shape) {
      int64_t v = 0;
      is_const_int(e, &v);
      n *= v;
    }
    total += n;
  }
  return static_cast<int>(total);
}

}  // namespace

PrimFunc attention_gpu(const Expr& rows, const Expr& total_len, int64_t heads,
                       const PagedCache& cache, DataType dtype, const Target& target) {
  Kernel k{rows,
           total_len,
           static_cast<int>(heads),
           static_cast<int>(cache.head_dim),
           static_cast<int>(cache.page_size),
           static_cast<int>(heads / cache.kv_heads),
           dtype,
           static_cast<float>(1.0 / std::sqrt(static_cast<double>(cache.head_dim))),
           attention_buffers(rows, heads, cache, dtype),
           Var("h"),
           Var("g"),
           Var("tx"),
           Var("bx")};
  int64_t const_rows = 0;
  bool is_const = is_const_int(rows, &const_rows);
  bool want_decode = !is_const || const_rows == 1, want_prefill = !is_const || const_rows != 1;
  std::vector<Buffer> dec_sh, pre_sh;
  DecodeShape ds{};
  PrefillShape ps{};
  if (want_decode) {
    ds = decode_shape(k.d, dtype, target);
    dec_sh = decode_shared(k, ds);
  }
  if (want_prefill) {
    // The widest key tile (32, 16 or 8 keys) whose buffers fit beside `beside`.
    auto fit = [&](const std::vector<Buffer>& beside) {
      int key_tile = 2 * kRowThreads * 2;
      PrefillShape s = prefill_shape(k.d, dtype, target, key_tile);
      while (key_tile > kRowThreads &&
             shared_bytes(beside, target) + shared_bytes(prefill_shared(k, s), target) >
                 target.max_shared_memory)
        s = prefill_shape(k.d, dtype, target, key_tile /= 2);
      return s;
    };
    ps = fit(dec_sh);
    pre_sh = prefill_shared(k, ps);
    // Narrow subgroups give decode more key groups and so a larger accumulator (8 lanes:
    // 32 x D floats); where both paths' buffers do not fit side by side, decode's
    // accumulator lives in prefill's query tile ((32, D + 4) floats). The two paths never
    // run in one launch (rows == 1 is uniform), so they need not be apart; targets with
    // room (CUDA) keep them apart and their kernel as it was.
    if (want_decode &&
        shared_bytes(dec_sh, target) + shared_bytes(pre_sh, target) > target.max_shared_memory &&
        ds.ng <= kRowTile) {
      dec_sh.pop_back();
      ps = fit(dec_sh);
      pre_sh = prefill_shared(k, ps);
      dec_sh.push_back(pre_sh[0]);
    }
  }
  std::vector<Buffer> shared;
  Stmt decode, prefill;
  if (want_decode) {
    decode = decode_path(k, ds, dec_sh);
    for (const Buffer& b : dec_sh)
      if (!want_prefill || !b.same_as(pre_sh[0])) shared.push_back(b);
  }
  if (want_prefill) {
    prefill = prefill_path(k, ps, pre_sh);
    shared.insert(shared.end(), pre_sh.begin(), pre_sh.end());
  }
  if (shared_bytes(shared, target) > target.max_shared_memory)
    throw Error("attention (gpu): head_dim " + std::to_string(k.d) + " in " + to_string(dtype) +
                " needs " + std::to_string(shared_bytes(shared, target)) +
                " bytes of shared memory; the target allows " +
                std::to_string(target.max_shared_memory));
  Stmt paths = !want_prefill  ? decode
               : !want_decode ? prefill
                              : if_then_else(eq(rows, 1), decode, prefill);
  Stmt threads =
      thread_loop(k.tx, kThreads, ThreadAxis::kThreadX, let_stmt(k.g, k.h / k.group, paths));
  Stmt body =
      thread_loop(k.bx, (rows + (kRowTile - 1)) / kRowTile, ThreadAxis::kBlockX,
                  thread_loop(k.h, k.heads, ThreadAxis::kBlockY, allocate_all(shared, threads)));
  PrimFunc f = make_prim_func("attention", {k.buf.q, k.buf.cache, k.buf.page_table, k.buf.out},
                              body, attention_extra_scalars(total_len));
  f.bytes = attention_bytes(k.buf, cache, dtype, total_len);
  return f;
}

}  // namespace mlcc::kernels
