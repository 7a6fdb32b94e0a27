// Linear layers Y = X Wᵀ (+ R) over the four quantizations (llm_kernels.h): the reference
// definition, the CPU schedules, and the dispatch to the GPU builders (gemv_q4.cc for q4
// decode, linear_gpu.cc for the rest). Accumulation is f32 everywhere (past exact i32 sums
// within a group on the CPU i16 path); the residual is added in f32 and the sum rounded once
// to the output dtype.
//
// CPU: parallel over tiles of W's rows (n). Decode with q4 weights multiplies each group's
// nibbles in registers right where they are loaded (a GEMV reads every weight once), a row
// of W per task, against x laid out once per call to match the nibbles' order: quantized to
// i16 for integer dot products with f16 activations, in f32 with f32 ones. Prefill with q4
// weights and f16 activations is linear_cpu_gemm.cc's integer product. Every other case
// is a register-tiled product: a task dequantizes (or converts) its TJ rows of W into an
// f32 scratch once, then walks X in tiles of TR rows with TR x TJ vector accumulators, so each
// weight byte is decoded once per task instead of once per row of X.
#include <algorithm>
#include <functional>

#include "ir/te/lower.h"
#include "passes/legalize/linear_internal.h"
#include "passes/legalize/llm_kernels.h"
#include "passes/legalize/schedule_util.h"
#include "runtime/error.h"

