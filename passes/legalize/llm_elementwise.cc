// The model's memory-bound row kernels without a reduction: embedding lookup (q0 tables
// and q4 tables dequantized on the fly), add / mul / silu, silu(gate) * up, column slices,
// the last row and dtype casts. Each is a compute definition over [rows, cols]; the
// unscheduled definition is the reference. CPU: parallel rows, columns vectorized at a
// width that divides the row (no scalar tail). GPU: rows on blockIdx.x (no 65535 limit as on
// y), columns split into 16-byte vectors spread over the threads of blockIdx.y blocks, so
// that a decode step's single row still fills many SMs.
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

Expr c32(int64_t v) { return Expr(static_cast<int>(v)); }

void check_dtype(const char* kernel, DataType dtype) {
  if (dtype != DataType::f16() && dtype != DataType::f32())
    throw Error(std::string(kernel) + ": dtype " + to_string(dtype) +
                " is not supported; the activation dtype is f16 or f32");
}

void check_cols(const char* kernel, int64_t cols) {
  if (cols <= 0 || cols > (int64_t{1} << 30))
    throw Error(std::string(kernel) + ": " + std::to_string(cols) +
                " columns is out of range (1 .. 2^30)");
}

// Schedules `out` ([rows, cols]) for `target`. gpu_lanes/cpu_lanes: the vector widths
// (elements) of one access; both divide cols.
void schedule_rows(Schedule& s, const Tensor& out, int64_t cols, int gpu_lanes, int cpu_lanes,
                   const Target& target) {
  Stage o = s[out];
  IterVar r = o.axis(0);
  if (target.is_gpu()) {
    auto [jo, ji] = o.split(o.axis(1), gpu_lanes);
    int threads = row::gpu_threads(cols / gpu_lanes, kGpuThreads);
    auto [jb, jt] = o.split(jo, threads);
    o.bind(r, ThreadAxis::kBlockX).bind(jb, ThreadAxis::kBlockY).bind(jt, ThreadAxis::kThreadX);
    o.vectorize(ji);
  } else {
    auto [jo, ji] = o.split(o.axis(1), cpu_lanes);
    o.parallel(r).vectorize(ji);
  }
}

// Lowers a single-output kernel, scheduled when a target is given.
PrimFunc finish(const Tensor& out, const std::vector<Tensor>& args, const std::string& name,
                int64_t cols, int gpu_lanes, int cpu_lanes, const Target* target) {
  Schedule s({out});
  if (target) schedule_rows(s, out, cols, gpu_lanes, cpu_lanes, *target);
  return lower(s, args, name, target);
}

// The f32 lanes of the target's vector registers that divide every value.
int cpu_lanes_for(const Target* target, std::initializer_list<int64_t> values) {
  int max_lanes = target ? vector_lanes(*target, DataType::f32()) : 1;
  return row::lanes_dividing(values, max_lanes);
}

}  // namespace

PrimFunc embedding(Expr rows, int64_t vocab, int64_t hidden, const Quantization& q,
                   const Target* target) {
  check_cols("embedding", hidden);
  if (vocab <= 0 || vocab > (int64_t{1} << 30))
    throw Error("embedding: vocabulary size " + std::to_string(vocab) + " is out of range");
  const DataType dt = Quantization::parse(q.name).act_dtype();  // validates the name
  const bool q4 = q.quantized();
  if (q4 && hidden % 32 != 0)
    throw Error("embedding: hidden size " + std::to_string(hidden) +
                " is not a multiple of 32, the q4 group size");
  Tensor ids = placeholder("Ids", {rows}, DataType::i32());
  // An id outside the table reads row 0 rather than memory past the table.
  auto safe_id = [&](const Var& r) {
    Expr id = ids(r);
    return select(id >= 0 && id < c32(vocab), id, Expr(0));
  };
  std::vector<Tensor> args = {ids};
  Tensor y;
  if (!q4) {
    Tensor table = placeholder("T", {c32(vocab), c32(hidden)}, dt);
    args.push_back(table);
    y = compute("Y", {rows, c32(hidden)},
                [&](const std::vector<Var>& ax) { return table(safe_id(ax[0]), ax[1]); });
  } else {
    Tensor qw = placeholder("QW", {c32(vocab), c32(hidden / 8)}, DataType::u32());
    Tensor qs = placeholder("QS", {c32(vocab), c32(hidden / 32)}, dt);
    args.push_back(qw);
    args.push_back(qs);
    y = compute("Y", {rows, c32(hidden)}, [&](const std::vector<Var>& ax) {
      Expr id = safe_id(ax[0]);
      Expr j = ax[1];
      Expr shift = cast(DataType::u32(), (j % 8) * 4);
      Expr nibble = (qw(id, j / 8) >> shift) & make_const(DataType::u32(), int64_t{15});
      // (q - 7) * scale is exact in f32, so rounding it once to f16 equals f16 arithmetic.
      Expr v = (cast(DataType::f32(), nibble) - Expr(7.0)) * cast(DataType::f32(), qs(id, j / 32));
      return cast(dt, v);
    });
  }
  args.push_back(y);
  // q4: eight lanes, one packed word, so that j / 8 is the same word for every lane.
  int gpu_l = q4 ? 8 : row::gpu_lanes({hidden}, dt.bytes());
  int cpu_l = q4 ? 8 : cpu_lanes_for(target, {hidden});
  PrimFunc f = finish(y, args, q4 ? "embedding_q4" : "embedding", hidden, gpu_l, cpu_l, target);
  // A launch reads one table row per id, not the table.
  const int64_t row_bytes = q4 ? hidden / 2 + hidden / 32 * dt.bytes() : hidden * dt.bytes();
  f.bytes = buffer_bytes(f.buffers.front()) + buffer_bytes(f.buffers.back()) +
            cast(DataType::i64(), rows) * make_const(DataType::i64(), row_bytes);
  return f;
}

