// GEMV over q4 weights (DESIGN.md §6), y[n] = sum_k W[n, k] * x[k], dequantizing on the
// fly: gemv_q4f16() and, generalized (q4f32_1, [1, k] layouts, residual, output dtype), the
// decode schedule of linear() on GPUs. Written with the direct IR builder: the GPU version's
// register staging, packed f16x2 arithmetic and permuted shared-memory copy of x are awkward
// to say as a schedule.
//
// Why the GPU version looks as it does (decode is bound by reading the weights):
//  - each thread reads whole groups: 4 u32 words (16 bytes, one vector load) and one
//    scale; loads run a chunk of groups ahead of the arithmetic, so several 16-byte loads
//    per thread are in flight;
//  - nibbles become f16 without a conversion instruction: (w & 0x000F000F) | 0x64006400 is
//    the f16 pair (1024+q_e, 1024+q_{e+4}); subtracting 1031 gives q-7 exactly. Conversion
//    instructions run at a quarter of the FMA rate and would cap the kernel below the
//    memory roof;
//  - x is staged once per block in shared memory in the pair order (x_e, x_{e+4}), so each
//    word's eight x values are one 16-byte read holding the four f16x2 operands; the words
//    are swizzled so that lanes reading consecutive groups do not conflict on banks (without
//    it, lanes 64 bytes apart serialize 16 ways and shared memory caps the kernel);
//  - products accumulate per group in f16x2 (16 products of |q-7| <= 7 times x), then the
//    group sum is scaled and added in f32, so the long reduction is f32.
// q4f32_1 keeps the structure with f32 math: (nibble | 0x4B000000) is the f32 2^23 + q,
// so q - 7 is one subtraction, and x is staged as f32 with its 16-byte chunks swizzled.
#include "passes/legalize/kernels.h"
#include "passes/legalize/linear_internal.h"
#include "passes/legalize/schedule_util.h"
#include "runtime/error.h"

