// Builds the Llama graph module: parameter list, the paged-cache transformer body shared by
// prefill and decode, and the small sampling helpers.
#include "models/llama.h"

#include "runtime/error.h"

namespace mlcc::models {

using graph::Attrs;
using graph::Dim;
using graph::Function;
using graph::Module;
using graph::Node;
using graph::OpKind;
using graph::TensorType;
using graph::Value;

int64_t kv_num_pages(const LlamaBuildOptions& o) {
  return (o.context_window + o.page_size - 1) / o.page_size;
}

TensorType kv_cache_type(const LlamaConfig& c, const LlamaBuildOptions& o) {
  return {o.act_dtype,
          {Dim::constant(kv_num_pages(o)), Dim::constant(2), Dim::constant(c.num_kv_heads),
           Dim::constant(o.page_size), Dim::constant(c.head_dim)}};
}

std::string layer_param_name(int64_t layer, const std::string& suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix;
}

std::string lm_head_param_name(const LlamaConfig& c) {
  return c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
}

namespace {

// Appends typed nodes to one function; Param nodes take their type from the module.
class FunctionBuilder {
 public:
  FunctionBuilder(const Module& m, Function& f) : m_(m), f_(f) {}

  Value input(const std::string& name, TensorType t) {
    return op(OpKind::kInput, {}, std::move(t), {{"name", name}});
  }
  Value param(const std::string& name) {
    return op(OpKind::kParam, {}, m_.param(name).type, {{"name", name}});
  }
  Value op(OpKind k, std::vector<Value> inputs, TensorType t, Attrs attrs = {}) {
    Node n;
    n.op = k;
    n.inputs = std::move(inputs);
    n.outputs = {std::move(t)};
    n.attrs = std::move(attrs);
    return f_.add(std::move(n));
  }
  const TensorType& type(Value v) const { return f_.type(v); }

 private:
  const Module& m_;
  Function& f_;
};

TensorType tensor(ir::DataType dt, std::vector<Dim> shape) { return {dt, std::move(shape)}; }

void add_rope_attrs(const LlamaConfig& c, Attrs& a) {
  a["head_dim"] = c.head_dim;
  a["theta"] = c.rope.theta;
  if (c.rope.scaling == "llama3") {
    a["rope_scaling"] = std::string("llama3");
    a["factor"] = c.rope.factor;
    a["low_freq_factor"] = c.rope.low_freq_factor;
    a["high_freq_factor"] = c.rope.high_freq_factor;
    a["original_max_position"] = c.rope.original_max_position;
  }
}

std::vector<graph::ParamInfo> llama_params(const LlamaConfig& c, ir::DataType dt) {
  const int64_t h = c.hidden_size, f = c.intermediate_size, v = c.vocab_size;
  const int64_t qkv = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim;
  auto p = [&](std::string name, std::vector<int64_t> dims) {
    std::vector<Dim> shape;
    for (int64_t d : dims) shape.push_back(Dim::constant(d));
    return graph::ParamInfo{std::move(name), tensor(dt, std::move(shape))};
  };
  std::vector<graph::ParamInfo> ps;
  ps.push_back(p("model.embed_tokens.weight", {v, h}));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    ps.push_back(p(layer_param_name(l, "input_layernorm.weight"), {h}));
    ps.push_back(p(layer_param_name(l, "self_attn.qkv_proj.weight"), {qkv, h}));
    ps.push_back(p(layer_param_name(l, "self_attn.o_proj.weight"), {h, c.num_heads * c.head_dim}));
    ps.push_back(p(layer_param_name(l, "post_attention_layernorm.weight"), {h}));
    ps.push_back(p(layer_param_name(l, "mlp.gate_up_proj.weight"), {2 * f, h}));
    ps.push_back(p(layer_param_name(l, "mlp.down_proj.weight"), {h, f}));
  }
  ps.push_back(p("model.norm.weight", {h}));
  if (!c.tie_word_embeddings) ps.push_back(p("lm_head.weight", {v, h}));
  return ps;
}

// prefill (seq = seq_len, last_only) or decode (seq = 1): tokens -> f32 logits of the last
// position, appending the chunk's keys and values to the caches on the way.
Function transformer_function(const Module& m, const LlamaConfig& c, const LlamaBuildOptions& o,
                              const std::string& name, Dim seq, bool take_last) {
  Function fn;
  fn.name = name;
  FunctionBuilder b(m, fn);
  const ir::DataType act = o.act_dtype;
  const int64_t h = c.hidden_size, f = c.intermediate_size, d = c.head_dim;
  const int64_t hq = c.num_heads, hkv = c.num_kv_heads;
  auto rows = [&](int64_t cols) { return tensor(act, {seq, Dim::constant(cols)}); };

  Value tokens = b.input("tokens", tensor(ir::DataType::i32(), {seq}));
  Value pages =
      b.input("page_table", tensor(ir::DataType::i32(), {Dim::constant(kv_num_pages(o))}));
  Value x = b.op(OpKind::kEmbedding, {b.param("model.embed_tokens.weight"), tokens}, rows(h));
  const TensorType cache_t = kv_cache_type(c, o);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    Value n = b.op(OpKind::kRMSNorm, {x, b.param(layer_param_name(l, "input_layernorm.weight"))},
                   rows(h), {{"eps", c.rms_norm_eps}});
    Value qkv =
        b.op(OpKind::kLinear, {n, b.param(layer_param_name(l, "self_attn.qkv_proj.weight"))},
             rows((hq + 2 * hkv) * d));
    Attrs rope{{"offset", int64_t{0}}, {"heads", hq}};
    add_rope_attrs(c, rope);
    Value q = b.op(OpKind::kRope, {qkv}, rows(hq * d), rope);
    Attrs append{{"k_offset", hq * d}, {"v_offset", (hq + hkv) * d}, {"kv_heads", hkv}};
    add_rope_attrs(c, append);
    Value cache_in = b.op(OpKind::kKVCache, {}, cache_t, {{"layer", l}});
    Value cache = b.op(OpKind::kKVAppend, {qkv, cache_in, pages}, cache_t, append);
    Value a = b.op(OpKind::kAttention, {q, cache, pages}, rows(hq * d),
                   {{"heads", hq}, {"kv_heads", hkv}, {"head_dim", d}});
    Value proj = b.op(OpKind::kLinear, {a, b.param(layer_param_name(l, "self_attn.o_proj.weight"))},
                      rows(h));
    x = b.op(OpKind::kAdd, {x, proj}, rows(h));
    Value n2 =
        b.op(OpKind::kRMSNorm, {x, b.param(layer_param_name(l, "post_attention_layernorm.weight"))},
             rows(h), {{"eps", c.rms_norm_eps}});
    Value gu = b.op(OpKind::kLinear, {n2, b.param(layer_param_name(l, "mlp.gate_up_proj.weight"))},
                    rows(2 * f));
    Value g = b.op(OpKind::kSlice, {gu}, rows(f), {{"begin", int64_t{0}}, {"end", f}});
    Value u = b.op(OpKind::kSlice, {gu}, rows(f), {{"begin", f}, {"end", 2 * f}});
    Value mlp = b.op(OpKind::kMul, {b.op(OpKind::kSilu, {g}, rows(f)), u}, rows(f));
    Value down =
        b.op(OpKind::kLinear, {mlp, b.param(layer_param_name(l, "mlp.down_proj.weight"))}, rows(h));
    x = b.op(OpKind::kAdd, {x, down}, rows(h));
  }
  const Dim one = Dim::constant(1);
  if (take_last) x = b.op(OpKind::kTakeLast, {x}, tensor(act, {one, Dim::constant(h)}));
  Value normed = b.op(OpKind::kRMSNorm, {x, b.param("model.norm.weight")},
                      tensor(act, {one, Dim::constant(h)}), {{"eps", c.rms_norm_eps}});
  const Dim vocab = Dim::constant(c.vocab_size);
  Value logits =
      b.op(OpKind::kLinear, {normed, b.param(lm_head_param_name(c))}, tensor(act, {one, vocab}));
  if (act != ir::DataType::f32())
    logits = b.op(OpKind::kCast, {logits}, tensor(ir::DataType::f32(), {one, vocab}));
  fn.results = {logits};
  return fn;
}

