// Rotary position embedding (Hugging Face's rotate_half convention) and the KV-cache append
// that rotates keys on their way into the paged cache. Both are elementwise over (row, head,
// pair) and share the rotation: element j < D/2 of a head pairs with j + D/2 and both turn
// by the angle pos * inv_freq[j], computed in f32 as transformers does.
//
// The IR has no sin/cos intrinsic (and the GPU's approximate ones are poor for the large
// angles of long contexts), so sin and cos are built here from IR arithmetic: a Cody-Waite
// reduction by pi/2 in three fma steps, accurate to about 1e-7 for angles up to ~1e5, then
// Cephes' single-precision polynomials on [-pi/4, pi/4]. inv_freq is a table of compile-time
// f32 constants chosen by a tree of selects on j: no lookup memory, the same code on every
// target, and llama3 scaling is only a different table.
#include <cmath>
#include <functional>

#include "passes/legalize/llm_kernels.h"
#include "passes/legalize/schedule_util.h"
#include "runtime/error.h"

namespace mlcc::kernels {

using namespace ir;

namespace {

constexpr int kThreads = 128;  // GPU threads per block: one (row, head, pair) each

const DataType kF32 = DataType::f32();

// inv_freq as transformers computes it in f32: 1 / theta^(2i/D), then the llama3 adjustment
// of `_compute_llama3_parameters` (every step in f32, in its order).
std::vector<float> inv_freq_table(const RopeSpec& r) {
  const int64_t half = r.head_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    float e = static_cast<float>(2 * i) / static_cast<float>(r.head_dim);
    float p = static_cast<float>(
        std::pow(static_cast<double>(static_cast<float>(r.theta)), static_cast<double>(e)));
    inv[i] = 1.0f / p;
  }
  if (r.scaling.empty()) return inv;
  if (r.scaling != "llama3")
    throw Error("rope: unknown rope scaling '" + r.scaling + "' (accepted: none, \"llama3\")");
  const float factor = static_cast<float>(r.factor), low = static_cast<float>(r.low_freq_factor),
              high = static_cast<float>(r.high_freq_factor);
  const float old_len = static_cast<float>(r.original_max_position);
  const float low_wavelen = old_len / low, high_wavelen = old_len / high;
  for (float& f : inv) {
    float wavelen = static_cast<float>(2 * M_PI) / f;
    float scaled = wavelen > low_wavelen ? f / factor : f;
    if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
      float smooth = (old_len / wavelen - low) / (high - low);
      scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
    f = scaled;
  }
  return inv;
}

// Indices base .. base + lanes - 1 (a Ramp, or base itself for one lane).
Expr vidx(const Expr& base, int lanes) { return lanes == 1 ? base : ramp(base, 1, lanes); }

// table[i] for i in [lo, hi) as a balanced tree of selects on i (i may be a vector).
Expr lookup(const std::vector<float>& table, const Expr& i, int lo, int hi) {
  if (hi - lo == 1) return make_const(kF32.with_lanes(i.dtype().lanes), double(table[lo]));
  int mid = (lo + hi) / 2;
  return select(i < mid, lookup(table, i, lo, mid), lookup(table, i, mid, hi));
}

Expr fma(Expr a, Expr b, Expr c) { return call(a.dtype(), Intrinsic::kFma, {a, b, c}); }

// body(sin(angle), cos(angle)) for an f32 angle >= 0 (scalar or vector), with the
// intermediate values in lets.
Stmt with_sincos(const Expr& angle, const std::function<Stmt(Expr, Expr)>& body) {
  const DataType t = angle.dtype();
  // pi/2 split into three f32 parts; q * P1 is exact within the fma, so the reduced angle
  // keeps full precision while q < 2^17.
  const long double half_pi = 1.570796326794896619231321691639751442L;
  const float p1 = static_cast<float>(half_pi);
  const float p2 = static_cast<float>(half_pi - p1);
  const float p3 = static_cast<float>(half_pi - p1 - p2);
  Var x("angle", t), q("q", t), r("r", t), z("z", t), s("s", t), c("c", t);
  Var n("n", DataType::i32(t.lanes));
  Expr quadrant = call(t, Intrinsic::kFloor, {x * float(2 / M_PI) + 0.5});
  Expr reduced = fma(q, make_const(t, -double(p3)),
                     fma(q, make_const(t, -double(p2)), fma(q, make_const(t, -double(p1)), x)));
  // Cephes sinf/cosf polynomials, |r| <= pi/4 (coefficients from the highest power).
  auto horner = [&](std::initializer_list<double> coeffs) {
    Expr acc;
    for (double k : coeffs) acc = acc.defined() ? acc * z + k : make_const(t, k);
    return acc;
  };
  Expr sin_r = horner({-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1}) * z * r + r;
  Expr cos_r = horner({2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2}) * z * z -
               0.5 * z + 1.0;
  Expr sin_v = select(eq(n, 0), s, select(eq(n, 1), c, select(eq(n, 2), -s, -c)));
  Expr cos_v = select(eq(n, 0), c, select(eq(n, 1), -s, select(eq(n, 2), -c, s)));
  Stmt inner = let_stmt(
      q, quadrant,
      let_stmt(
          r, reduced,
          let_stmt(z, r * r,
                   let_stmt(s, sin_r,
                            let_stmt(c, cos_r,
                                     let_stmt(n, cast(n.dtype(), q) & 3, body(sin_v, cos_v)))))));
  return let_stmt(x, angle, inner);
}

// The rotation of pairs j (0 <= j < D/2; a Ramp on the CPU) at position pos:
// body(y_j, y_{j+D/2}) with x1 = x_j and x2 = x_{j+D/2} (any dtype; the math is f32).
Stmt rotate_pair(const std::vector<float>& inv_freq, const Expr& pos, const Expr& j, const Expr& x1,
                 const Expr& x2, const std::function<Stmt(Expr, Expr)>& body) {
  const DataType t = kF32.with_lanes(j.dtype().lanes);
  Var a("a", t), b("b", t);
  Expr angle = cast(t, pos) * lookup(inv_freq, j, 0, static_cast<int>(inv_freq.size()));
  return let_stmt(a, cast(t, x1),
                  let_stmt(b, cast(t, x2), with_sincos(angle, [&](Expr sn, Expr cs) {
                             return body(a * cs - b * sn, b * cs + a * sn);
                           })));
}

// total_len as an extra scalar parameter when it is a Var of its own (an expression may
// only use vars that already are parameters, such as rows).
std::vector<Var> extra_scalars(const Expr& total_len) {
  if (!total_len.as<VarNode>()) return {};
  return {Var(std::static_pointer_cast<const VarNode>(total_len.ptr()))};
}

// The loop nest over (row, head, pair) for each target, calling body(row, head, j0, lanes)
// for the pairs j0 .. j0 + lanes - 1.
Stmt pair_loops(const Expr& rows, int64_t heads, int64_t half, const Target* target,
                const std::function<Stmt(Expr, Expr, Expr, int)>& body) {
  Var r("r"), h("h"), j("j");
  const int nh = static_cast<int>(heads), nj = static_cast<int>(half);
  if (!target)
    return for_loop(r, 0, rows, for_loop(h, 0, nh, for_loop(j, 0, nj, body(r, h, j, 1))));
  if (!target->is_gpu()) {
    // Parallel over (row, head): decode has one row but many heads. The pairs of a head go
    // in vectors, written as such here: the loop vectorizer would refuse the two stores
    // per pair (it cannot prove j and j + D/2 apart).
    int lanes = vector_lanes(*target, kF32);
    while (lanes > 1 && half % lanes != 0) lanes /= 2;
    Var n("n"), jo("jo");
    Stmt inner = for_loop(jo, 0, nj / lanes, body(r, h, jo * lanes, lanes));
    return for_loop(n, 0, rows * nh, let_stmt(r, n / nh, let_stmt(h, n % nh, inner)),
                    ForKind::kParallel);
  }
  Var bx("bx"), tx("tx"), idx("idx");
  Expr total = rows * (nh * nj);
  Stmt one = let_stmt(
      idx, bx * kThreads + tx,
      if_then_else(idx < total,
                   let_stmt(r, idx / (nh * nj),
                            let_stmt(h, idx / nj % nh, let_stmt(j, idx % nj, body(r, h, j, 1))))));
  return thread_loop(bx, (total + (kThreads - 1)) / kThreads, ThreadAxis::kBlockX,
                     thread_loop(tx, kThreads, ThreadAxis::kThreadX, one));
}

void check_rope(const char* who, const RopeSpec& r) {
  if (r.head_dim <= 0 || r.head_dim % 2 != 0)
    throw Error(std::string(who) + ": head_dim " + std::to_string(r.head_dim) +
                " must be positive and even (rotate_half pairs i with i + D/2)");
  if (!(r.theta > 0))
    throw Error(std::string(who) + ": rope theta must be positive, got " + std::to_string(r.theta));
}

}  // namespace