namespace mlcc::kernels {

using namespace ir;

namespace {

void check_shape(int64_t n, int64_t k) {
  if (n <= 0 || k <= 0 || k % 32 != 0)
    throw Error("gemv_q4f16: shape n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                " is invalid: q4f16_1 needs n > 0 and k a positive multiple of 32 (group size)");
}

Expr u32c(int64_t v) { return make_const(DataType::u32(), v); }

Q4GemvBuffers make_buffers(int64_t n, int64_t k) {
  return {Buffer::make("W", DataType::u32(), {Expr(int(n)), Expr(int(k / 8))}),
          Buffer::make("S", DataType::f16(), {Expr(int(n)), Expr(int(k / 32))}),
          Buffer::make("X", DataType::f16(), {Expr(int(k))}),
          Buffer::make("Y", DataType::f16(), {Expr(int(n))})};
}

PrimFunc gemv_cpu(int64_t n, int64_t k) {
  auto [W, S, X, Y] = make_buffers(n, k);
  const int groups = static_cast<int>(k / 32);
  Var r("r"), g("g"), j("j"), e("e");
  Buffer acc = Buffer::make("acc", DataType::f32(), {Expr(8)}, MemScope::kLocal);
  Var s("s", DataType::f32()), w("w", DataType::u32());
  // (q - 7) * s * x for the 8 nibbles of word j, vectorized over the nibble index e.
  Expr q = cast(DataType::f32(), (w >> cast(DataType::u32(), e * 4)) & u32c(15));
  Expr xv = cast(DataType::f32(), X(g * 32 + j * 8 + e));
  Stmt update = store(acc, {e}, acc(e) + (q - 7.0) * s * xv);
  Stmt word = let_stmt(w, W(r, g * 4 + j), for_loop(e, 0, 8, update, ForKind::kVectorized));
  Stmt group =
      let_stmt(s, cast(DataType::f32(), S(r, g)), for_loop(j, 0, 4, word, ForKind::kUnrolled));
  Expr total = acc(0);
  for (int i = 1; i < 8; ++i) total = total + acc(i);
  Var z("z");
  Stmt row = allocate(
      acc, seq({for_loop(z, 0, 8, store(acc, {z}, Expr(0.0)), ForKind::kVectorized),
                for_loop(g, 0, groups, group), store(Y, {r}, cast(DataType::f16(), total))}));
  return make_prim_func("gemv_q4f16", {W, S, X, Y},
                        for_loop(r, 0, int(n), row, ForKind::kParallel));
}

// Groups per lane whose 16-byte loads are in flight together (64 bytes per lane).
constexpr int kGroupsInFlight = 4;

}  // namespace

namespace detail {

PrimFunc gemv_q4_gpu(const Q4GemvGpu& a, int64_t n, int64_t k, const Target& target) {
  const Buffer &W = a.w, &S = a.s, &X = a.x, &Y = a.y;
  const bool f16 = a.act == DataType::f16();
  MLCC_CHECK(f16 || a.act == DataType::f32(), "q4 GEMV activations must be f16 or f32");
  const int rows_per_block = a.rows_per_block;
  const int groups = static_cast<int>(q4_groups(k));
  const int words = static_cast<int>(q4_words(k));
  const bool padded = k % 32 != 0;  // x past k reads as zeros
  const int threads = 32 * rows_per_block;
  const int iters = (groups + 31) / 32;  // groups each lane of a warp covers
  const int num_blocks = static_cast<int>((n + rows_per_block - 1) / rows_per_block);
  // Past the shared-memory limit x is read from global memory (L1) where it is used.
  const bool staged = words * 8 * shared_element_bytes(target, a.act) <= target.max_shared_memory;
  if (padded && !staged)
    throw Error("q4 GEMV: k=" + std::to_string(k) +
                " is not a multiple of 32 and too large to stage x in shared memory");
  auto x_vec = [&](Expr base, int lanes) {
    return X.ndim() == 2 ? X(Expr(0), ramp(base, 1, lanes)) : X(ramp(base, 1, lanes));
  };
  auto x_at = [&](Expr i) { return X.ndim() == 2 ? X(Expr(0), i) : X(i); };

  Var bx("bx"), ty("ty"), tx("tx");
  Buffer xs = Buffer::make("xs", a.act, {Expr(words * 8)}, MemScope::kShared);
  Buffer xl = Buffer::make("xl", a.act, {Expr(8)}, MemScope::kLocal);
  Buffer xp = Buffer::make("xp", a.act, {Expr(8)}, MemScope::kLocal);
  Buffer xw = Buffer::make("xw", a.act, {Expr(8)}, MemScope::kLocal);
  Buffer wl = Buffer::make("wl", DataType::u32(), {Expr(4 * iters)}, MemScope::kLocal);
  Buffer sl = Buffer::make("sl", a.act, {Expr(iters)}, MemScope::kLocal);
  // Per-group partial sums: one f16x2 pair, or four f32 chains (shorter dependences).
  Buffer pl = Buffer::make("pl", a.act, {Expr(f16 ? 2 : 4)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", DataType::f32(), {Expr(1)}, MemScope::kLocal);

  // Stage x into shared memory. f16: the pairs (x_e, x_{e+4}) of each 8-element word
  // adjacent, and the four 16-byte words of group g rotated by swizzle(g) so that the
  // 16-byte reads of eight lanes (eight consecutive groups) fall in eight different bank
  // quads. f32: a group is eight 16-byte chunks, chunk c stored at c ^ (g & 7), same reason.
  auto swizzle = [](Expr g) { return (g >> 1) & 3; };
  auto word_at = [&](Expr g, Expr j) { return g * 32 + (j ^ swizzle(g)) * 8; };
  auto chunk_at = [](Expr g, Expr c) { return g * 32 + (c ^ (g & 7)) * 4; };
  Var it("it"), p("p"), e("e");
  Var idx("idx");
  // x's word idx into xl: one vector load, or element by element with zeros past k (a
  // statement-level guard: the operands of a select are both evaluated).
  Stmt load_word =
      padded
          ? for_loop(e, 0, 8,
                     seq({store(xl, {e}, make_zero(a.act)),
                          if_then_else(idx * 8 + e < int(k), store(xl, {e}, x_at(idx * 8 + e)))}),
                     ForKind::kUnrolled)
          : store(xl, {ramp(0, 1, 8)}, x_vec(idx * 8, 8));
  Expr linear_tid = ty * 32 + tx;
  Stmt permute =
      for_loop(p, 0, 4, store(xp, {ramp(p * 2, 1, 2)}, xl(ramp(p, 4, 2))), ForKind::kUnrolled);
  Stmt stage_word;
  if (f16) {
    stage_word = allocate(
        xl, allocate(
                xp, seq({load_word, permute,
                         store(xs, {ramp(word_at(idx >> 2, idx & 3), 1, 8)}, xp(ramp(0, 1, 8)))})));
  } else {
    Expr g = idx >> 2, c = (idx & 3) * 2;
    stage_word =
        allocate(xl, seq({load_word, store(xs, {ramp(chunk_at(g, c), 1, 4)}, xl(ramp(0, 1, 4))),
                          store(xs, {ramp(chunk_at(g, c + 1), 1, 4)}, xl(ramp(4, 1, 4)))}));
  }
  Stmt stage =
      for_loop(it, 0, (words + threads - 1) / threads,
               let_stmt(idx, it * threads + linear_tid, if_then_else(idx < words, stage_word)));

  // Loads of this lane's groups [begin, end) (indices clamped in bounds).
  Var row("row"), rowc("rowc");
  Expr gc = min(it * 32 + tx, Expr(groups - 1));
  auto load = [&](int begin, int end) {
    return for_loop(it, begin, end - begin,
                    seq({store(wl, {ramp(it * 4, 1, 4)}, W(rowc, ramp(gc * 4, 1, 4))),
                         store(sl, {it}, S(rowc, gc))}),
                    ForKind::kUnrolled);
  };

  // Phase 2: dequantize and multiply (f16: packed pairs; f32: one chain per e % 4), scale
  // per group in f32. The x values of word j come from shared memory in 16-byte reads.
  Var j("j"), bits("bits", DataType::u32());
  Stmt one_word;
  Expr group_sum;
  if (f16) {
    Expr pair =
        reinterpret(DataType::f16(2), bits) - broadcast(make_const(DataType::f16(), 1031.0), 2);
    Stmt fma_pair = let_stmt(
        bits,
        ((wl(it * 4 + j) >> cast(DataType::u32(), e * 4)) & u32c(0x000F000F)) | u32c(0x64006400),
        store(pl, {ramp(0, 1, 2)}, pl(ramp(0, 1, 2)) + pair * xw(ramp(e * 2, 1, 2))));
    Stmt read_x =
        staged
            ? store(xw, {ramp(0, 1, 8)}, xs(ramp(word_at(gc, j), 1, 8)))
            : allocate(xl,
                       allocate(xp, seq({store(xl, {ramp(0, 1, 8)}, x_vec(gc * 32 + j * 8, 8)),
                                         permute, store(xw, {ramp(0, 1, 8)}, xp(ramp(0, 1, 8)))})));
    one_word = seq({read_x, for_loop(e, 0, 4, fma_pair, ForKind::kUnrolled)});
    group_sum = (cast(DataType::f32(), pl(0)) + cast(DataType::f32(), pl(1))) *
                cast(DataType::f32(), sl(it));
  } else {
    // (nibble | 0x4B000000) is the f32 2^23 + q: q - 7 without a conversion instruction.
    Expr q7 = reinterpret(DataType::f32(), bits) - make_const(DataType::f32(), 8388615.0);
    Stmt fma = let_stmt(
        bits, ((wl(it * 4 + j) >> cast(DataType::u32(), e * 4)) & u32c(15)) | u32c(0x4B000000),
        store(pl, {e & 3}, pl(e & 3) + q7 * xw(e)));
    Stmt read_x = staged
                      ? seq({store(xw, {ramp(0, 1, 4)}, xs(ramp(chunk_at(gc, j * 2), 1, 4))),
                             store(xw, {ramp(4, 1, 4)}, xs(ramp(chunk_at(gc, j * 2 + 1), 1, 4)))})
                      : store(xw, {ramp(0, 1, 8)}, x_vec(gc * 32 + j * 8, 8));
    one_word = seq({read_x, for_loop(e, 0, 8, fma, ForKind::kUnrolled)});
    group_sum = (pl(0) + pl(1) + pl(2) + pl(3)) * sl(it);
  }
  Stmt one_group =
      seq({store(pl, {ramp(0, 1, f16 ? 2 : 4)}, broadcast(make_zero(a.act), f16 ? 2 : 4)),
           for_loop(j, 0, 4, one_word, ForKind::kUnrolled),
           store(acc, {0}, acc(0) + select(it * 32 + tx < groups, group_sum, Expr(0.0)))});
  auto compute = [&](int begin, int end) {
    return for_loop(it, begin, end - begin, one_group, ForKind::kUnrolled);
  };

  Expr reduced = call(DataType::f32(), Intrinsic::kThreadAllReduce,
                      {acc(0), make_const(DataType::i32(), int64_t(ReduceKind::kSum)), tx});
  std::vector<Expr> out_index =
      Y.ndim() == 2 ? std::vector<Expr>{Expr(0), row} : std::vector<Expr>{row};
  Expr result = acc(0);
  if (a.r) result = result + cast(DataType::f32(), a.r(out_index));
  Stmt finish =
      seq({store(acc, {0}, reduced),
           if_then_else(eq(tx, 0) && row < int(n), store(Y, out_index, cast(a.out, result)))});
  // The groups are processed in chunks, each chunk's loads issued while the previous one is
  // computed (the registers hold two chunks), and the first chunk's loads issued before x is
  // staged, so that the DRAM latency overlaps the staging and the barrier. Holding every
  // group's words at once (K=11008: 44 registers) measured slower.
  std::vector<int> bounds;
  for (int b = 0; b < iters; b += kGroupsInFlight) bounds.push_back(b);
  bounds.push_back(iters);
  std::vector<Stmt> steps = {load(bounds[0], bounds[1])};
  if (staged) steps.insert(steps.end(), {stage, sync_threads()});
  steps.push_back(store(acc, {0}, Expr(0.0)));
  for (size_t c = 0; c + 1 < bounds.size(); ++c) {
    if (c + 2 < bounds.size()) steps.push_back(load(bounds[c + 1], bounds[c + 2]));
    steps.push_back(compute(bounds[c], bounds[c + 1]));
  }
  steps.push_back(finish);
  Stmt threads_body = let_stmt(
      row, bx * rows_per_block + ty,
      let_stmt(rowc, min(row, Expr(int(n - 1))),
               allocate(wl, allocate(sl, allocate(pl, allocate(xw, allocate(acc, seq(steps))))))));
  Stmt block = thread_loop(ty, rows_per_block, ThreadAxis::kThreadY,
                           thread_loop(tx, 32, ThreadAxis::kThreadX, threads_body));
  Stmt body =
      thread_loop(bx, num_blocks, ThreadAxis::kBlockX, staged ? allocate(xs, block) : block);
  return make_prim_func(a.name, a.params, body);
}

}  // namespace detail

Q4GemvBuffers q4_gemv_buffers(const PrimFunc& f) {
  MLCC_CHECK(f.buffers.size() == 4, "not a q4 GEMV function");
  return {f.buffers[0], f.buffers[1], f.buffers[2], f.buffers[3]};
}

PrimFunc gemv_q4f16(int64_t n, int64_t k, const Target& target, int rows_per_block) {
  check_shape(n, k);
  if (!target.is_gpu()) return gemv_cpu(n, k);
  // 8 rows per block by default: x is staged once per 8 rows, so its shared-memory copy
  // costs a quarter of the weight bytes the block reads.
  if (rows_per_block <= 0) rows_per_block = 8;
  if (32 * rows_per_block > target.max_threads_per_block)
    throw Error("gemv_q4f16: " + std::to_string(rows_per_block) + " rows per block need " +
                std::to_string(32 * rows_per_block) + " threads; the target allows " +
                std::to_string(target.max_threads_per_block));
  auto [W, S, X, Y] = make_buffers(n, k);
  detail::Q4GemvGpu g{
      "gemv_q4f16",   X,           W, S, Buffer(), Y, DataType::f16(), DataType::f16(),
      rows_per_block, {W, S, X, Y}};
  return detail::gemv_q4_gpu(g, n, k, target);
}

}  // namespace mlcc::kernels
