// The graph IR: a model's entry functions as lists of tensor operators over
// shapes with symbolic dimensions (seq_len, total_seq_len) that carry upper
// bounds. Models build it (models/), graph passes rewrite it (passes/graph/),
// and lowering turns it into the VM program of the library. Functions are plain
// values: passes build new ones.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "ir/dtype.h"

namespace mlcc::graph {

// A dimension: a constant, or a named symbolic size with its upper bound.
struct Dim {
  int64_t value = 0;   // the constant, or the upper bound of a symbolic dimension
  std::string symbol;  // empty for constants
  static Dim constant(int64_t v) { return {v, ""}; }
  static Dim symbolic(std::string name, int64_t upper) { return {upper, std::move(name)}; }
  bool is_symbolic() const { return !symbol.empty(); }
  bool operator==(const Dim&) const = default;
};

struct TensorType {
  ir::DataType dtype = ir::DataType::f32();
  std::vector<Dim> shape;
  // Elements and bytes at the upper bounds of the symbolic dimensions.
  int64_t max_elements() const;
  int64_t max_bytes() const;
  std::string str() const;  // "f16[seq_len<=2048, 4096]"
  bool operator==(const TensorType&) const = default;
};

enum class OpKind {
#define MLCC_GRAPH_OP(name, printed, outputs) k##name,
#include "ir/graph/ops.def"
#undef MLCC_GRAPH_OP
};
const char* op_name(OpKind op);
int op_num_outputs(OpKind op);  // -1 for Call (the node says)

using AttrValue = std::variant<int64_t, double, std::string>;
using Attrs = std::map<std::string, AttrValue>;

// One output of one node of the same function.
struct Value {
  int node = -1;
  int output = 0;
  bool operator==(const Value&) const = default;
  auto operator<=>(const Value&) const = default;
};

struct Node {
  OpKind op = OpKind::kInput;
  std::vector<Value> inputs;
  std::vector<TensorType> outputs;
  Attrs attrs;
  int64_t attr_int(const std::string& key) const;   // throws naming op and key if absent
  double attr_float(const std::string& key) const;  // accepts an int attribute too
  const std::string& attr_str(const std::string& key) const;
  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
};

struct Function {
  std::string name;
  std::vector<Node> nodes;  // topological order: inputs refer to earlier nodes
  std::vector<Value> results;
  // Appends a node, checking that its inputs exist; returns its first output.
  Value add(Node n);
  const TensorType& type(Value v) const;
  const Node& node(Value v) const { return nodes.at(static_cast<size_t>(v.node)); }
};

struct ParamInfo {
  std::string name;  // MLC-LLM's names: model.layers.0.self_attn.qkv_proj.weight, ...
  TensorType type;
  bool operator==(const ParamInfo&) const = default;
};

struct Module {
  std::vector<Function> functions;
  std::vector<ParamInfo> params;                            // Param nodes refer to these by name
  const Function& function(const std::string& name) const;  // throws naming the function
  Function& function(const std::string& name);
  const ParamInfo& param(const std::string& name) const;
};

// Readable text, one node per line: `%3 = linear(%1, %2)
// {quantization="q4f16_1"} : f16[...]`.
std::string print(const Function& f);
std::string print(const Module& m);

// Equal up to value numbering and node labels: same ops, attributes, types,
// wiring and results (functions) and the same parameters (modules).
bool structural_equal(const Function& a, const Function& b);
bool structural_equal(const Module& a, const Module& b);

// Checks wiring (inputs refer to earlier nodes, outputs exist), Param names
// known to the module, and output counts; returns the problems found (empty
// when well formed).
std::vector<std::string> verify(const Module& m);

}  // namespace mlcc::graph