PrimFunc rope(Expr rows, Expr total_len, int64_t in_cols, int64_t offset, int64_t heads,
              const RopeSpec& spec, DataType dtype, const Target* target) {
  check_rope("rope", spec);
  const int64_t d = spec.head_dim, half = d / 2;
  if (heads <= 0 || offset < 0 || offset + heads * d > in_cols)
    throw Error("rope: columns [" + std::to_string(offset) + ", " +
                std::to_string(offset + heads * d) + ") of " + std::to_string(heads) +
                " heads do not fit in " + std::to_string(in_cols) + " input columns");
  Buffer X = Buffer::make("X", dtype, {rows, Expr(int(in_cols))});
  Buffer Y = Buffer::make("Y", dtype, {rows, Expr(int(heads * d))});
  std::vector<float> inv = inv_freq_table(spec);
  Stmt body = pair_loops(rows, heads, half, target, [&](Expr r, Expr h, Expr j, int lanes) {
    auto col = [&](int64_t off) { return vidx(h * int(d) + j + int(off), lanes); };
    const DataType out = dtype.with_lanes(lanes);
    return rotate_pair(inv, total_len - rows + r, vidx(j, lanes), X(r, col(offset)),
                       X(r, col(offset + half)), [&](Expr y1, Expr y2) {
                         return seq({store(Y, {r, col(0)}, cast(out, y1)),
                                     store(Y, {r, col(half)}, cast(out, y2))});
                       });
  });
  return make_prim_func("rope", {X, Y}, body, extra_scalars(total_len));
}

