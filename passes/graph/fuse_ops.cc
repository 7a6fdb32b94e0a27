// Operator fusion by patterns. Each rule joins nodes into one operator that a
// single kernel computes, so the intermediate never goes through memory:
//   Dequantize -> Linear / Embedding      the weights are dequantized in
//   registers Add -> RMSNorm                        AddRMSNorm (sum and
//   normalized, one pass) Linear -> Add (other Adds)            the Linear's
//   residual epilogue Slice, Slice, Silu, Mul               SiluMul over the
//   fused gate/up projection Linear -> Cast                        the Linear
//   writes the cast type (f32 logits)
// A fused node is emitted where its last member stood, so all its inputs exist
// by then; a rule applies only when the absorbed intermediates have no other
// users.
#include <map>
#include <set>

#include "passes/graph/graph_passes.h"
#include "passes/graph/rewrite.h"

namespace mlcc::graph {

namespace {

struct Plan {
  std::set<int> absorbed;           // nodes emitted as part of a later fused node
  std::map<int, Node> replacement;  // node -> the fused node emitted in its
                                    // place (source wiring)
  std::map<int, int> add_of_norm;   // AddRMSNorm at the RMSNorm node -> its Add node
};

class Fuser {
 public:
  explicit Fuser(const Function& f) : f_(f), users_(value_users(f)) {}

  Plan plan() {
    for (size_t i = 0; i < f_.nodes.size(); ++i) {
      int n = static_cast<int>(i);
      if (plan_.absorbed.count(n) || plan_.replacement.count(n)) continue;
      switch (f_.nodes[i].op) {
        case OpKind::kLinear:
        case OpKind::kEmbedding:
          fold_dequantize(n);
          break;
        case OpKind::kAdd:
          fuse_add(n);
          break;
        case OpKind::kMul:
          fuse_silu_mul(n);
          break;
        case OpKind::kCast:
          fuse_cast(n);
          break;
        default:
          break;
      }
    }
    return std::move(plan_);
  }

 private:
  const Node& node(Value v) const { return f_.node(v); }
  const std::vector<Use>& uses(int n, int out = 0) const { return users_[n][out]; }
  bool single_use(int n) const { return uses(n).size() == 1; }
  // The node as planned so far (a Linear may already have its dequantization
  // folded).
  Node current(int n) const {
    auto it = plan_.replacement.find(n);
    return it != plan_.replacement.end() ? it->second : f_.nodes[n];
  }

  void fold_dequantize(int n) {
    const Node& op = f_.nodes[n];
    size_t slot = op.op == OpKind::kLinear ? 1 : 0;
    if (op.inputs.size() <= slot || node(op.inputs[slot]).op != OpKind::kDequantize) return;
    const Node& deq = node(op.inputs[slot]);
    Node fused = op;
    fused.inputs.erase(fused.inputs.begin() + static_cast<long>(slot));
    fused.inputs.insert(fused.inputs.begin() + static_cast<long>(slot), deq.inputs.begin(),
                        deq.inputs.end());
    fused.attrs["quantization"] = deq.attr_str("quantization");
    plan_.replacement[n] = std::move(fused);
  }

  void fuse_add(int add) {
    const Node& a = f_.nodes[add];
    // Add -> RMSNorm: every other user of the sum must come after the norm,
    // where the fused node is emitted.
    const auto& add_uses = uses(add);
    for (const Use& u : add_uses) {
      if (u.node < 0 || f_.nodes[u.node].op != OpKind::kRMSNorm || u.slot != 0) continue;
      bool later = true;
      for (const Use& other : add_uses) later &= other.node < 0 || other.node >= u.node;
      if (!later || plan_.absorbed.count(u.node) || plan_.replacement.count(u.node)) continue;
      const Node& norm = f_.nodes[u.node];
      Node fused{OpKind::kAddRMSNorm,
                 {a.inputs[0], a.inputs[1], norm.inputs[1]},
                 {a.outputs[0], norm.outputs[0]},
                 norm.attrs};
      plan_.absorbed.insert(add);
      plan_.replacement[u.node] = std::move(fused);
      plan_.add_of_norm[u.node] = add;
      return;
    }
    // Linear -> Add: the Linear's residual epilogue.
    for (int side : {1, 0}) {
      int lin = a.inputs[side].node;
      const Node& l = f_.nodes[lin];
      if (l.op != OpKind::kLinear || !single_use(lin) || l.has_attr("residual")) continue;
      Node fused = current(lin);
      fused.inputs.push_back(a.inputs[1 - side]);
      fused.attrs["residual"] = int64_t{1};
      plan_.absorbed.insert(lin);
      plan_.replacement.erase(lin);
      plan_.replacement[add] = std::move(fused);
      return;
    }
  }

  void fuse_silu_mul(int mul) {
    const Node& m = f_.nodes[mul];
    const Node& silu = node(m.inputs[0]);
    if (silu.op != OpKind::kSilu || !single_use(m.inputs[0].node)) return;
    const Node& gate = node(silu.inputs[0]);
    const Node& up = node(m.inputs[1]);
    if (gate.op != OpKind::kSlice || up.op != OpKind::kSlice || gate.inputs[0] != up.inputs[0] ||
        !single_use(silu.inputs[0].node) || !single_use(m.inputs[1].node))
      return;
    const int64_t cols = f_.type(gate.inputs[0]).shape.back().value;
    const int64_t half = cols / 2;
    if (cols % 2 != 0 || gate.attr_int("begin") != 0 || gate.attr_int("end") != half ||
        up.attr_int("begin") != half || up.attr_int("end") != cols)
      return;
    plan_.absorbed.insert({m.inputs[0].node, silu.inputs[0].node, m.inputs[1].node});
    plan_.replacement[mul] = Node{OpKind::kSiluMul, {gate.inputs[0]}, m.outputs, {}};
  }

  void fuse_cast(int cast) {
    const Node& c = f_.nodes[cast];
    int lin = c.inputs[0].node;
    if (f_.nodes[lin].op != OpKind::kLinear || !single_use(lin) || plan_.absorbed.count(lin))
      return;
    Node fused = current(lin);
    fused.outputs = c.outputs;
    plan_.absorbed.insert(lin);
    plan_.replacement.erase(lin);
    plan_.replacement[cast] = std::move(fused);
  }

  const Function& f_;
  std::vector<std::vector<std::vector<Use>>> users_;
  Plan plan_;
};

Function fuse_function(const Function& f) {
  Plan plan = Fuser(f).plan();
  Rewriter rw(f);
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    int n = static_cast<int>(i);
    if (plan.absorbed.count(n)) continue;
    auto it = plan.replacement.find(n);
    if (it == plan.replacement.end()) {
      rw.keep(n);
      continue;
    }
    Node fused = it->second;
    for (Value& v : fused.inputs) v = rw.get(v);
    Value out = rw.emit(std::move(fused));
    auto add = plan.add_of_norm.find(n);
    if (add != plan.add_of_norm.end()) {
      rw.map(add->second, {Value{out.node, 0}});
      rw.map(n, {Value{out.node, 1}});
    } else {
      rw.map(n, {out});
    }
  }
  return rw.finish();
}

}  // namespace

Program fuse_ops(Program p) {
  for (Function& f : p.module.functions) f = fuse_function(f);
  return p;
}

}  // namespace mlcc::graph
