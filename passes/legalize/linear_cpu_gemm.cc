// Prefill on the CPU with q4 weights and f16 activations (q4f16_1) on integer dot products:
// Y = X Wᵀ (+ R) for symbolic rows, the product linear() dispatches to in place of the f32
// register-tiled one (linear.cc) where k is a multiple of 32.
//
// A prefill product is bound by arithmetic, so what counts is the work per multiply-add.
// The f32 tile does one FMA per 16 of them; dot_i16_pairs (VNNI's vpdpwssd) does 32, but
// an i32 sum may only run over one group of 32 (its scales differ from group to group),
// and a group's sum in f32 costs a conversion, a multiply (weight scale times x scale) and
// an FMA. Spread over a vector whose 16 i32 lanes are 16 different groups, those three
// come once per 16 dot products, each step t taking elements 2t and 2t + 1 of every lane's
// group: 19 instructions where the f32 tile needs 32. Both operands are laid out that way
// once per call: X quantized to i16 per group of 32 (the decode GEMV's quantization, so
// prefill and decode agree) by a parallel prologue into a heap scratch, and each task's TJ
// rows of W decoded to i16 (q - 7) into its own scratch, a word of 16 groups at a time.
// Groups pad to a multiple of 16 with zero weights and zero x.
#include <algorithm>

#include "passes/legalize/linear_internal.h"
#include "runtime/error.h"

