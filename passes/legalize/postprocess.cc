// Logits post-processing: softmax(L / T) for sampling and argmax for greedy decoding. Both
// see one row of the vocabulary (32000 to 128256+ columns) once per generated token.
// References are compute definitions (argmax as the max, then the smallest index holding
// it). The scheduled versions use the direct builder:
//  - CPU: one vectorized pass keeping per lane a running (max, sum of exponentials) for
//    softmax, a (value, first index) pair for argmax, then a short combine over the lanes;
//  - GPU: one block of up to 1024 threads reading 16-byte vectors, four in flight per
//    thread; softmax keeps a running (max, sum) per thread and combines the threads' pairs
//    with two block reductions; argmax keeps a (value, first index) pair per thread and
//    combines them as the largest value, then the smallest index among the threads holding
//    it, so ties resolve to the first index as in the reference.
// Softmax multiplies by 1/T and 1/sum: an f32 division is a long instruction sequence on
// GPUs, and one block dividing 2 x 128256 times measured 46 us on the H100 (24 us without).
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "ir/te/lower.h"
#include "passes/legalize/llm_kernels.h"
#include "passes/legalize/row_layout.h"
#include "passes/legalize/schedule_util.h"
#include "runtime/error.h"

namespace mlcc::kernels {

using namespace ir;
using namespace ir::te;

namespace {

constexpr int32_t kNoIndex = std::numeric_limits<int32_t>::max();

void check_vocab(const char* kernel, int64_t vocab) {
  if (vocab <= 0 || vocab >= kNoIndex)
    throw Error(std::string(kernel) + ": vocabulary size " + std::to_string(vocab) +
                " is out of range");
}

// The GPU layout of one row: vectors of `lanes` f32, `threads` threads, `iters` vectors per
// thread (the last ones past the row end are skipped).
struct BlockRow {
  int lanes, threads, iters;
  int64_t vectors;
};

BlockRow block_row(int64_t vocab, const Target& target) {
  BlockRow b;
  b.lanes = row::gpu_lanes({vocab}, 4);
  b.vectors = vocab / b.lanes;
  b.threads = row::gpu_threads(b.vectors, std::min(1024, target.max_threads_per_block));
  b.iters = static_cast<int>((b.vectors + b.threads - 1) / b.threads);
  return b;
}

Expr allreduce(ReduceKind kind, Expr value, const Var& tx) {
  DataType t = value.dtype();
  return call(t, Intrinsic::kThreadAllReduce,
              {std::move(value), make_const(DataType::i32(), int64_t(kind)), tx});
}

// Vectors loaded per thread before the first is used: four 16-byte loads in flight.
constexpr int kLoadsInFlight = 4;

// Runs body(vi) for this thread's vectors vi = it * threads + tx in increasing order: whole
// passes of the block in unrolled groups (their loads issue together), then the partial
// last pass under a guard.
Stmt over_vectors(const BlockRow& b, const Var& tx, const std::function<Stmt(Expr)>& body) {
  const int full = static_cast<int>(b.vectors / b.threads);
  const int groups = full / kLoadsInFlight;
  std::vector<Stmt> parts;
  Var io("io"), ii("ii"), it("it");
  if (groups > 0)
    parts.push_back(
        for_loop(io, 0, groups,
                 for_loop(ii, 0, kLoadsInFlight, body((io * kLoadsInFlight + ii) * b.threads + tx),
                          ForKind::kUnrolled)));
  if (groups * kLoadsInFlight < full)
    parts.push_back(for_loop(it, groups * kLoadsInFlight, full - groups * kLoadsInFlight,
                             body(it * b.threads + tx), ForKind::kUnrolled));
  if (b.vectors % b.threads != 0) {
    Expr vi = full * b.threads + tx;
    parts.push_back(if_then_else(vi < static_cast<int>(b.vectors), body(vi)));
  }
  return seq(parts);
}

// Two passes over the row: running (max m, sum s of exp(x - m)) pairs per thread, combined
// by two block reductions, then the output. One block is bound by its SM's bandwidth to L2
// (about 170 GB/s) and by the special-function unit evaluating exp, so the row is read twice
// and written once, and a vector's new maximum rescales s with one exp, not one per element.
// On the H100 at 128256 columns this measured 21 us (argmax, one read: 5.6 us); three
// passes with one exp per element (max; exp written to P and summed; P scaled) measured
// 27 us, as they move more bytes. Going faster needs the row split over several blocks.
PrimFunc softmax_gpu(int64_t vocab, const Target& target) {
  const DataType f32 = DataType::f32();
  Buffer L = Buffer::make("L", f32, {Expr(1), Expr(static_cast<int>(vocab))});
  Buffer T = Buffer::make("T", f32, {Expr(1)});
  Buffer P = Buffer::make("P", f32, {Expr(1), Expr(static_cast<int>(vocab))});
  const BlockRow b = block_row(vocab, target);
  const int lanes = b.lanes;
  Var tx("tx"), inv_t("inv_t", f32), inv_s("inv_s", f32);
  Buffer m = Buffer::make("m", f32, {Expr(1)}, MemScope::kLocal);
  Buffer s = Buffer::make("s", f32, {Expr(1)}, MemScope::kLocal);
  Buffer mall = Buffer::make("mall", f32, {Expr(1)}, MemScope::kLocal);
  auto cols = [&](Expr vi) { return row::span(vi * lanes, lanes); };
  Stmt stats = over_vectors(b, tx, [&](Expr vi) {
    Buffer v = Buffer::make("v", f32, {Expr(lanes)}, MemScope::kLocal);
    Var mn("mn", f32);
    Expr vec_max = v(0), exps = exp(v(0) - mn);
    for (int e = 1; e < lanes; ++e) {
      vec_max = max(vec_max, v(e));
      exps = exps + exp(v(e) - mn);
    }
    return allocate(
        v, seq({store(v, {row::span(Expr(0), lanes)}, L(0, cols(vi)) * inv_t),
                let_stmt(mn, max(m(0), vec_max),
                         seq({store(s, {0}, s(0) * exp(m(0) - mn) + exps), store(m, {0}, mn)}))}));
  });
  Stmt write = over_vectors(b, tx, [&](Expr vi) {
    return store(P, {0, cols(vi)}, exp(L(0, cols(vi)) * inv_t - mall(0)) * inv_s);
  });
  // The lowest finite value, not -inf: exp(m - mn) stays 0, never exp(-inf + inf) = NaN.
  Expr lowest = make_const(f32, double(std::numeric_limits<float>::lowest()));
  Stmt body = seq({store(m, {0}, lowest), store(s, {0}, Expr(0.0)), stats,
                   store(mall, {0}, allreduce(ReduceKind::kMax, m(0), tx)),
                   store(s, {0}, s(0) * exp(m(0) - mall(0))),
                   store(s, {0}, allreduce(ReduceKind::kSum, s(0), tx)),
                   let_stmt(inv_s, Expr(1.0) / s(0), write)});
  body = let_stmt(inv_t, Expr(1.0) / T(0), allocate(m, allocate(s, allocate(mall, body))));
  Var bx("bx");
  Stmt kernel = thread_loop(bx, 1, ThreadAxis::kBlockX,
                            thread_loop(tx, b.threads, ThreadAxis::kThreadX, body));
  return make_prim_func("softmax_temperature", {L, T, P}, kernel);
}

// One pass of running (max, sum) pairs per vector lane, combined across the lanes, then the
// vectorized output pass: every loop stays vector code (exp is inline on the CPU).
PrimFunc softmax_cpu(int64_t vocab, const Target& target) {
  const DataType f32 = DataType::f32();
  Buffer L = Buffer::make("L", f32, {Expr(1), Expr(static_cast<int>(vocab))});
  Buffer T = Buffer::make("T", f32, {Expr(1)});
  Buffer P = Buffer::make("P", f32, {Expr(1), Expr(static_cast<int>(vocab))});
  const int lanes = vector_lanes(target, f32);
  const int64_t main = vocab / lanes * lanes;
  Buffer m = Buffer::make("m", f32, {Expr(lanes)}, MemScope::kLocal);
  Buffer s = Buffer::make("s", f32, {Expr(lanes)}, MemScope::kLocal);
  Var inv_t("inv_t", f32), z("z");
  // Runs body(column, lane) over the row: vectors of `lanes`, then a scalar tail in lane 0.
  auto over_row = [&](const std::function<Stmt(Expr, Expr)>& body) {
    Var jo("jo"), ji("ji"), j("j");
    std::vector<Stmt> parts;
    if (main > 0)
      parts.push_back(
          for_loop(jo, 0, static_cast<int>(main / lanes),
                   for_loop(ji, 0, lanes, body(jo * lanes + ji, ji), ForKind::kVectorized)));
    if (main < vocab)
      parts.push_back(
          for_loop(j, static_cast<int>(main), static_cast<int>(vocab - main), body(j, Expr(0))));
    return seq(parts);
  };
  Stmt stats = over_row([&](Expr c, Expr lane) {
    Var x("x", f32), mn("mn", f32);
    return let_stmt(x, L(0, c) * inv_t,
                    let_stmt(mn, max(m(lane), x),
                             seq({store(s, {lane}, s(lane) * exp(m(lane) - mn) + exp(x - mn)),
                                  store(m, {lane}, mn)})));
  });
  Expr best = m(0);
  for (int l = 1; l < lanes; ++l) best = max(best, m(l));
  Var mall("mall", f32), inv_sum("inv_sum", f32);
  Expr total = s(0) * exp(m(0) - mall);
  for (int l = 1; l < lanes; ++l) total = total + s(l) * exp(m(l) - mall);
  Stmt write = over_row([&](Expr c, Expr) {
    return store(P, {0, c}, exp(L(0, c) * inv_t - mall) * inv_sum);
  });
  Expr lowest = make_const(f32, double(std::numeric_limits<float>::lowest()));
  Stmt body = seq({for_loop(z, 0, lanes, seq({store(m, {z}, lowest), store(s, {z}, Expr(0.0))}),
                            ForKind::kVectorized),
                   stats, let_stmt(mall, best, let_stmt(inv_sum, Expr(1.0) / total, write))});
  return make_prim_func("softmax_temperature", {L, T, P},
                        let_stmt(inv_t, Expr(1.0) / T(0), allocate(m, allocate(s, body))));
}

// Keeps (bv, bi) = (largest value, its first index) over value `x` at index `idx`, visited
// in increasing index order.
Stmt keep_best(const Buffer& bv, const Buffer& bi, const Expr& slot, const Expr& x,
               const Expr& idx) {
  return seq({store(bi, {slot}, select(x > bv(slot), idx, bi(slot))),
              store(bv, {slot}, select(x > bv(slot), x, bv(slot)))});
}

PrimFunc argmax_gpu(int64_t vocab, const Target& target) {
  const DataType f32 = DataType::f32(), i32 = DataType::i32();
  Buffer L = Buffer::make("L", f32, {Expr(1), Expr(static_cast<int>(vocab))});
  Buffer I = Buffer::make("I", i32, {Expr(1)});
  const BlockRow b = block_row(vocab, target);
  Var tx("tx");
  Buffer bv = Buffer::make("bv", f32, {Expr(1)}, MemScope::kLocal);
  Buffer bi = Buffer::make("bi", i32, {Expr(1)}, MemScope::kLocal);
  Buffer mall = Buffer::make("mall", f32, {Expr(1)}, MemScope::kLocal);
  Buffer iall = Buffer::make("iall", i32, {Expr(1)}, MemScope::kLocal);
  Stmt scan = over_vectors(b, tx, [&](Expr vi) {
    Buffer v = Buffer::make("v", f32, {Expr(b.lanes)}, MemScope::kLocal);
    std::vector<Stmt> steps = {
        store(v, {row::span(Expr(0), b.lanes)}, L(0, row::span(vi * b.lanes, b.lanes)))};
    for (int e = 0; e < b.lanes; ++e)
      steps.push_back(keep_best(bv, bi, Expr(0), v(e), vi * b.lanes + e));
    return allocate(v, seq(steps));
  });
  Expr candidate = select(eq(bv(0), mall(0)), bi(0), Expr(kNoIndex));
  Stmt body = seq(
      {store(bv, {0}, reduce_identity(ReduceKind::kMax, f32)), store(bi, {0}, Expr(kNoIndex)), scan,
       store(mall, {0}, allreduce(ReduceKind::kMax, bv(0), tx)),
       store(iall, {0}, allreduce(ReduceKind::kMin, candidate, tx)),
       // No value compared greater than -inf (all -inf or NaN): index 0, as the reference.
       if_then_else(eq(tx, 0), store(I, {0}, select(eq(iall(0), kNoIndex), Expr(0), iall(0))))});
  body = allocate(bv, allocate(bi, allocate(mall, allocate(iall, body))));
  Var bx("bx");
  Stmt kernel = thread_loop(bx, 1, ThreadAxis::kBlockX,
                            thread_loop(tx, b.threads, ThreadAxis::kThreadX, body));
  return make_prim_func("argmax", {L, I}, kernel);
}

PrimFunc argmax_cpu(int64_t vocab, const Target& target) {
  const DataType f32 = DataType::f32(), i32 = DataType::i32();
  Buffer L = Buffer::make("L", f32, {Expr(1), Expr(static_cast<int>(vocab))});
  Buffer I = Buffer::make("I", i32, {Expr(1)});
  const int lanes = vector_lanes(target, f32);
  const int64_t main = vocab / lanes * lanes;
  Buffer bv = Buffer::make("bv", f32, {Expr(lanes)}, MemScope::kLocal);
  Buffer bi = Buffer::make("bi", i32, {Expr(lanes)}, MemScope::kLocal);
  Var z("z"), jo("jo"), ji("ji"), j("j");
  std::vector<Stmt> parts = {for_loop(
      z, 0, lanes,
      seq({store(bv, {z}, reduce_identity(ReduceKind::kMax, f32)), store(bi, {z}, Expr(kNoIndex))}),
      ForKind::kVectorized)};
  // Lane l sees indices l, l + lanes, ... in order, then lane 0 the tail: each lane keeps
  // the first index of its largest value.
  if (main > 0) {
    Expr c = jo * lanes + ji;
    parts.push_back(
        for_loop(jo, 0, static_cast<int>(main / lanes),
                 for_loop(ji, 0, lanes, keep_best(bv, bi, ji, L(0, c), c), ForKind::kVectorized)));
  }
  if (main < vocab)
    parts.push_back(for_loop(j, static_cast<int>(main), static_cast<int>(vocab - main),
                             keep_best(bv, bi, Expr(0), L(0, j), j)));
  Expr best = bv(0);
  for (int l = 1; l < lanes; ++l) best = max(best, bv(l));
  Var m("m", f32);
  Expr first = select(eq(bv(0), m), bi(0), Expr(kNoIndex));
  for (int l = 1; l < lanes; ++l) first = min(first, select(eq(bv(l), m), bi(l), Expr(kNoIndex)));
  Var r("r", i32);
  parts.push_back(
      let_stmt(m, best, let_stmt(r, first, store(I, {0}, select(eq(r, kNoIndex), Expr(0), r)))));
  return make_prim_func("argmax", {L, I}, allocate(bv, allocate(bi, seq(parts))));
}

}  // namespace

PrimFunc softmax_temperature(int64_t vocab, const Target* target) {
  check_vocab("softmax_temperature", vocab);
  if (target) return target->is_gpu() ? softmax_gpu(vocab, *target) : softmax_cpu(vocab, *target);
  Expr w = Expr(static_cast<int>(vocab));
  Tensor L = placeholder("L", {Expr(1), w});
  Tensor T = placeholder("T", {Expr(1)});
  IterVar k1 = reduce_axis(w, "k");
  Tensor M = compute("M", {Expr(1)}, [&](const std::vector<Var>& ax) {
    return max_reduce(L(ax[0], k1.var()) / T(0), {k1});
  });
  IterVar k2 = reduce_axis(w, "k");
  Tensor S = compute("S", {Expr(1)}, [&](const std::vector<Var>& ax) {
    return sum(exp(L(ax[0], k2.var()) / T(0) - M(ax[0])), {k2});
  });
  Tensor P = compute("P", {Expr(1), w}, [&](const std::vector<Var>& ax) {
    return exp(L(ax[0], ax[1]) / T(0) - M(ax[0])) / S(ax[0]);
  });
  return lower(Schedule({P}), {L, T, P}, "softmax_temperature");
}

PrimFunc argmax(int64_t vocab, const Target* target) {
  check_vocab("argmax", vocab);
  if (target) return target->is_gpu() ? argmax_gpu(vocab, *target) : argmax_cpu(vocab, *target);
  Expr w = Expr(static_cast<int>(vocab));
  Tensor L = placeholder("L", {Expr(1), w});
  IterVar k1 = reduce_axis(w, "k");
  Tensor M = compute("M", {Expr(1)}, [&](const std::vector<Var>& ax) {
    return max_reduce(L(ax[0], k1.var()), {k1});
  });
  IterVar k2 = reduce_axis(w, "k");
  Tensor I = compute("I", {Expr(1)}, [&](const std::vector<Var>& ax) {
    Expr k = k2.var();
    return min_reduce(select(eq(L(ax[0], k), M(ax[0])), k, w), {k2});
  });
  return lower(Schedule({I}), {L, I}, "argmax");
}

}  // namespace mlcc::kernels
