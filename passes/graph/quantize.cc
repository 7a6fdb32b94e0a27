// The quantization pass: weights of Linear and Embedding operators become q4
// parameters plus a Dequantize node (DESIGN.md §6 gives the format; the weights
// themselves are quantized by `mlcc convert-weight`, this pass only changes
// what the library expects).
#include <set>

#include "passes/graph/graph_passes.h"
#include "passes/graph/rewrite.h"
#include "runtime/error.h"

namespace mlcc::graph {

namespace {

// "model.layers.0.mlp.down_proj.weight" ->
// "model.layers.0.mlp.down_proj.q_weight".
std::string q_name(const std::string& weight_name, const std::string& suffix) {
  const std::string tail = ".weight";
  if (weight_name.size() < tail.size() ||
      weight_name.compare(weight_name.size() - tail.size(), tail.size(), tail) != 0)
    throw Error("quantize: parameter '" + weight_name + "' does not end in '.weight'");
  return weight_name.substr(0, weight_name.size() - tail.size()) + "." + suffix;
}

// Names of the parameters read as weights: Linear input 1, Embedding input 0.
std::set<std::string> weight_params(const Module& m) {
  std::set<std::string> names;
  for (const Function& f : m.functions)
    for (const Node& n : f.nodes) {
      int slot = n.op == OpKind::kLinear ? 1 : n.op == OpKind::kEmbedding ? 0 : -1;
      if (slot < 0 || static_cast<size_t>(slot) >= n.inputs.size()) continue;
      const Node& src = f.node(n.inputs[static_cast<size_t>(slot)]);
      if (src.op == OpKind::kParam) names.insert(src.attr_str("name"));
    }
  return names;
}

}  // namespace

Program quantize(Program p) {
  if (!p.quant.quantized()) return p;
  const std::set<std::string> weights = weight_params(p.module);
  const ir::DataType scale_dtype = p.quant.act_dtype();

  std::vector<ParamInfo> params;
  for (const ParamInfo& info : p.module.params) {
    if (!weights.count(info.name)) {
      params.push_back(info);
      continue;
    }
    const auto& shape = info.type.shape;
    if (shape.size() != 2 || shape[0].is_symbolic() || shape[1].is_symbolic())
      throw Error("quantize: weight '" + info.name + "' has shape " + info.type.str() + "; " +
                  p.quant.name + " needs a constant [out, in]");
    // A width that is not a multiple of 32 gets a last group padded with zeros.
    const int64_t n = shape[0].value, groups = (shape[1].value + 31) / 32;
    params.push_back({q_name(info.name, "q_weight"),
                      {ir::DataType::u32(), {Dim::constant(n), Dim::constant(groups * 4)}}});
    params.push_back(
        {q_name(info.name, "q_scale"), {scale_dtype, {Dim::constant(n), Dim::constant(groups)}}});
  }

  for (Function& f : p.module.functions) {
    Rewriter rw(f);
    for (size_t i = 0; i < f.nodes.size(); ++i) {
      const Node& n = f.nodes[i];
      if (n.op != OpKind::kParam || !weights.count(n.attr_str("name"))) {
        rw.keep(static_cast<int>(i));
        continue;
      }
      const std::string& name = n.attr_str("name");
      auto param = [&](const std::string& suffix) {
        const ParamInfo* info = nullptr;
        for (const ParamInfo& q : params)
          if (q.name == q_name(name, suffix)) info = &q;
        Node leaf{OpKind::kParam, {}, {info->type}, {{"name", info->name}}};
        return rw.emit(std::move(leaf));
      };
      Value qw = param("q_weight"), qs = param("q_scale");
      Node deq{OpKind::kDequantize, {qw, qs}, n.outputs, {{"quantization", p.quant.name}}};
      rw.map(static_cast<int>(i), {rw.emit(std::move(deq))});
    }
    f = rw.finish();
  }
  p.module.params = std::move(params);
  return p;
}

}  // namespace mlcc::graph
