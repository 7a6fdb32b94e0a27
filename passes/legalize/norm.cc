// Softmax, RMSNorm and residual-add + RMSNorm. The definitions are compute definitions (the
// references the interpreter runs). Softmax keeps its tensor-expression schedule: row
// statistics at the output's row loop (CPU: parallel rows, vectorized columns; GPU: a block
// per row, cross-thread reductions into shared memory).
//
// The RMSNorms are written with the direct IR builder, because what makes them fast is
// awkward as a schedule:
//  - GPU: a block per row; each thread loads its columns once, as 16-byte vectors, into
//    registers, the sum of squares is one block-wide reduction, and the output is computed
//    from the registers (the row is read from memory once). A decode step runs 2 per layer on
//    one row, so the kernel is latency-bound: one wide load per thread, not a loop of narrow
//    ones.
//  - CPU: the sum of squares accumulates in one vector register of partial sums per lane
//    (a scalar f32 reduction cannot be vectorized without reassociation), then the output
//    loop is vectorized.
// add_rms_norm writes Sum = X + R rounded to the storage dtype and normalizes the rounded
// values, as the unfused pair of kernels would.
#include <algorithm>
#include <functional>
#include <string>

#include "ir/te/lower.h"
#include "passes/legalize/kernels.h"
#include "passes/legalize/llm_kernels.h"
#include "passes/legalize/row_layout.h"
#include "passes/legalize/schedule_util.h"
#include "runtime/error.h"