namespace mlcc::kernels {

using namespace ir;

DataType Quantization::act_dtype() const {
  return name.find("f16") != std::string::npos ? DataType::f16() : DataType::f32();
}

Quantization Quantization::parse(const std::string& name) {
  for (const char* known : {"q4f16_1", "q4f32_1", "q0f16", "q0f32"})
    if (name == known) return Quantization{name};
  throw Error("unknown quantization '" + name +
              "': expected one of q4f16_1, q4f32_1, q0f16, q0f32");
}

namespace detail {

std::vector<Buffer> LinearBuffers::params() const {
  std::vector<Buffer> p = {x, w};
  if (s) p.push_back(s);
  if (r) p.push_back(r);
  p.push_back(y);
  return p;
}

LinearBuffers linear_buffers(const LinearSpec& spec) {
  const DataType act = spec.quant.act_dtype();
  const Expr n(static_cast<int>(spec.n)), k(static_cast<int>(spec.k));
  LinearBuffers b;
  b.x = Buffer::make("X", act, {spec.rows, k});
  if (spec.quant.quantized()) {
    b.w = Buffer::make("QW", DataType::u32(), {n, Expr(static_cast<int>(q4_words(spec.k)))});
    b.s = Buffer::make("QS", act, {n, Expr(static_cast<int>(q4_groups(spec.k)))});
  } else {
    b.w = Buffer::make("W", act, {n, k});
  }
  if (spec.residual) b.r = Buffer::make("R", act, {spec.rows, n});
  b.y = Buffer::make("Y", spec.out_dtype, {spec.rows, n});
  return b;
}

Expr linear_output(const LinearBuffers& b, DataType out, Expr acc, std::vector<Expr> index) {
  const int lanes = acc.dtype().lanes;
  if (b.r) acc = acc + cast(DataType::f32(lanes), b.r(std::move(index)));
  return cast(out.with_lanes(lanes), acc);
}

Expr quantize_i16(Expr x, Expr inverse) {
  return cast(DataType::i16(),
              call(DataType::f32(), Intrinsic::kFloor, {std::move(x) * std::move(inverse) + 0.5}));
}

Stmt quantize_group_i16(const Buffer& amax, const std::function<Expr(Expr)>& x_at,
                        const std::function<Stmt(Expr)>& store_scale,
                        const std::function<Stmt(Expr)>& store_values) {
  Var i("qi"), inv("inv", DataType::f32());
  return seq(
      {store(amax, {0}, Expr(0.0)),
       for_loop(i, 0, 32, store(amax, {0}, max(amax(0), fabs(x_at(i))))),
       store_scale(amax(0) * (1.0 / 32767.0)),
       let_stmt(inv, select(amax(0) > 0.0, 32767.0 / amax(0), Expr(0.0)), store_values(inv))});
}

}  // namespace detail

namespace {

using detail::LinearBuffers;

void check_spec(const LinearSpec& s) {
  auto fail = [&](const std::string& what) {
    throw Error("linear (" + s.quant.name + ", n=" + std::to_string(s.n) +
                ", k=" + std::to_string(s.k) + "): " + what);
  };
  Quantization::parse(s.quant.name);
  if (!s.rows.defined() || s.rows.dtype() != DataType::i32())
    fail("rows must be an i32 expression (the constant 1 or a symbolic Var)");
  int64_t rows;
  if (is_const_int(s.rows, &rows) && rows < 1) fail("rows must be at least 1");
  if (s.n <= 0 || s.k <= 0) fail("expected positive n and k");
  if (s.n * s.k >= (int64_t{1} << 31)) fail("expected n * k below 2^31 (i32 indexing)");
  const DataType act = s.quant.act_dtype();
  if (s.out_dtype != act && s.out_dtype != DataType::f32())
    fail("out_dtype " + to_string(s.out_dtype) + " is neither the activation dtype " +
         to_string(act) + " nor f32");
}

// The definition itself: the reference the interpreter runs.
PrimFunc reference(const LinearSpec& s) {
  using namespace ir::te;
  const DataType act = s.quant.act_dtype(), f32 = DataType::f32(), u32 = DataType::u32();
  const Expr n(static_cast<int>(s.n)), k(static_cast<int>(s.k));
  Tensor X = placeholder("X", {s.rows, k}, act);
  std::vector<Tensor> args = {X};
  Tensor W, QW, QS, R;
  if (s.quant.quantized()) {
    QW = placeholder("QW", {n, Expr(static_cast<int>(detail::q4_words(s.k)))}, u32);
    QS = placeholder("QS", {n, Expr(static_cast<int>(detail::q4_groups(s.k)))}, act);
    args.insert(args.end(), {QW, QS});
  } else {
    W = placeholder("W", {n, k}, act);
    args.push_back(W);
  }
  IterVar r = reduce_axis(k, "k");
  Tensor acc = compute("Acc", {s.rows, n}, [&](const std::vector<Var>& ax) {
    Expr kk = r.var(), w;
    if (s.quant.quantized()) {
      Expr q = (QW(ax[1], kk / 8) >> cast(u32, (kk % 8) * 4)) & make_const(u32, int64_t{15});
      w = (cast(f32, q) - 7.0) * cast(f32, QS(ax[1], kk / 32));
    } else {
      w = cast(f32, W(ax[1], kk));
    }
    return sum(cast(f32, X(ax[0], kk)) * w, {r});
  });
  if (s.residual) {
    R = placeholder("R", {s.rows, n}, act);
    args.push_back(R);
  }
  Tensor Y = compute("Y", {s.rows, n}, [&](const std::vector<Var>& ax) {
    Expr v = acc(ax[0], ax[1]);
    if (s.residual) v = v + cast(f32, R(ax[0], ax[1]));
    return cast(s.out_dtype, v);
  });
  args.push_back(Y);
  Schedule sch({Y});
  return lower(sch, args, "linear", nullptr);
}

Expr u32c(int64_t v) { return make_const(DataType::u32(), v); }

// The f32 values (q - 7) of the eight nibbles of word w, as lanes e of a vectorized loop.
// (q | 0x4B000000) is the f32 2^23 + q, so q - 7 is one subtraction instead of a
// conversion and a subtraction (7% faster decode on Zen 4).
Expr nibble(const Expr& w, const Expr& e) {
  const DataType u32 = DataType::u32();
  Expr bits = ((w >> cast(u32, e * 4)) & u32c(15)) | u32c(0x4B000000);
  return reinterpret(DataType::f32(), bits) - make_const(DataType::f32(), 8388615.0);
}

// Sum of `lanes` consecutive elements of a local buffer from `base`.
Expr lane_sum(const Buffer& buf, const Expr& base, int lanes) {
  Expr total = buf(base);
  for (int i = 1; i < lanes; ++i) total = total + buf(base + i);
  return total;
}

Expr fma(Expr a, Expr b, Expr c) { return call(a.dtype(), Intrinsic::kFma, {a, b, c}); }

// sf[g] = value(g) for g < groups, in vectors of 16 and a scalar tail: one vector of all
// groups (176 lanes at k = 5632) is legalized by LLVM into lane-by-lane shuffles.
Stmt per_group(const Buffer& sf, int groups, const std::function<Expr(Expr)>& value) {
  Var go("go"), e("e"), g("g");
  const int GV = groups / 16 * 16;
  return seq({for_loop(go, 0, GV / 16,
                       for_loop(e, 0, 16, store(sf, {go * 16 + e}, value(go * 16 + e)),
                                ForKind::kVectorized)),
              for_loop(g, GV, groups - GV, store(sf, {g}, value(g)))});
}

// dot[0..16) += sf[g] * m7[g] over the groups, in vectors of 16 and a scalar tail: a row's
// -7 terms (its scales times -7 times each group's sum of x).
Stmt minus7_dot(const Buffer& dot, const Buffer& sf, const Buffer& m7, int groups) {
  Var go("go"), g("g");
  const int GV = groups / 16 * 16;
  auto vec = [](const Buffer& buf, Expr base) { return buf(ramp(std::move(base), 1, 16)); };
  return seq(
      {for_loop(go, 0, GV / 16,
                store(dot, {ramp(0, 1, 16)}, fma(vec(sf, go * 16), vec(m7, go * 16), vec(dot, 0)))),
       for_loop(g, GV, groups - GV, store(dot, {0}, dot(0) + sf(g) * m7(g)))});
}

// Decode with q4 weights, 16 lanes at a time (one AVX-512 register; two AVX2 ones). A group's
// 16 bytes widen to 16 i32 lanes in one step (vpmovzxbd); byte e holds elements 2e (low
// nibble) and 2e + 1 (high nibble) of the group, so a serial prologue lays x out per group
// as [even elements][odd elements] in f32 once per call, with -7 times the group's sum
// beside: then one group is q_lo * x_even + q_hi * x_odd (two conversions, a multiply and an
// FMA), scaled into an accumulator by a second FMA (the row's scales are converted to f32
// first, so the scale is a broadcast operand); the row's -7 terms are one dot product of its
// scales with the group sums. Against a word per 8-lane vector (shift by lane, mask,
// convert, per word) this is under half the instructions per weight. A task is one row, one
// sequential stream, with two accumulators for alternate groups so that the FMA chain's
// latency does not bound the loop; x stays in L1 (128 bytes per group: 22 KB at k = 5632).
// Two or four rows per task sharing x in registers (interleaved streams) measured slower
// on this machine's Zen 5 cores, as did x with the -7 terms as a third vector per group.
PrimFunc cpu_gemv_q4(const LinearSpec& s, const LinearBuffers& b) {
  const DataType f32 = DataType::f32(), i32 = DataType::i32();
  const int groups = static_cast<int>(s.k / 32);
  constexpr int L = 16, XS = 2 * L;       // lanes; x floats per group
  const int U = groups % 2 == 0 ? 2 : 1;  // accumulators
  const DataType fv = f32.with_lanes(L), iv = i32.with_lanes(L);
  Var j("j"), g("g"), go("go"), u("u"), e("e"), i("i");
  Var q("q", iv), part("part", fv);
  Buffer xd = Buffer::make("xd", f32, {Expr(groups * XS)}, MemScope::kLocal);
  Buffer m7 = Buffer::make("m7", f32, {Expr(groups)}, MemScope::kLocal);
  Buffer sf = Buffer::make("sf", f32, {Expr(groups)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", f32, {Expr(U * L)}, MemScope::kLocal);
  Buffer dot = Buffer::make("dot", f32, {Expr(L)}, MemScope::kLocal);
  auto x_at = [&](Expr k) { return cast(f32, b.x(Expr(0), g * 32 + k)); };
  auto vec = [&](const Buffer& buf, Expr base) { return buf(ramp(std::move(base), 1, L)); };
  auto splat = [&](Expr v) { return broadcast(std::move(v), L); };
  auto zero = [&](const Buffer& buf, int n) {
    return for_loop(i, 0, n, store(buf, {i}, Expr(0.0)), ForKind::kVectorized);
  };

  Stmt layout =
      for_loop(g, 0, groups,
               seq({for_loop(e, 0, L,
                             seq({store(xd, {g * XS + e}, x_at(e * 2)),
                                  store(xd, {g * XS + L + e}, x_at(e * 2 + 1))}),
                             ForKind::kVectorized),
                    store(m7, {g}, Expr(0.0)), for_loop(i, 0, 32, store(m7, {g}, m7(g) + x_at(i))),
                    store(m7, {g}, m7(g) * make_const(f32, -7.0))}));
  Stmt scales = per_group(sf, groups, [&](Expr gg) { return cast(f32, b.s(j, gg)); });
  Expr bytes = cast(iv, reinterpret(DataType::u8(L), b.w(j, ramp(g * 4, 1, 4))));
  Expr lo = cast(fv, q & splat(make_const(i32, int64_t{15})));
  Expr hi = cast(fv, q >> splat(make_const(i32, int64_t{4})));
  Stmt group =
      let_stmt(q, bytes,
               let_stmt(part, fma(hi, vec(xd, g * XS + L), lo * vec(xd, g * XS)),
                        store(acc, {ramp(u * L, 1, L)}, fma(part, splat(sf(g)), vec(acc, u * L)))));
  Stmt groups_loop = for_loop(
      go, 0, groups / U, for_loop(u, 0, U, let_stmt(g, go * U + u, group), ForKind::kUnrolled));
  Stmt row_dot = minus7_dot(dot, sf, m7, groups);
  Expr total = lane_sum(acc, 0, U * L) + lane_sum(dot, 0, L);
  Stmt out = store(b.y, {Expr(0), j}, detail::linear_output(b, s.out_dtype, total, {Expr(0), j}));
  Stmt task = allocate(acc, allocate(sf, allocate(dot, seq({scales, zero(acc, U * L), zero(dot, L),
                                                            groups_loop, row_dot, out}))));
  return make_prim_func(
      "linear", b.params(),
      allocate(xd, allocate(m7, seq({layout, for_loop(j, 0, static_cast<int>(s.n), task,
                                                      ForKind::kParallel)}))));
}

// Decode with q4 weights and f16 activations on integer dot products. A serial prologue
// quantizes x once per call to i16 per group of 32 (scale amax / 32767: an error below 2e-5
// of the group's largest element, a thirtieth of f16's own rounding), laid out per pair of
// groups as [even elements of both][odd elements of both] to match the nibbles. A row's
// 32 bytes of two groups widen to 32 i16 lanes (vpmovzxbw); their low and high nibbles
// times x are two dot_i16_pairs (VNNI's vpdpwssd), which leave group A's sums in lanes 0-7
// and group B's in lanes 8-15, so one conversion and one FMA by the lanes' combined scales
// (weight scale times x scale) add both groups into an f32 accumulator: about half the
// instructions per weight of the f32 schedule below. The -7 terms are, as there, a dot
// product of the row's combined scales with -7 times each group's sum of quantized x.
// q4f32_1 keeps the f32 schedule: its activations promise f32 accuracy.
PrimFunc cpu_gemv_q4_i16(const LinearSpec& s, const LinearBuffers& b) {
  const DataType f32 = DataType::f32(), i32 = DataType::i32(), i16 = DataType::i16();
  const int groups = static_cast<int>(s.k / 32), pairs = groups / 2, odd = groups % 2;
  constexpr int L = 16;                  // accumulator lanes: 8 pair sums of 2 groups
  const int U = pairs % 2 == 0 ? 2 : 1;  // accumulators
  Var j("j"), g("g"), p("p"), po("po"), u("u"), e("e"), i("i");
  Buffer xq = Buffer::make("xq", i16, {Expr((pairs + odd) * 64)}, MemScope::kLocal);
  Buffer sx = Buffer::make("sx", f32, {Expr(groups)}, MemScope::kLocal);
  Buffer m7 = Buffer::make("m7", f32, {Expr(groups)}, MemScope::kLocal);
  Buffer amax = Buffer::make("amax", f32, {Expr(1)}, MemScope::kLocal);
  Buffer sf = Buffer::make("sf", f32, {Expr(groups)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", f32, {Expr(U * L)}, MemScope::kLocal);
  Buffer dot = Buffer::make("dot", f32, {Expr(L)}, MemScope::kLocal);
  auto x_at = [&](Expr k) { return cast(f32, b.x(Expr(0), g * 32 + k)); };
  // Element 2e + parity of group gg in xq.
  auto xq_at = [&](Expr gg, int parity, Expr e_) {
    return gg / 2 * 64 + parity * 32 + gg % 2 * 16 + e_;
  };
  auto zero = [&](const Buffer& buf, int n) {
    return for_loop(i, 0, n, store(buf, {i}, Expr(0.0)), ForKind::kVectorized);
  };

  Stmt quantize = for_loop(
      g, 0, groups,
      seq({detail::quantize_group_i16(
               amax, x_at, [&](Expr scale) { return store(sx, {g}, scale); },
               [&](Expr inv) {
                 auto q = [&](Expr k) { return detail::quantize_i16(x_at(std::move(k)), inv); };
                 return for_loop(e, 0, 16,
                                 seq({store(xq, {xq_at(g, 0, e)}, q(e * 2)),
                                      store(xq, {xq_at(g, 1, e)}, q(e * 2 + 1))}),
                                 ForKind::kVectorized);
               }),
           store(m7, {g}, Expr(0.0)),
           for_loop(i, 0, 16,
                    store(m7, {g},
                          m7(g) + cast(f32, xq(xq_at(g, 0, i))) + cast(f32, xq(xq_at(g, 1, i))))),
           store(m7, {g}, m7(g) * -7.0)}));
  Stmt scales = per_group(sf, groups, [&](Expr gg) { return cast(f32, b.s(j, gg)) * sx(gg); });
  // n lanes of sums over the n / 8 groups from xq[base] (base = 64 * pair): the weights'
  // 2n bytes of this row widened to i16, their nibbles times x.
  auto nibble_dot = [&](int n, Expr base) {
    Expr w = cast(i16.with_lanes(2 * n),
                  reinterpret(DataType::u8(2 * n), b.w(j, ramp(base / 64 * 8, 1, n / 2))));
    Expr lo = w & broadcast(make_const(i16, int64_t{15}), 2 * n);
    Expr hi = w >> broadcast(make_const(i16, int64_t{4}), 2 * n);
    Expr first =
        dot_i16_pairs(lo, xq(ramp(base, 1, 2 * n)), broadcast(make_const(i32, int64_t{0}), n));
    return cast(f32.with_lanes(n), dot_i16_pairs(hi, xq(ramp(base + 32, 1, 2 * n)), first));
  };
  Expr pair_scale = select(ramp(0, 1, L) < broadcast(Expr(8), L), broadcast(sf(p * 2), L),
                           broadcast(sf(p * 2 + 1), L));
  Stmt pair = store(acc, {ramp(u * L, 1, L)},
                    fma(nibble_dot(L, p * 64), pair_scale, acc(ramp(u * L, 1, L))));
  std::vector<Stmt> row = {
      scales, zero(acc, U * L), zero(dot, L),
      for_loop(po, 0, pairs / U,
               for_loop(u, 0, U, let_stmt(p, po * U + u, pair), ForKind::kUnrolled))};
  if (odd)  // the last group alone, in the low 8 lanes
    row.push_back(store(
        acc, {ramp(0, 1, 8)},
        fma(nibble_dot(8, Expr(pairs * 64)), broadcast(sf(groups - 1), 8), acc(ramp(0, 1, 8)))));
  row.push_back(minus7_dot(dot, sf, m7, groups));
  Expr total = lane_sum(acc, 0, U * L) + lane_sum(dot, 0, L);
  row.push_back(
      store(b.y, {Expr(0), j}, detail::linear_output(b, s.out_dtype, total, {Expr(0), j})));
  Stmt task = allocate(acc, allocate(sf, allocate(dot, seq(row))));
  return make_prim_func(
      "linear", b.params(),
      allocate(
          xq,
          allocate(sx, allocate(m7, allocate(amax, seq({quantize,
                                                        for_loop(j, 0, static_cast<int>(s.n), task,
                                                                 ForKind::kParallel)}))))));
}

// The register-tiled product (any rows; q0 decode too).
PrimFunc cpu_tiled(const LinearSpec& s, const LinearBuffers& b, const Target& target) {
  const DataType f32 = DataType::f32();
  const bool q4 = s.quant.quantized();
  const int L = std::min(vector_lanes(target, f32), 16);
  const bool decode = is_const_int(s.rows, 1);
  // TR x TJ accumulators of L lanes plus TR x-vectors and one w-vector stay in registers
  // (16 + 5 of AVX-512's 32; 8 + 3 of AVX2's 16).
  const int TJ = 4, TR = decode ? 1 : (target.vector_bits >= 512 ? 4 : 2);
  const int K = static_cast<int>(s.k), N = static_cast<int>(s.n);
  const int KV = K / L;  // full vectors; the rest is a scalar tail
  // Row stride of the decoded scratch: whole q4 groups (a padded last group included).
  const int KP = q4 ? static_cast<int>(detail::q4_groups(s.k) * 32) : K;

  Var jt("jt"), jj("jj"), g("g"), wi("wi"), e("e"), rt("rt"), r("r"), kv("kv"), l("l"), kk("kk");
  Var z("z"), w("w", DataType::u32()), sc("sc", f32);
  auto col = [&](Expr jj_) { return min(jt * TJ + jj_, Expr(N - 1)); };
  auto xrow = [&](Expr r_) { return min(rt * TR + r_, s.rows - 1); };

  Buffer wd = Buffer::make("wd", f32, {Expr(TJ * KP)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", f32, {Expr(TR * TJ * L)}, MemScope::kLocal);
  Buffer xl = Buffer::make("xl", f32, {Expr(TR * L)}, MemScope::kLocal);
  Buffer wl = Buffer::make("wl", f32, {Expr(L)}, MemScope::kLocal);

  // The weight at (jj, index) in f32: the decoded scratch (q4) or W itself (q0).
  auto weight = [&](Expr jj_, Expr index) {
    return q4 ? wd(jj_ * KP + index) : cast(f32, b.w(col(jj_), index));
  };
  Stmt decode_w;
  if (q4) {
    Stmt word =
        let_stmt(w, b.w(col(jj), g * 4 + wi),
                 for_loop(e, 0, 8, store(wd, {jj * KP + g * 32 + wi * 8 + e}, nibble(w, e) * sc),
                          ForKind::kVectorized));
    decode_w = for_loop(jj, 0, TJ,
                        for_loop(g, 0, KP / 32,
                                 let_stmt(sc, cast(f32, b.s(col(jj), g)),
                                          for_loop(wi, 0, 4, word, ForKind::kUnrolled))));
  }

  auto acc_at = [&](Expr r_, Expr jj_) { return (r_ * TJ + jj_) * L; };
  Stmt init = for_loop(z, 0, TR * TJ,
                       for_loop(l, 0, L, store(acc, {z * L + l}, Expr(0.0)), ForKind::kVectorized),
                       ForKind::kUnrolled);
  Stmt load_x =
      for_loop(r, 0, TR,
               for_loop(l, 0, L, store(xl, {r * L + l}, cast(f32, b.x(xrow(r), kv * L + l))),
                        ForKind::kVectorized),
               ForKind::kUnrolled);
  Stmt fma = for_loop(
      r, 0, TR,
      for_loop(l, 0, L,
               store(acc, {acc_at(r, jj) + l}, acc(acc_at(r, jj) + l) + xl(r * L + l) * wl(l)),
               ForKind::kVectorized),
      ForKind::kUnrolled);
  Stmt per_w =
      seq({for_loop(l, 0, L, store(wl, {l}, weight(jj, kv * L + l)), ForKind::kVectorized), fma});
  Stmt main_loop =
      for_loop(kv, 0, KV, seq({load_x, for_loop(jj, 0, TJ, per_w, ForKind::kUnrolled)}));
  std::vector<Stmt> tile = {init, main_loop};
  if (KV * L < K) {
    Expr term = cast(f32, b.x(xrow(r), kk)) * weight(jj, kk);
    tile.push_back(for_loop(
        kk, KV * L, K - KV * L,
        for_loop(r, 0, TR,
                 for_loop(jj, 0, TJ, store(acc, {acc_at(r, jj)}, acc(acc_at(r, jj)) + term),
                          ForKind::kUnrolled),
                 ForKind::kUnrolled)));
  }
  Expr row = rt * TR + r, c = jt * TJ + jj;
  tile.push_back(for_loop(
      r, 0, TR,
      for_loop(jj, 0, TJ,
               if_then_else(row < s.rows && c < N,
                            store(b.y, {row, c},
                                  detail::linear_output(
                                      b, s.out_dtype, lane_sum(acc, acc_at(r, jj), L), {row, c}))),
               ForKind::kUnrolled),
      ForKind::kUnrolled));
  Stmt rows_loop = for_loop(rt, 0, (s.rows + (TR - 1)) / TR,
                            allocate(acc, allocate(xl, allocate(wl, seq(tile)))));
  Stmt task = q4 ? allocate(wd, seq({decode_w, rows_loop})) : rows_loop;
  return make_prim_func("linear", b.params(),
                        for_loop(jt, 0, (N + TJ - 1) / TJ, task, ForKind::kParallel));
}

}  // namespace

PrimFunc linear(const LinearSpec& s, const Target* target) {
  check_spec(s);
  if (!target) return reference(s);
  LinearBuffers b = detail::linear_buffers(s);
  const bool decode = is_const_int(s.rows, 1);
  if (!target->is_gpu()) {
    if (!s.quant.quantized() || s.k % 32 != 0) return cpu_tiled(s, b, *target);
    const bool f16 = s.quant.act_dtype() == DataType::f16();
    if (!decode)
      return f16 ? detail::linear_gemm_q4_i16_cpu(s, b, *target) : cpu_tiled(s, b, *target);
    return f16 ? cpu_gemv_q4_i16(s, b) : cpu_gemv_q4(s, b);
  }
  if (!decode)
    return detail::linear_mma_applies(s, *target) ? detail::linear_mma_gpu(s, b, *target)
                                                  : detail::linear_tiled_gpu(s, b, *target);
  if (!s.quant.quantized()) return detail::linear_gemv_q0_gpu(s, b, *target);
  detail::Q4GemvGpu g;
  g.name = "linear";
  g.x = b.x, g.w = b.w, g.s = b.s, g.r = b.r, g.y = b.y;
  g.act = s.quant.act_dtype();
  g.out = s.out_dtype;
  g.rows_per_block = std::max(1, std::min(8, target->max_threads_per_block / 32));
  g.params = b.params();
  return detail::gemv_q4_gpu(g, s.n, s.k, *target);
}

}  // namespace mlcc::kernels