void check_options(const LlamaConfig& c, const LlamaBuildOptions& o) {
  auto bad = [](const std::string& field, const std::string& what) {
    throw Error("llama build options: '" + field + "' " + what);
  };
  if (o.act_dtype != ir::DataType::f16() && o.act_dtype != ir::DataType::f32())
    bad("act_dtype", "is " + ir::to_string(o.act_dtype) + " (expected f16 or f32)");
  if (o.page_size <= 0) bad("page_size", "is " + std::to_string(o.page_size) + " (expected > 0)");
  if (o.context_window <= 0)
    bad("context_window", "is " + std::to_string(o.context_window) + " (expected > 0)");
  if (o.prefill_chunk_size <= 0 || o.prefill_chunk_size > o.context_window)
    bad("prefill_chunk_size",
        "is " + std::to_string(o.prefill_chunk_size) +
            " (expected 1 .. context_window = " + std::to_string(o.context_window) + ")");
  c.validate("llama config");
}

}  // namespace

Module build_llama(const LlamaConfig& c, const LlamaBuildOptions& o) {
  check_options(c, o);
  Module m;
  m.params = llama_params(c, o.act_dtype);
  const ir::DataType act = o.act_dtype, f32 = ir::DataType::f32();
  const Dim seq = seq_len_dim(o), one = Dim::constant(1), vocab = Dim::constant(c.vocab_size);

  {
    Function fn;
    fn.name = "embed";
    FunctionBuilder b(m, fn);
    Value tokens = b.input("tokens", tensor(ir::DataType::i32(), {seq}));
    fn.results = {b.op(OpKind::kEmbedding, {b.param("model.embed_tokens.weight"), tokens},
                       tensor(act, {seq, Dim::constant(c.hidden_size)}))};
    m.functions.push_back(std::move(fn));
  }
  m.functions.push_back(transformer_function(m, c, o, "prefill", seq, true));
  m.functions.push_back(transformer_function(m, c, o, "decode", one, false));
  {
    Function fn;
    fn.name = "softmax_with_temperature";
    FunctionBuilder b(m, fn);
    Value logits = b.input("logits", tensor(f32, {one, vocab}));
    Value t = b.input("temperature", tensor(f32, {one}));
    fn.results = {b.op(OpKind::kSoftmaxTemperature, {logits, t}, tensor(f32, {one, vocab}))};
    m.functions.push_back(std::move(fn));
  }
  {
    Function fn;
    fn.name = "argmax";
    FunctionBuilder b(m, fn);
    Value logits = b.input("logits", tensor(f32, {one, vocab}));
    fn.results = {b.op(OpKind::kArgmax, {logits}, tensor(ir::DataType::i32(), {one}))};
    m.functions.push_back(std::move(fn));
  }
  return m;
}

}  // namespace mlcc::models