PrimFunc kv_append(Expr rows, Expr total_len, int64_t in_cols, int64_t k_offset, int64_t v_offset,
                   const RopeSpec& spec, const PagedCache& cache, DataType dtype,
                   const Target* target) {
  check_rope("kv_append", spec);
  const int64_t d = spec.head_dim, half = d / 2, kv = cache.kv_heads;
  if (cache.head_dim != d)
    throw Error("kv_append: the cache's head_dim " + std::to_string(cache.head_dim) +
                " differs from rope's " + std::to_string(d));
  if (kv <= 0 || cache.page_size <= 0 || cache.max_pages <= 0)
    throw Error("kv_append: kv_heads, page_size and max_pages must be positive");
  for (int64_t off : {k_offset, v_offset})
    if (off < 0 || off + kv * d > in_cols)
      throw Error("kv_append: columns [" + std::to_string(off) + ", " +
                  std::to_string(off + kv * d) + ") do not fit in " + std::to_string(in_cols) +
                  " input columns");
  const int ps = static_cast<int>(cache.page_size);
  Buffer QKV = Buffer::make("QKV", dtype, {rows, Expr(int(in_cols))});
  Buffer C = Buffer::make("Cache", dtype,
                          {cache.num_pages, Expr(2), Expr(int(kv)), Expr(ps), Expr(int(d))});
  Buffer PT = Buffer::make("PageTable", DataType::i32(), {Expr(int(cache.max_pages))});
  std::vector<float> inv = inv_freq_table(spec);
  Var pos("pos"), page("page"), slot("slot");
  Stmt body = pair_loops(rows, kv, half, target, [&](Expr r, Expr h, Expr j, int lanes) {
    auto col = [&](int64_t off) { return vidx(h * int(d) + j + int(off), lanes); };
    auto dim = [&](int64_t off) { return vidx(j + int(off), lanes); };
    const DataType out = dtype.with_lanes(lanes);
    Stmt write = rotate_pair(
        inv, pos, vidx(j, lanes), QKV(r, col(k_offset)), QKV(r, col(k_offset + half)),
        [&](Expr y1, Expr y2) {
          return seq({store(C, {page, 0, h, slot, dim(0)}, cast(out, y1)),
                      store(C, {page, 0, h, slot, dim(half)}, cast(out, y2)),
                      store(C, {page, 1, h, slot, dim(0)}, QKV(r, col(v_offset))),
                      store(C, {page, 1, h, slot, dim(half)}, QKV(r, col(v_offset + half)))});
        });
    return let_stmt(pos, total_len - rows + r,
                    let_stmt(page, PT(pos / ps), let_stmt(slot, pos % ps, write)));
  });
  PrimFunc f = make_prim_func("kv_append", {QKV, C, PT}, body, extra_scalars(total_len));
  f.bytes = buffer_bytes(QKV) + buffer_bytes(PT) + paged_cache_bytes(cache, dtype, rows);
  return f;
}

}  // namespace mlcc::kernels