PrimFunc elementwise(Elementwise op, Expr rows, int64_t cols, DataType dtype,
                     const Target* target) {
  check_dtype("elementwise", dtype);
  check_cols("elementwise", cols);
  Tensor a = placeholder("A", {rows, c32(cols)}, dtype);
  Tensor b = placeholder("B", {rows, c32(cols)}, dtype);
  Tensor c = compute("C", {rows, c32(cols)}, [&](const std::vector<Var>& ax) {
    Expr x = cast(DataType::f32(), a(ax[0], ax[1]));
    switch (op) {
      case Elementwise::kAdd:
        return cast(dtype, x + cast(DataType::f32(), b(ax[0], ax[1])));
      case Elementwise::kMul:
        return cast(dtype, x * cast(DataType::f32(), b(ax[0], ax[1])));
      case Elementwise::kSilu:
        return cast(dtype, row::silu(x));
    }
    return Expr();
  });
  std::vector<Tensor> args =
      op == Elementwise::kSilu ? std::vector<Tensor>{a, c} : std::vector<Tensor>{a, b, c};
  const char* name = op == Elementwise::kAdd ? "add" : op == Elementwise::kMul ? "mul" : "silu";
  return finish(c, args, name, cols, row::gpu_lanes({cols}, dtype.bytes()),
                cpu_lanes_for(target, {cols}), target);
}

PrimFunc silu_mul(Expr rows, int64_t f, DataType dtype, const Target* target) {
  check_dtype("silu_mul", dtype);
  check_cols("silu_mul", f);
  Tensor gu = placeholder("GU", {rows, c32(2 * f)}, dtype);
  Tensor y = compute("Y", {rows, c32(f)}, [&](const std::vector<Var>& ax) {
    Expr g = cast(DataType::f32(), gu(ax[0], ax[1]));
    Expr u = cast(DataType::f32(), gu(ax[0], ax[1] + c32(f)));
    return cast(dtype, row::silu(g) * u);
  });
  return finish(y, {gu, y}, "silu_mul", f, row::gpu_lanes({f}, dtype.bytes()),
                cpu_lanes_for(target, {f}), target);
}

PrimFunc slice_cols(Expr rows, int64_t in_cols, int64_t begin, int64_t end, DataType dtype,
                    const Target* target) {
  check_dtype("slice_cols", dtype);
  check_cols("slice_cols", in_cols);
  if (begin < 0 || end > in_cols || begin >= end)
    throw Error("slice_cols: columns [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") are not a non-empty range within the " + std::to_string(in_cols) +
                " input columns");
  const int64_t width = end - begin;
  Tensor x = placeholder("X", {rows, c32(in_cols)}, dtype);
  Tensor y = compute("Y", {rows, c32(width)},
                     [&](const std::vector<Var>& ax) { return x(ax[0], ax[1] + c32(begin)); });
  // Vectors that divide the row stride and the offset stay aligned to their size.
  return finish(y, {x, y}, "slice_cols", width,
                row::gpu_lanes({width, begin, in_cols}, dtype.bytes()),
                cpu_lanes_for(target, {width}), target);
}

PrimFunc take_last(Expr rows, int64_t cols, DataType dtype, const Target* target) {
  check_dtype("take_last", dtype);
  check_cols("take_last", cols);
  Tensor x = placeholder("X", {rows, c32(cols)}, dtype);
  Tensor y = compute("Y", {Expr(1), c32(cols)},
                     [&](const std::vector<Var>& ax) { return x(rows - 1 + ax[0], ax[1]); });
  return finish(y, {x, y}, "take_last", cols, row::gpu_lanes({cols}, dtype.bytes()),
                cpu_lanes_for(target, {cols}), target);
}

PrimFunc cast(Expr rows, int64_t cols, DataType from, DataType to, const Target* target) {
  check_dtype("cast", from);
  check_dtype("cast", to);
  check_cols("cast", cols);
  Tensor x = placeholder("X", {rows, c32(cols)}, from);
  Tensor y = compute("Y", {rows, c32(cols)},
                     [&](const std::vector<Var>& ax) { return ir::cast(to, x(ax[0], ax[1])); });
  int narrow = std::min(from.bytes(), to.bytes());
  return finish(y, {x, y}, "cast_" + to_string(from) + "_" + to_string(to), cols,
                row::gpu_lanes({cols}, narrow), cpu_lanes_for(target, {cols}), target);
}

}  // namespace mlcc::kernels
