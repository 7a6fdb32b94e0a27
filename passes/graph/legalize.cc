// Legalization: every operator becomes a Call of a kernel from
// passes/legalize/llm_kernels.h with the target's default schedule. The rule
// that picks the schedule lives with each kernel (a Linear with one row is a
// GEMV, more rows a matrix product, as TVM's dlight decides); this pass maps
// operators to kernel parameters, puts the buffers in the kernel's order and
// builds each distinct kernel once (32 layers share a handful).
#include <functional>
#include <map>

#include "passes/graph/graph_passes.h"
#include "passes/graph/rewrite.h"
#include "runtime/error.h"

namespace mlcc::graph {

namespace {

ir::Expr dim_expr(const Dim& d) {
  if (!d.is_symbolic()) return ir::Expr(static_cast<int>(d.value));
  return ir::Var(d.symbol, ir::DataType::i32());
}
std::string dim_key(const Dim& d) { return d.is_symbolic() ? d.symbol : std::to_string(d.value); }

std::string dtype_key(ir::DataType t) { return ir::to_string(t); }

// The quantization name of plain weights in the activation dtype.
std::string unquantized(ir::DataType act) { return act == ir::DataType::f16() ? "q0f16" : "q0f32"; }

// Columns of a 2-D activation (all dimensions after the first).
int64_t cols_of(const TensorType& t) {
  int64_t c = 1;
  for (size_t i = 1; i < t.shape.size(); ++i) c *= t.shape[i].value;
  return c;
}

kernels::RopeSpec rope_spec(const Node& n) {
  kernels::RopeSpec r;
  r.head_dim = n.attr_int("head_dim");
  r.theta = n.attr_float("theta");
  if (n.has_attr("rope_scaling")) {
    r.scaling = n.attr_str("rope_scaling");
    r.factor = n.attr_float("factor");
    r.low_freq_factor = n.attr_float("low_freq_factor");
    r.high_freq_factor = n.attr_float("high_freq_factor");
    r.original_max_position = n.attr_int("original_max_position");
  }
  return r;
}
std::string rope_key(const kernels::RopeSpec& r) {
  std::string k = "d" + std::to_string(r.head_dim) + "_t" + std::to_string(r.theta);
  if (!r.scaling.empty())
    k += "_" + r.scaling + std::to_string(r.factor) + "_" + std::to_string(r.low_freq_factor) +
         "_" + std::to_string(r.high_freq_factor) + "_" + std::to_string(r.original_max_position);
  return k;
}

kernels::PagedCache paged_cache(const TensorType& cache, const TensorType& page_table) {
  if (cache.shape.size() != 5)
    throw Error("legalize: KV cache type " + cache.str() +
                " is not [pages, 2, kv_heads, page_size, head_dim]");
  kernels::PagedCache c;
  c.num_pages = dim_expr(cache.shape[0]);
  c.max_pages = page_table.shape.at(0).value;
  c.kv_heads = cache.shape[2].value;
  c.page_size = cache.shape[3].value;
  c.head_dim = cache.shape[4].value;
  return c;
}

class Legalizer {
 public:
  explicit Legalizer(Program& p) : p_(p) {
    for (size_t i = 0; i < p.kernels.size(); ++i) by_name_[p.kernels[i].name] = i;
  }

  Function run(const Function& f) {
    Rewriter rw(f);
    for (size_t i = 0; i < f.nodes.size(); ++i) {
      const Node& n = f.nodes[i];
      if (n.op == OpKind::kInput || n.op == OpKind::kParam || n.op == OpKind::kKVCache ||
          n.op == OpKind::kCall) {
        rw.keep(static_cast<int>(i));
        continue;
      }
      Node call = lower(f, n);
      for (Value& v : call.inputs) v = rw.get(v);
      Value out = rw.emit(std::move(call));
      std::vector<Value> outs;
      for (size_t o = 0; o < n.outputs.size(); ++o) outs.push_back({out.node, static_cast<int>(o)});
      rw.map(static_cast<int>(i), outs);
    }
    return rw.finish();
  }