namespace mlcc::kernels {

using namespace ir;
using namespace ir::te;

namespace {

// Schedules `out` (rows x cols) with the row statistics `stats` attached at its row loop.
void schedule_row_kernel(Schedule& s, const Tensor& out, const std::vector<Tensor>& stats,
                         const Target& target) {
  Stage o = s[out];
  IterVar row = o.axis(0);
  if (target.is_gpu()) {
    auto [jo, ji] = o.split(o.axis(1), kGpuThreads);
    o.bind(row, ThreadAxis::kBlockX).bind(ji, ThreadAxis::kThreadX);
    for (const Tensor& t : stats) {
      Stage st = s[t];
      st.compute_at(o, row).set_scope(MemScope::kShared);
      schedule_gpu_row_reduction(st, st.axis(0), /*bind_block=*/false);
    }
  } else {
    auto [jo, ji] = o.split(o.axis(1), vector_lanes(target, DataType::f32()));
    o.parallel(row).vectorize(ji);
    for (const Tensor& t : stats) s[t].compute_at(o, row);
  }
}

// The buffers of an RMSNorm kernel: X, (R), W, then (Sum), Y.
struct NormBuffers {
  Buffer x, r, w, sum, y;
  std::vector<Buffer> params() const {
    return r ? std::vector<Buffer>{x, r, w, sum, y} : std::vector<Buffer>{x, w, y};
  }
};

NormBuffers norm_buffers(const Expr& rows, int64_t cols, DataType dt, bool add) {
  Expr w = Expr(static_cast<int>(cols));
  NormBuffers b;
  b.x = Buffer::make("X", dt, {rows, w});
  if (add) b.r = Buffer::make("R", dt, {rows, w});
  b.w = Buffer::make("W", dt, {w});
  if (add) b.sum = Buffer::make("Sum", dt, {rows, w});
  b.y = Buffer::make("Y", dt, {rows, w});
  return b;
}

// The reference: Sum (when adding), the sum of squares and Y as compute definitions.
PrimFunc norm_reference(const Expr& rows, int64_t cols, double eps, DataType dt, bool add,
                        const std::string& name) {
  Expr w = Expr(static_cast<int>(cols));
  const DataType f32 = DataType::f32();
  Tensor X = placeholder("X", {rows, w}, dt);
  Tensor R = add ? placeholder("R", {rows, w}, dt) : Tensor();
  Tensor W = placeholder("W", {w}, dt);
  Tensor in = X;
  if (add)
    in = compute("Sum", {rows, w}, [&](const std::vector<Var>& ax) {
      return cast(dt, cast(f32, X(ax[0], ax[1])) + cast(f32, R(ax[0], ax[1])));
    });
  IterVar k = reduce_axis(w, "k");
  Tensor SS = compute("SS", {rows}, [&](const std::vector<Var>& ax) {
    Expr x = cast(f32, in(ax[0], k.var()));
    return sum(x * x, {k});
  });
  Tensor Y = compute("Y", {rows, w}, [&](const std::vector<Var>& ax) {
    Expr scale = rsqrt(SS(ax[0]) / make_const(f32, double(cols)) + make_const(f32, eps));
    return cast(dt, cast(f32, in(ax[0], ax[1])) * scale * cast(f32, W(ax[1])));
  });
  if (!add) return lower(Schedule({Y}), {X, W, Y}, name);
  return lower(Schedule({in, Y}), {X, R, W, in, Y}, name);
}

// The f32 value of input element (r, c) — X, or X + R rounded to dt (stored into Sum) — and
// the statement that consumes it.
Stmt with_input(const NormBuffers& b, DataType dt, const Expr& r, const Expr& c, int lanes,
                const std::function<Stmt(Expr)>& use) {
  if (!b.r) return use(cast(row::f32(lanes), b.x(r, c)));
  Var s("s", dt.with_lanes(lanes));
  Expr v = cast(dt.with_lanes(lanes),
                cast(row::f32(lanes), b.x(r, c)) + cast(row::f32(lanes), b.r(r, c)));
  return let_stmt(s, v, seq({store(b.sum, {r, c}, s), use(cast(row::f32(lanes), s))}));
}

PrimFunc norm_cpu(const Expr& rows, int64_t cols, double eps, DataType dt, bool add,
                  const std::string& name, const Target& target) {
  NormBuffers b = norm_buffers(rows, cols, dt, add);
  const int L = vector_lanes(target, DataType::f32());
  const int64_t main = cols / L * L;
  const DataType f32 = DataType::f32();
  Var r("r"), jo("jo"), ji("ji"), j("j"), z("z");
  Buffer acc = Buffer::make("acc", f32, {Expr(L)}, MemScope::kLocal);
  // Runs body(column, lane) over the row: L-lane vectors, then a scalar tail.
  auto over_row = [&](const std::function<Stmt(Expr, Expr)>& body) {
    std::vector<Stmt> parts;
    if (main > 0)
      parts.push_back(for_loop(jo, 0, static_cast<int>(main / L),
                               for_loop(ji, 0, L, body(jo * L + ji, ji), ForKind::kVectorized)));
    if (main < cols)
      parts.push_back(
          for_loop(j, static_cast<int>(main), static_cast<int>(cols - main), body(j, Expr(0))));
    return seq(parts);
  };
  Stmt squares = over_row([&](Expr c, Expr lane) {
    return with_input(b, dt, r, c, 1,
                      [&](Expr x) { return store(acc, {lane}, acc(lane) + x * x); });
  });
  Expr total = acc(0);
  for (int i = 1; i < L; ++i) total = total + acc(i);
  Var scale("scale", f32);
  const Buffer& src = add ? b.sum : b.x;
  Stmt output = over_row([&](Expr c, Expr) {
    return store(b.y, {r, c}, cast(dt, cast(f32, src(r, c)) * scale * cast(f32, b.w(c))));
  });
  Stmt body = allocate(
      acc, seq({for_loop(z, 0, L, store(acc, {z}, Expr(0.0)), ForKind::kVectorized), squares,
                let_stmt(scale, rsqrt(total / make_const(f32, double(cols)) + make_const(f32, eps)),
                         output)}));
  return make_prim_func(name, b.params(), for_loop(r, 0, rows, body, ForKind::kParallel));
}

// Values one GPU thread keeps in registers at most (64 floats: hidden sizes to 65536).
constexpr int kMaxRegisterValues = 64;

PrimFunc norm_gpu(const Expr& rows, int64_t cols, double eps, DataType dt, bool add,
                  const std::string& name, const Target& target) {
  NormBuffers b = norm_buffers(rows, cols, dt, add);
  const int lanes = row::gpu_lanes({cols}, dt.bytes());
  const int64_t nv = cols / lanes;  // vectors per row
  const int threads = row::gpu_threads(nv, std::min(1024, target.max_threads_per_block));
  const int iters = static_cast<int>((nv + threads - 1) / threads);
  const bool guard = nv % threads != 0;
  if (iters * lanes > kMaxRegisterValues)
    throw Error(name + ": rows of " + std::to_string(cols) +
                " columns do not fit the registers of one block (at most " +
                std::to_string(kMaxRegisterValues * threads) + ")");
  const DataType f32 = DataType::f32();
  Var row("row"), tx("tx"), it("it"), e("e");
  Buffer xl = Buffer::make("xl", f32, {Expr(iters * lanes)}, MemScope::kLocal);
  Buffer acc = Buffer::make("acc", f32, {Expr(1)}, MemScope::kLocal);
  Expr vi = it * threads + tx;  // this thread's vector of iteration `it`
  Expr col = vi * lanes;
  Expr slot = row::span(it * lanes, lanes);
  auto guarded = [&](Stmt s, Stmt otherwise = Stmt()) {
    return guard ? if_then_else(vi < static_cast<int>(nv), s, otherwise) : s;
  };
  Stmt load = guarded(with_input(b, dt, row, row::span(col, lanes), lanes,
                                 [&](Expr x) { return store(xl, {slot}, x); }),
                      store(xl, {slot}, row::splat(Expr(0.0), lanes)));
  Stmt square = store(acc, {0}, acc(0) + xl(it * lanes + e) * xl(it * lanes + e));
  Expr reduced = call(f32, Intrinsic::kThreadAllReduce,
                      {acc(0), make_const(DataType::i32(), int64_t(ReduceKind::kSum)), tx});
  Var scale("scale", f32);
  Expr out = xl(slot) * scale * cast(row::f32(lanes), b.w(row::span(col, lanes)));
  Stmt write = guarded(store(b.y, {row, row::span(col, lanes)}, cast(dt.with_lanes(lanes), out)));
  Stmt body =
      seq({for_loop(it, 0, iters, load, ForKind::kUnrolled), store(acc, {0}, Expr(0.0)),
           for_loop(it, 0, iters, for_loop(e, 0, lanes, square, ForKind::kUnrolled),
                    ForKind::kUnrolled),
           store(acc, {0}, reduced),
           let_stmt(scale, rsqrt(acc(0) / make_const(f32, double(cols)) + make_const(f32, eps)),
                    for_loop(it, 0, iters, write, ForKind::kUnrolled))});
  Stmt kernel = thread_loop(
      row, rows, ThreadAxis::kBlockX,
      thread_loop(tx, threads, ThreadAxis::kThreadX, allocate(xl, allocate(acc, body))));
  return make_prim_func(name, b.params(), kernel);
}

PrimFunc norm(const Expr& rows, int64_t cols, double eps, DataType dtype, bool add,
              const Target* target) {
  const std::string name = add ? "add_rms_norm" : "rms_norm";
  if (dtype != DataType::f16() && dtype != DataType::f32())
    throw Error(name + ": dtype " + to_string(dtype) + " is not supported (f16 or f32)");
  if (cols <= 0 || cols > (int64_t{1} << 30))
    throw Error(name + ": " + std::to_string(cols) + " columns is out of range");
  if (!target) return norm_reference(rows, cols, eps, dtype, add, name);
  if (target->is_gpu()) return norm_gpu(rows, cols, eps, dtype, add, name, *target);
  return norm_cpu(rows, cols, eps, dtype, add, name, *target);
}

}  // namespace

PrimFunc softmax(Expr rows, int64_t cols, const Target* target) {
  Expr w = Expr(static_cast<int>(cols));
  Tensor X = placeholder("X", {rows, w});
  IterVar k1 = reduce_axis(w, "k");
  Tensor M = compute("M", {rows}, [&](const std::vector<Var>& ax) {
    return max_reduce(X(ax[0], k1.var()), {k1});
  });
  IterVar k2 = reduce_axis(w, "k");
  Tensor S = compute("S", {rows}, [&](const std::vector<Var>& ax) {
    return sum(exp(X(ax[0], k2.var()) - M(ax[0])), {k2});
  });
  Tensor Y = compute("Y", {rows, w}, [&](const std::vector<Var>& ax) {
    return exp(X(ax[0], ax[1]) - M(ax[0])) / S(ax[0]);
  });
  Schedule s({Y});
  if (target) schedule_row_kernel(s, Y, {M, S}, *target);
  return lower(s, {X, Y}, "softmax", target);
}

PrimFunc rms_norm(Expr rows, int64_t cols, double eps, const Target* target) {
  return norm(rows, cols, eps, DataType::f16(), /*add=*/false, target);
}

PrimFunc rms_norm(Expr rows, int64_t cols, double eps, DataType dtype, const Target* target) {
  return norm(rows, cols, eps, dtype, /*add=*/false, target);
}

PrimFunc add_rms_norm(Expr rows, int64_t cols, double eps, DataType dtype, const Target* target) {
  return norm(rows, cols, eps, dtype, /*add=*/true, target);
}

}  // namespace mlcc::kernels
