// Causal attention over the paged KV cache (llm_kernels.h): each query row attends to the
// positions 0 .. its own, query head h reads kv head h / (heads / kv_heads), scores scaled
// by 1/sqrt(D), softmax in f32. The reference and the CPU schedule are here; the GPU
// kernel (decode and prefill paths) is in attention_gpu.cc.
//
// CPU: parallel over (row, kv head), each task serving the query heads that share the kv
// head, so every key and value row is read once per group (from L1) rather than once per
// query head (from L2). The scaled query rows are kept in f32; the scores of all positions
// go to a scratch buffer (group * max_pages * page_size floats: the stack when small, else
// the heap) so that max, exponentials and the weighted sum of values are two passes over
// the cache with no rescaling. Dot products and value sums are vectorized along D with
// FMAs, the exponentials along the positions.
#include <cmath>

#include "passes/legalize/attention_gpu.h"
#include "passes/legalize/llm_kernels.h"
#include "passes/legalize/schedule_util.h"
#include "runtime/error.h"

namespace mlcc::kernels {

using namespace ir;

namespace {

const DataType kF32 = DataType::f32();

// The plain definition: for each (row, head) the scores into a buffer, their max, the
// exponentials and their sum, then each output element as the weighted sum of values.
PrimFunc attention_reference(const Expr& rows, const Expr& total_len, int64_t heads,
                             const PagedCache& c, DataType dtype) {
  auto [Q, C, PT, O] = attention_buffers(rows, heads, c, dtype);
  const int d = static_cast<int>(c.head_dim), ps = static_cast<int>(c.page_size);
  const int group = static_cast<int>(heads / c.kv_heads);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Buffer S = Buffer::make("S", kF32, {Expr(int(c.max_pages * ps))}, MemScope::kLocal);
  Buffer st = Buffer::make("st", kF32, {Expr(3)}, MemScope::kLocal);  // max, sum, acc
  Var i("i"), h("h"), g("g"), len("len"), t("t"), j("j");
  auto key = [&](int kv_index, const Expr& pos, const Expr& col) {
    return cast(kF32, C(PT(pos / ps), kv_index, g, pos % ps, col));
  };
  Stmt scores = for_loop(
      t, 0, len,
      seq({store(st, {2}, 0.0),
           for_loop(j, 0, d, store(st, {2}, st(2) + cast(kF32, Q(i, h * d + j)) * key(0, t, j))),
           store(S, {t}, st(2) * scale), store(st, {0}, max(st(0), S(t)))}));
  Stmt exps =
      for_loop(t, 0, len, seq({store(S, {t}, exp(S(t) - st(0))), store(st, {1}, st(1) + S(t))}));
  Stmt values = for_loop(
      j, 0, d,
      seq({store(st, {2}, 0.0), for_loop(t, 0, len, store(st, {2}, st(2) + S(t) * key(1, t, j))),
           store(O, {i, h * d + j}, cast(dtype, st(2) / st(1)))}));
  Stmt one = let_stmt(
      g, h / group,
      let_stmt(len, total_len - rows + i + 1,
               allocate(S, allocate(st, seq({store(st, {0}, make_const(kF32, -INFINITY)),
                                             store(st, {1}, 0.0), scores, exps, values})))));
  Stmt body = for_loop(i, 0, rows, for_loop(h, 0, int(heads), one));
  PrimFunc f = make_prim_func("attention", {Q, C, PT, O}, body, attention_extra_scalars(total_len));
  f.bytes = attention_bytes({Q, C, PT, O}, c, dtype, total_len);
  return f;
}

// The lanes of buf[row, 0 .. n) summed by halves (lane k + lane k + n/2, ...), which maps
// onto extract-high-half-and-add on SIMD targets.
Expr lane_sum(const Buffer& buf, const Expr& row, int n) {
  std::vector<Expr> t;
  for (int k = 0; k < n; ++k) t.push_back(buf(row, k));
  while (t.size() > 1) {
    size_t half = t.size() / 2;
    std::vector<Expr> next;
    for (size_t k = 0; k < half; ++k) next.push_back(t[k] + t[k + half]);
    if (t.size() % 2) next.push_back(t.back());
    t = std::move(next);
  }
  return t[0];
}

Expr fma(const Expr& a, const Expr& b, const Expr& c) {
  return call(kF32, Intrinsic::kFma, {a, b, c});
}

PrimFunc attention_cpu(const Expr& rows, const Expr& total_len, int64_t heads, const PagedCache& c,
                       DataType dtype, const Target& target) {
  auto [Q, C, PT, O] = attention_buffers(rows, heads, c, dtype);
  const int d = static_cast<int>(c.head_dim), ps = static_cast<int>(c.page_size);
  const int group = static_cast<int>(heads / c.kv_heads), kv = static_cast<int>(c.kv_heads);
  const int max_ctx = static_cast<int>(c.max_pages * ps);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  int lanes = vector_lanes(target, kF32);
  while (lanes > 1 && d % lanes != 0) lanes /= 2;
  const int chunks = d / lanes;
  const ForKind vec = lanes > 1 ? ForKind::kVectorized : ForKind::kSerial;

  auto local = [](const char* name, int a, int b) {
    return Buffer::make(name, kF32, {Expr(a), Expr(b)}, MemScope::kLocal);
  };
  Buffer qf = local("qf", group, d), of = local("of", group, d);
  Buffer part = local("part", group, lanes), lsum = local("lsum", group, lanes);
  Buffer S = Buffer::make("S", kF32, {Expr(group), Expr(max_ctx)}, MemScope::kGlobal);
  Buffer st = local("st", group, 2);  // per head of the group: running max, sum
  Var n("n"), i("i"), g("g"), hh("hh"), len("len"), t("t"), tt("tt"), jo("jo"), e("e");
  Var page("page"), slot("slot");
  Expr col = jo * lanes + e, head_col = (g * group + hh) * d + col;
  auto vector_loop = [&](const Stmt& s) { return for_loop(e, 0, lanes, s, vec); };
  auto per_head = [&](const Stmt& s) { return for_loop(hh, 0, group, s, ForKind::kUnrolled); };
  auto per_chunk = [&](const Stmt& s) { return for_loop(jo, 0, chunks, s, ForKind::kUnrolled); };
  auto at_position = [&](const Stmt& s) {
    return let_stmt(page, PT(t / ps), let_stmt(slot, t % ps, s));
  };

  // Scores: each key row is read once for the whole group of query heads.
  Stmt scores = for_loop(
      t, 0, len,
      at_position(seq({per_head(vector_loop(store(part, {hh, e}, 0.0))),
                       per_chunk(per_head(vector_loop(store(
                           part, {hh, e},
                           fma(qf(hh, col), cast(kF32, C(page, 0, g, slot, col)), part(hh, e)))))),
                       per_head(seq({store(S, {hh, t}, lane_sum(part, hh, lanes)),
                                     store(st, {hh, 0}, max(st(hh, 0), S(hh, t)))}))})));
  // Exponentials and their sum, vectorized along the positions (a scalar tail after).
  Var tail("tail");
  Stmt exps = per_head(seq(
      {vector_loop(store(lsum, {hh, e}, 0.0)),
       for_loop(
           tt, 0, len / lanes,
           vector_loop(seq({store(S, {hh, tt * lanes + e}, exp(S(hh, tt * lanes + e) - st(hh, 0))),
                            store(lsum, {hh, e}, lsum(hh, e) + S(hh, tt * lanes + e))}))),
       store(st, {hh, 1}, lane_sum(lsum, hh, lanes)),
       for_loop(tail, len / lanes * lanes, len - len / lanes * lanes,
                seq({store(S, {hh, tail}, exp(S(hh, tail) - st(hh, 0))),
                     store(st, {hh, 1}, st(hh, 1) + S(hh, tail))}))}));
  Stmt values = for_loop(
      t, 0, len,
      at_position(per_chunk(per_head(vector_loop(store(
          of, {hh, col}, fma(S(hh, t), cast(kF32, C(page, 1, g, slot, col)), of(hh, col))))))));
  Stmt task = seq(
      {per_head(per_chunk(vector_loop(store(qf, {hh, col}, cast(kF32, Q(i, head_col)) * scale)))),
       per_head(per_chunk(vector_loop(store(of, {hh, col}, 0.0)))),
       per_head(seq({store(st, {hh, 0}, make_const(kF32, -INFINITY)), store(st, {hh, 1}, 0.0)})),
       scores, exps, values,
       per_head(
           per_chunk(vector_loop(store(O, {i, head_col}, cast(dtype, of(hh, col) / st(hh, 1))))))});
  for (const Buffer& b : {qf, of, part, lsum, S, st}) task = allocate(b, task);
  // Parallel over (row, kv head): decode still has kv_heads tasks.
  Stmt body = for_loop(
      n, 0, rows * kv,
      let_stmt(i, n / kv, let_stmt(g, n % kv, let_stmt(len, total_len - rows + i + 1, task))),
      ForKind::kParallel);
  PrimFunc f = make_prim_func("attention", {Q, C, PT, O}, body, attention_extra_scalars(total_len));
  f.bytes = attention_bytes({Q, C, PT, O}, c, dtype, total_len);
  return f;
}

}  // namespace

AttentionBuffers attention_buffers(const Expr& rows, int64_t heads, const PagedCache& c,
                                   DataType dtype) {
  const int width = static_cast<int>(heads * c.head_dim);
  return {Buffer::make("Q", dtype, {rows, Expr(width)}),
          Buffer::make("Cache", dtype,
                       {c.num_pages, Expr(2), Expr(int(c.kv_heads)), Expr(int(c.page_size)),
                        Expr(int(c.head_dim))}),
          Buffer::make("PageTable", DataType::i32(), {Expr(int(c.max_pages))}),
          Buffer::make("O", dtype, {rows, Expr(width)})};
}

Expr paged_cache_bytes(const PagedCache& c, DataType dtype, const Expr& tokens) {
  return cast(DataType::i64(), tokens) *
         make_const(DataType::i64(), int64_t{2 * c.kv_heads * c.head_dim * dtype.bytes()});
}

Expr attention_bytes(const AttentionBuffers& b, const PagedCache& c, DataType dtype,
                     const Expr& total_len) {
  return buffer_bytes(b.q) + buffer_bytes(b.out) + buffer_bytes(b.page_table) +
         paged_cache_bytes(c, dtype, total_len);
}

std::vector<Var> attention_extra_scalars(const Expr& total_len) {
  if (!total_len.as<VarNode>()) return {};
  return {Var(std::static_pointer_cast<const VarNode>(total_len.ptr()))};
}

PrimFunc attention(Expr rows, Expr total_len, int64_t heads, const PagedCache& cache,
                   DataType dtype, const Target* target) {
  if (heads <= 0 || cache.kv_heads <= 0 || heads % cache.kv_heads != 0)
    throw Error("attention: " + std::to_string(heads) + " query heads cannot share " +
                std::to_string(cache.kv_heads) + " kv heads (heads must be a positive multiple)");
  if (cache.head_dim <= 0 || cache.page_size <= 0 || cache.max_pages <= 0)
    throw Error("attention: head_dim, page_size and max_pages must be positive");
  if (dtype != DataType::f16() && dtype != DataType::f32())
    throw Error("attention: dtype " + to_string(dtype) + " is not supported (f16 or f32)");
  if (!target) return attention_reference(rows, total_len, heads, cache, dtype);
  if (target->is_gpu()) return attention_gpu(rows, total_len, heads, cache, dtype, *target);
  return attention_cpu(rows, total_len, heads, cache, dtype, *target);
}

}  // namespace mlcc::kernels