namespace mlcc::kernels::detail {

using namespace ir;

PrimFunc linear_gemm_q4_i16_cpu(const LinearSpec& s, const LinearBuffers& b, const Target& target) {
  MLCC_CHECK(s.k % 32 == 0, "the i16 prefill product needs whole q4 groups");
  const DataType f32 = DataType::f32(), i32 = DataType::i32(), i16 = DataType::i16();
  const DataType u32 = DataType::u32();
  constexpr int L = 16;  // i32 lanes, one group each
  const int G = static_cast<int>(s.k / 32), B = (G + L - 1) / L, GP = B * L, KP = GP * 32;
  const int N = static_cast<int>(s.n);
  // TR x TJ i32 accumulators, TR x-vectors and one w-vector in registers: 21 of AVX-512's
  // 32 (the f32 sums per group block live in memory, touched once per 16 steps); with
  // AVX2 each takes two registers, hence 2 x 2 (14 of 16).
  const int TR = target.vector_bits >= 512 ? 4 : 2, TJ = TR;

  Var r("r"), g("g"), e("e");
  Var jt("jt"), jj("jj"), blk("blk"), w("w"), sh("sh"), rt("rt"), t("t"), z("z");
  Var words("words", u32.with_lanes(L));
  // Element 2t + p of group gg in a row of the layout: step (block, t), lane gg % 16.
  auto at = [&](Expr gg, Expr tt, Expr p) { return ((gg / L * L + tt) * L + gg % L) * 2 + p; };

  // The prologue: each row of X quantized into xq (i16) with its group scales in sx.
  Buffer xq = Buffer::make("xq", i16, {s.rows, Expr(KP)}, MemScope::kGlobal);
  Buffer sx = Buffer::make("sx", f32, {s.rows, Expr(GP)}, MemScope::kGlobal);
  Buffer amax = Buffer::make("amax", f32, {Expr(1)}, MemScope::kLocal);
  auto x_at = [&](Expr k) { return cast(f32, b.x(r, g * 32 + k)); };
  Stmt real_group = quantize_group_i16(
      amax, x_at,
      [&](Expr scale) {
        return store(sx, {r, g}, scale);
      },
      [&](Expr inv) {
        return for_loop(e, 0, 32, store(xq, {r, at(g, e / 2, e % 2)}, quantize_i16(x_at(e), inv)),
                        ForKind::kVectorized);
      });
  Stmt pad_group =
      seq({store(sx, {r, g}, Expr(0.0)),
           for_loop(e, 0, 32, store(xq, {r, at(g, e / 2, e % 2)}, make_const(i16, int64_t{0})),
                    ForKind::kVectorized)});
  Stmt quantize = for_loop(
      r, 0, s.rows,
      allocate(amax, seq({for_loop(g, 0, G, real_group), for_loop(g, G, GP - G, pad_group)})),
      ForKind::kParallel);

  // A task's TJ rows of W (clamped at the last row) as i16 q - 7 and f32 scales.
  Buffer wq = Buffer::make("wq", i16, {Expr(TJ * KP)}, MemScope::kLocal);
  Buffer sw = Buffer::make("sw", f32, {Expr(TJ * GP)}, MemScope::kLocal);
  auto col = [&](Expr jj_) { return min(jt * TJ + jj_, Expr(N - 1)); };
  auto u32s = [&](int64_t v) { return broadcast(make_const(u32, v), L); };
  // Word w of the block's 16 groups (a padded group reads the last real one: its scale and
  // its x are zero).
  Expr word_index = min(ramp(blk * (L * 4) + w, 4, L), broadcast(Expr(G * 4 - 4) + w, L));
  // Nibbles 2sh and 2sh + 1 of each word as the two i16 halves of its lane.
  auto nib = [&](int shift) {
    return (words >> broadcast(cast(u32, sh * 8 + shift), L)) & u32s(15);
  };
  Expr pairs = reinterpret(i16.with_lanes(2 * L), nib(0) | (nib(4) << u32s(16))) -
               broadcast(make_const(i16, int64_t{7}), 2 * L);
  Stmt decode_w = for_loop(
      jj, 0, TJ,
      seq({for_loop(g, 0, G, store(sw, {jj * GP + g}, cast(f32, b.s(col(jj), g)))),
           for_loop(g, G, GP - G, store(sw, {jj * GP + g}, Expr(0.0))),
           for_loop(
               blk, 0, B,
               for_loop(
                   w, 0, 4,
                   let_stmt(
                       words, b.w(col(jj), word_index),
                       for_loop(sh, 0, 4,
                                store(wq, {ramp(jj * KP + (blk * L + w * 4 + sh) * 32, 1, 2 * L)},
                                      pairs),
                                ForKind::kUnrolled))))}),
      ForKind::kUnrolled);

  Buffer acci = Buffer::make("acci", i32, {Expr(TR * TJ * L)}, MemScope::kLocal);
  Buffer accf = Buffer::make("accf", f32, {Expr(TR * TJ * L)}, MemScope::kLocal);
  Buffer xl = Buffer::make("xl", i16, {Expr(TR * 2 * L)}, MemScope::kLocal);
  auto xrow = [&](Expr r_) { return min(rt * TR + r_, s.rows - 1); };
  auto acc_at = [&](Expr r_, Expr jj_) { return ramp((r_ * TJ + jj_) * L, 1, L); };
  auto tile_loop = [&](Stmt body) {
    return for_loop(r, 0, TR, for_loop(jj, 0, TJ, std::move(body), ForKind::kUnrolled),
                    ForKind::kUnrolled);
  };
  auto zero = [&](const Buffer& buf, Expr v) {
    return for_loop(z, 0, TR * TJ, store(buf, {ramp(z * L, 1, L)}, broadcast(v, L)),
                    ForKind::kUnrolled);
  };
  const Expr step = (blk * L + t) * 32;  // the step's offset in a row of the layout
  Stmt load_x =
      for_loop(r, 0, TR, store(xl, {ramp(r * 2 * L, 1, 2 * L)}, xq(xrow(r), ramp(step, 1, 2 * L))),
               ForKind::kUnrolled);
  Stmt dots = tile_loop(store(acci, {acc_at(r, jj)},
                              dot_i16_pairs(wq(ramp(jj * KP + step, 1, 2 * L)),
                                            xl(ramp(r * 2 * L, 1, 2 * L)), acci(acc_at(r, jj)))));
  Stmt scale =
      tile_loop(store(accf, {acc_at(r, jj)},
                      call(f32.with_lanes(L), Intrinsic::kFma,
                           {cast(f32.with_lanes(L), acci(acc_at(r, jj))),
                            sw(ramp(jj * GP + blk * L, 1, L)) * sx(xrow(r), ramp(blk * L, 1, L)),
                            accf(acc_at(r, jj))})));
  Stmt block =
      seq({zero(acci, make_const(i32, int64_t{0})), for_loop(t, 0, L, seq({load_x, dots})), scale});
  Expr row = rt * TR + r, c = jt * TJ + jj;
  Expr total = accf((r * TJ + jj) * L);
  for (int l = 1; l < L; ++l) total = total + accf((r * TJ + jj) * L + l);
  Stmt out = tile_loop(if_then_else(
      row < s.rows && c < N, store(b.y, {row, c}, linear_output(b, s.out_dtype, total, {row, c}))));
  Stmt rows_loop = for_loop(
      rt, 0, (s.rows + (TR - 1)) / TR,
      allocate(acci, allocate(accf, allocate(xl, seq({zero(accf, Expr(0.0)),
                                                      for_loop(blk, 0, B, block), out})))));
  Stmt task = allocate(wq, allocate(sw, seq({decode_w, rows_loop})));
  return make_prim_func(
      "linear", b.params(),
      allocate(xq, allocate(sx, seq({quantize, for_loop(jt, 0, (N + TJ - 1) / TJ, task,
                                                        ForKind::kParallel)}))));
}

}  // namespace mlcc::kernels::detail
