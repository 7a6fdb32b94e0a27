// Value users and the node-by-node Rewriter of passes/graph/rewrite.h.
#include "passes/graph/rewrite.h"

#include "runtime/error.h"

namespace mlcc::graph {

std::vector<std::vector<std::vector<Use>>> value_users(const Function& f) {
  std::vector<std::vector<std::vector<Use>>> users(f.nodes.size());
  for (size_t i = 0; i < f.nodes.size(); ++i) users[i].resize(f.nodes[i].outputs.size());
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    const auto& ins = f.nodes[i].inputs;
    for (size_t s = 0; s < ins.size(); ++s)
      users[ins[s].node][ins[s].output].push_back({static_cast<int>(i), static_cast<int>(s)});
  }
  for (size_t r = 0; r < f.results.size(); ++r)
    users[f.results[r].node][f.results[r].output].push_back({-1, static_cast<int>(r)});
  return users;
}

Rewriter::Rewriter(const Function& src) : src_(src), map_(src.nodes.size()) {
  dst_.name = src.name;
}

Value Rewriter::get(Value v) const {
  const auto& outs = map_.at(static_cast<size_t>(v.node));
  if (static_cast<size_t>(v.output) >= outs.size())
    throw Error("graph rewrite of '" + src_.name + "': value %" + std::to_string(v.node) +
                " is used before it was emitted");
  return outs[static_cast<size_t>(v.output)];
}

Node Rewriter::remapped(int node) const {
  Node n = src_.nodes.at(static_cast<size_t>(node));
  for (Value& v : n.inputs) v = get(v);
  return n;
}

void Rewriter::keep(int node) {
  Value first = dst_.add(remapped(node));
  std::vector<Value> outs;
  for (size_t o = 0; o < src_.nodes[static_cast<size_t>(node)].outputs.size(); ++o)
    outs.push_back({first.node, static_cast<int>(o)});
  map(node, std::move(outs));
}

void Rewriter::map(int node, std::vector<Value> outputs) {
  map_.at(static_cast<size_t>(node)) = std::move(outputs);
}

Function Rewriter::finish() {
  dst_.results.clear();
  for (Value r : src_.results) dst_.results.push_back(get(r));
  return std::move(dst_);
}

}  // namespace mlcc::graph
