// Dead code removal: nodes whose outputs reach no result are dropped
// (Dequantize nodes left behind by fusion, parameters only they read). Nodes
// that write memory they do not own (the KV cache append) are kept even when
// nothing reads their output.
#include "passes/graph/graph_passes.h"
#include "passes/graph/rewrite.h"

namespace mlcc::graph {

namespace {

bool has_side_effect(const Node& n) { return n.op == OpKind::kKVAppend || n.has_attr("inplace"); }

Function remove_dead(const Function& f) {
  std::vector<bool> live(f.nodes.size(), false);
  for (Value r : f.results) live[r.node] = true;
  for (size_t i = f.nodes.size(); i-- > 0;) {
    if (has_side_effect(f.nodes[i])) live[i] = true;
    if (!live[i]) continue;
    for (Value in : f.nodes[i].inputs) live[in.node] = true;
  }
  Rewriter rw(f);
  for (size_t i = 0; i < f.nodes.size(); ++i)
    if (live[i]) rw.keep(static_cast<int>(i));
  return rw.finish();
}

}  // namespace

Program remove_dead_code(Program p) {
  for (Function& f : p.module.functions) f = remove_dead(f);
  return p;
}

}  // namespace mlcc::graph