 private:
  // Registers the kernel under `key` (built once) and returns its name.
  std::string kernel(const std::string& key, const std::function<ir::PrimFunc()>& build) {
    std::string name = "k_" + key;
    for (char& c : name)
      if (!isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
    if (!by_name_.count(name)) {
      ir::PrimFunc f = build();
      f.name = name;
      by_name_[name] = p_.kernels.size();
      p_.kernels.push_back(std::move(f));
    }
    return name;
  }

  Node call(const Node& n, const std::string& kernel_name, std::vector<Value> inputs) {
    Node c{OpKind::kCall, std::move(inputs), n.outputs, {{"kernel", kernel_name}}};
    c.attrs["op"] = std::string(op_name(n.op));
    return c;
  }

  Node lower(const Function& f, const Node& n) {
    const Target* t = &p_.target;
    auto in_type = [&](size_t i) -> const TensorType& { return f.type(n.inputs.at(i)); };
    const TensorType& out = n.outputs.at(0);
    const ir::DataType act = out.dtype;
    const Dim rows = out.shape.empty() ? Dim::constant(1) : out.shape[0];
    const std::string rk = dim_key(rows);
    switch (n.op) {
      case OpKind::kEmbedding: {
        kernels::Quantization q = kernels::Quantization::parse(
            n.has_attr("quantization") ? n.attr_str("quantization") : unquantized(act));
        const TensorType& table = in_type(0);
        int64_t vocab = table.shape[0].value, hidden = cols_of(out);
        std::string name =
            kernel("embedding_" + q.name + "_" + rk + "_" + std::to_string(vocab) + "_" +
                       std::to_string(hidden),
                   [&] { return kernels::embedding(dim_expr(rows), vocab, hidden, q, t); });
        std::vector<Value> ins = {n.inputs.back()};  // ids first
        ins.insert(ins.end(), n.inputs.begin(), n.inputs.end() - 1);
        return call(n, name, ins);
      }
      case OpKind::kLinear: {
        kernels::LinearSpec s;
        s.rows = dim_expr(rows);
        s.n = cols_of(out);
        s.k = cols_of(in_type(0));
        s.quant = kernels::Quantization::parse(n.has_attr("quantization")
                                                   ? n.attr_str("quantization")
                                                   : unquantized(in_type(0).dtype));
        s.out_dtype = out.dtype;
        s.residual = n.has_attr("residual");
        std::string name = kernel("linear_" + s.quant.name + "_" + rk + "_" + std::to_string(s.n) +
                                      "_" + std::to_string(s.k) + "_" + dtype_key(s.out_dtype) +
                                      (s.residual ? "_res" : ""),
                                  [&] { return kernels::linear(s, t); });
        return call(n, name, n.inputs);
      }
      case OpKind::kRMSNorm:
      case OpKind::kAddRMSNorm: {
        bool add = n.op == OpKind::kAddRMSNorm;
        double eps = n.attr_float("eps");
        int64_t cols = cols_of(out);
        std::string name =
            kernel(std::string(add ? "add_rms_norm_" : "rms_norm_") + dtype_key(act) + "_" + rk +
                       "_" + std::to_string(cols) + "_" + std::to_string(eps),
                   [&] {
                     return add ? kernels::add_rms_norm(dim_expr(rows), cols, eps, act, t)
                                : kernels::rms_norm(dim_expr(rows), cols, eps, act, t);
                   });
        return call(n, name, n.inputs);
      }
      case OpKind::kAdd:
      case OpKind::kMul:
      case OpKind::kSilu: {
        kernels::Elementwise op = n.op == OpKind::kAdd   ? kernels::Elementwise::kAdd
                                  : n.op == OpKind::kMul ? kernels::Elementwise::kMul
                                                         : kernels::Elementwise::kSilu;
        int64_t cols = cols_of(out);
        std::string name =
            kernel(std::string(op_name(n.op)) + "_" + dtype_key(act) + "_" + rk + "_" +
                       std::to_string(cols),
                   [&] { return kernels::elementwise(op, dim_expr(rows), cols, act, t); });
        return call(n, name, n.inputs);
      }
      case OpKind::kSiluMul: {
        int64_t ff = cols_of(out);
        std::string name =
            kernel("silu_mul_" + dtype_key(act) + "_" + rk + "_" + std::to_string(ff),
                   [&] { return kernels::silu_mul(dim_expr(rows), ff, act, t); });
        return call(n, name, n.inputs);
      }
      case OpKind::kSlice: {
        int64_t in_cols = cols_of(in_type(0)), b = n.attr_int("begin"), e = n.attr_int("end");
        std::string name =
            kernel("slice_" + dtype_key(act) + "_" + rk + "_" + std::to_string(in_cols) + "_" +
                       std::to_string(b) + "_" + std::to_string(e),
                   [&] { return kernels::slice_cols(dim_expr(rows), in_cols, b, e, act, t); });
        return call(n, name, n.inputs);
      }
      case OpKind::kTakeLast: {
        const TensorType& x = in_type(0);
        int64_t cols = cols_of(x);
        std::string name = kernel(
            "take_last_" + dtype_key(act) + "_" + dim_key(x.shape[0]) + "_" + std::to_string(cols),
            [&] { return kernels::take_last(dim_expr(x.shape[0]), cols, act, t); });
        return call(n, name, n.inputs);
      }
      case OpKind::kCast: {
        ir::DataType from = in_type(0).dtype;
        int64_t cols = cols_of(out);
        std::string name =
            kernel("cast_" + dtype_key(from) + "_" + dtype_key(act) + "_" + rk + "_" +
                       std::to_string(cols),
                   [&] { return kernels::cast(dim_expr(rows), cols, from, act, t); });
        return call(n, name, n.inputs);
      }
      case OpKind::kRope: {
        kernels::RopeSpec r = rope_spec(n);
        int64_t in_cols = cols_of(in_type(0)), off = n.attr_int("offset"),
                heads = n.attr_int("heads");
        std::string name = kernel(
            "rope_" + dtype_key(act) + "_" + rk + "_" + std::to_string(in_cols) + "_" +
                std::to_string(off) + "_" + std::to_string(heads) + "_" + rope_key(r),
            [&] {
              return kernels::rope(dim_expr(rows), ir::Var("total_seq_len", ir::DataType::i32()),
                                   in_cols, off, heads, r, act, t);
            });
        return call(n, name, n.inputs);
      }
      case OpKind::kKVAppend: {
        kernels::RopeSpec r = rope_spec(n);
        const TensorType& qkv = in_type(0);
        kernels::PagedCache c = paged_cache(in_type(1), in_type(2));
        int64_t in_cols = cols_of(qkv), ko = n.attr_int("k_offset"), vo = n.attr_int("v_offset");
        ir::DataType dt = in_type(1).dtype;
        std::string name =
            kernel("kv_append_" + dtype_key(dt) + "_" + dim_key(qkv.shape[0]) + "_" +
                       std::to_string(in_cols) + "_" + std::to_string(ko) + "_" +
                       std::to_string(vo) + "_" + std::to_string(c.kv_heads) + "_" +
                       std::to_string(c.max_pages) + "_" + rope_key(r),
                   [&] {
                     return kernels::kv_append(dim_expr(qkv.shape[0]),
                                               ir::Var("total_seq_len", ir::DataType::i32()),
                                               in_cols, ko, vo, r, c, dt, t);
                   });
        Node c_node = call(n, name, n.inputs);
        c_node.attrs["inplace"] =
            int64_t{1};  // the output is the cache (input 1), written in place
        return c_node;
      }
      case OpKind::kAttention: {
        kernels::PagedCache c = paged_cache(in_type(1), in_type(2));
        int64_t heads = n.attr_int("heads");
        std::string name = kernel(
            "attention_" + dtype_key(act) + "_" + rk + "_" + std::to_string(heads) + "_" +
                std::to_string(c.kv_heads) + "_" + std::to_string(c.head_dim) + "_" +
                std::to_string(c.max_pages),
            [&] {
              return kernels::attention(
                  dim_expr(rows), ir::Var("total_seq_len", ir::DataType::i32()), heads, c, act, t);
            });
        return call(n, name, n.inputs);
      }
      case OpKind::kSoftmaxTemperature: {
        int64_t vocab = cols_of(out);
        std::string name = kernel("softmax_temperature_" + std::to_string(vocab),
                                  [&] { return kernels::softmax_temperature(vocab, t); });
        return call(n, name, n.inputs);
      }
      case OpKind::kArgmax: {
        int64_t vocab = cols_of(in_type(0));
        std::string name =
            kernel("argmax_" + std::to_string(vocab), [&] { return kernels::argmax(vocab, t); });
        return call(n, name, n.inputs);
      }
      default:
        throw Error(std::string("legalize: operator '") + op_name(n.op) +
                    "' has no kernel (was it meant to be fused away?)");
    }
  }

  Program& p_;
  std::map<std::string, size_t> by_name_;
};

}  // namespace

const ir::PrimFunc& call_kernel(const Program& p, const Node& call) {
  const std::string& name = call.attr_str("kernel");
  for (const ir::PrimFunc& f : p.kernels)
    if (f.name == name) return f;
  throw Error("call of unknown kernel '" + name + "'");
}

Program legalize(Program p) {
  Legalizer l(p);
  for (Function& f : p.module.functions) f = l.run(f);
  return p;
}

}  // namespace mlcc::graph
