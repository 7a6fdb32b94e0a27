// Helpers the graph passes share: who uses each value, and a Rewriter that
// copies a function node by node while a pass replaces, fuses or drops nodes.
#pragma once

#include <vector>

#include "ir/graph/graph.h"

namespace mlcc::graph {

struct Use {
  int node;  // the using node
  int slot;  // its input position
};
// users[node][output] lists every use of that value, in node order. A function
// result counts as a use by node -1.
std::vector<std::vector<std::vector<Use>>> value_users(const Function& f);

// Copies `src` into a new function. For each source node a pass either keeps it
// (its inputs remapped), maps its outputs to values already emitted, or emits
// replacement nodes.
class Rewriter {
 public:
  explicit Rewriter(const Function& src);
  // The emitted value standing for a source value; throws if the source node
  // was not emitted or mapped yet (a pass emitted a consumer before its
  // producer).
  Value get(Value src_value) const;
  // The source node with its inputs remapped, ready to emit or modify.
  Node remapped(int node) const;
  void keep(int node);  // emit remapped(node) in its place
  Value emit(Node n) { return dst_.add(std::move(n)); }
  void map(int node,
           std::vector<Value> outputs);  // the source node's outputs are these
  Function finish();                     // results remapped

 private:
  const Function& src_;
  Function dst_;
  std::vector<std::vector<Value>> map_;
};

}  // namespace mlcc::graph
