// Memory planning. Every intermediate a kernel writes gets a byte range in one
// arena that all entry functions share (they never run at the same time);
// ranges are reused once the value's last reader has run (first fit over free
// ranges, 256-byte aligned). Sizes are taken at the symbolic dimensions' upper
// bounds, so one plan serves every seq_len. A function's results get storages
// of their own: they outlive the call (the logits are read by the sampling
// functions afterwards).
#include <algorithm>
#include <map>
#include <set>

#include "passes/graph/graph_passes.h"
#include "passes/graph/rewrite.h"

namespace mlcc::graph {

namespace {

constexpr int64_t kAlign = 256;
int64_t round_up(int64_t b) { return (b + kAlign - 1) / kAlign * kAlign; }

// First-fit allocation over a growing arena.
class Arena {
 public:
  int64_t allocate(int64_t bytes) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second < bytes) continue;
      int64_t offset = it->first, size = it->second;
      free_.erase(it);
      if (size > bytes) free_[offset + bytes] = size - bytes;
      return offset;
    }
    // Grow: a free range at the end is extended rather than left behind.
    int64_t offset = top_;
    if (!free_.empty()) {
      auto last = std::prev(free_.end());
      if (last->first + last->second == top_) {
        offset = last->first;
        free_.erase(last);
      }
    }
    top_ = offset + bytes;
    return offset;
  }
  void release(int64_t offset, int64_t bytes) {
    auto [it, _] = free_.emplace(offset, bytes);
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }
  int64_t size() const { return top_; }

 private:
  std::map<int64_t, int64_t> free_;  // offset -> bytes
  int64_t top_ = 0;
};

bool planned(const Node& n) { return n.op == OpKind::kCall && !n.has_attr("inplace"); }

FunctionPlan plan_function(const Function& f, std::vector<int64_t>& storages) {
  FunctionPlan plan;
  auto users = value_users(f);
  std::set<int> results;
  for (Value r : f.results) results.insert(r.node);
  // Last reader of each planned node's output (multi-output nodes: over all
  // outputs).
  std::map<int, int> last_use;
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    if (!planned(f.nodes[i])) continue;
    int last = static_cast<int>(i);
    for (const auto& out_users : users[i])
      for (const Use& u : out_users) last = std::max(last, u.node);
    last_use[static_cast<int>(i)] = last;
  }
  Arena arena;
  std::multimap<int, std::pair<int64_t, int64_t>> to_free;  // after node -> (offset, bytes)
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    const int n = static_cast<int>(i);
    // Ranges whose last reader ran before this node are free again; inputs of
    // this node stay reserved so that no output overwrites them.
    for (auto it = to_free.begin(); it != to_free.end() && it->first < n;) {
      arena.release(it->second.first, it->second.second);
      it = to_free.erase(it);
    }
    const Node& node = f.nodes[i];
    if (!planned(node)) continue;
    int64_t bytes = 0;
    for (const TensorType& t : node.outputs) bytes += round_up(t.max_bytes());
    if (results.count(n)) {
      plan.placements[n] = {static_cast<int>(storages.size()), 0};
      storages.push_back(bytes);
      continue;
    }
    int64_t offset = arena.allocate(bytes);
    plan.placements[n] = {0, offset};
    to_free.emplace(last_use[n], std::make_pair(offset, bytes));
  }
  plan.arena_bytes = arena.size();
  return plan;
}

}  // namespace

// Byte offset of output `o` of a planned node: outputs are laid out one after
// another.
int64_t output_offset(const Node& n, int o) {
  int64_t off = 0;
  for (int i = 0; i < o; ++i) off += round_up(n.outputs[i].max_bytes());
  return off;
}

Program plan_memory(Program p) {
  MemoryPlan& m = p.memory;
  m = MemoryPlan{};
  m.storages.push_back(0);  // the arena, sized below
  for (const Function& f : p.module.functions) {
    FunctionPlan fp = plan_function(f, m.storages);
    m.storages[0] = std::max(m.storages[0], fp.arena_bytes);
    m.functions[f.name] = std::move(fp);
  }
  for (int64_t s : m.storages) m.activation_bytes += s;
  for (const ParamInfo& info : p.module.params) m.param_bytes += info.type.max_bytes();
  std::map<int64_t, int64_t> layers;
  for (const Function& f : p.module.functions)
    for (const Node& n : f.nodes)
      if (n.op == OpKind::kKVCache) layers[n.attr_int("layer")] = n.outputs[0].max_bytes();
  for (auto& [layer, bytes] : layers) m.kv_cache_bytes += bytes;
  return p;
}

}  // namespace mlcc::graph
