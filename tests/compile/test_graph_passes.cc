// Before/after cases for each graph pass (passes/graph/): small graphs built by
// hand, rewritten by one pass and compared structurally with the expected
// graph, plus the pass applied to a whole (tiny) Llama to check the counts the
// model should show.
#include <catch2/catch.hpp>
#include <map>

#include "models/llama.h"
#include "passes/graph/graph_passes.h"
#include "runtime/error.h"
#include "runtime/library_format.h"

using namespace mlcc;
using namespace mlcc::graph;

namespace {

const ir::DataType f16 = ir::DataType::f16(), f32 = ir::DataType::f32(), u32 = ir::DataType::u32();
const Dim S = Dim::symbolic("seq_len", 64);

TensorType tt(ir::DataType t, std::vector<Dim> shape) { return {t, std::move(shape)}; }
Dim c(int64_t v) { return Dim::constant(v); }

Value input(Function& f, const std::string& name, TensorType t) {
  return f.add({OpKind::kInput, {}, {t}, {{"name", name}}});
}
Value param(Function& f, const std::string& name, TensorType t) {
  return f.add({OpKind::kParam, {}, {t}, {{"name", name}}});
}
Value op(Function& f, OpKind k, std::vector<Value> in, TensorType t, Attrs a = {}) {
  return f.add({k, std::move(in), {t}, std::move(a)});
}

Program program(Function f, std::vector<ParamInfo> params, const std::string& quant = "q0f16") {
  Program p;
  p.module.functions.push_back(std::move(f));
  p.module.params = std::move(params);
  p.quant = kernels::Quantization::parse(quant);
  p.target = Target::host_cpu();
  return p;
}

std::map<OpKind, int> count_ops(const Function& f) {
  std::map<OpKind, int> n;
  for (const Node& node : f.nodes) n[node.op]++;
  return n;
}

models::LlamaConfig tiny_llama(bool tied = false) {
  models::LlamaConfig c;
  c.vocab_size = 96, c.hidden_size = 64, c.intermediate_size = 96, c.num_layers = 2;
  c.num_heads = 4, c.num_kv_heads = 2, c.head_dim = 16, c.max_position_embeddings = 128;
  c.tie_word_embeddings = tied;
  c.rope.head_dim = 16;
  return c;
}

Program tiny_program(const std::string& quant, bool tied = false) {
  models::LlamaBuildOptions o;
  o.act_dtype = kernels::Quantization::parse(quant).act_dtype();
  o.context_window = 128, o.prefill_chunk_size = 32;
  Program p;
  p.module = models::build_llama(tiny_llama(tied), o);
  p.quant = kernels::Quantization::parse(quant);
  p.target = Target::host_cpu();
  p.context_window = 128, p.prefill_chunk_size = 32;
  return p;
}

}  // namespace

TEST_CASE("quantize: a Linear weight becomes q_weight, q_scale and a Dequantize", "[graph]") {
  TensorType w = tt(f16, {c(8), c(64)});
  Function before{"f"};
  Value x = input(before, "x", tt(f16, {S, c(64)}));
  Value y = op(before, OpKind::kLinear, {x, param(before, "proj.weight", w)}, tt(f16, {S, c(8)}));
  before.results = {y};
  Program p = quantize(program(before, {{"proj.weight", w}}, "q4f16_1"));

  Function expected{"f"};
  Value ex = input(expected, "x", tt(f16, {S, c(64)}));
  Value qw = param(expected, "proj.q_weight", tt(u32, {c(8), c(8)}));
  Value qs = param(expected, "proj.q_scale", tt(f16, {c(8), c(2)}));
  Value deq =
      op(expected, OpKind::kDequantize, {qw, qs}, w, {{"quantization", std::string("q4f16_1")}});
  expected.results = {op(expected, OpKind::kLinear, {ex, deq}, tt(f16, {S, c(8)}))};
  CHECK(structural_equal(p.module.functions[0], expected));
  REQUIRE(p.module.params.size() == 2);
  CHECK(p.module.params[0].name == "proj.q_weight");
  CHECK(p.module.params[1] == ParamInfo{"proj.q_scale", tt(f16, {c(8), c(2)})});
  CHECK(verify(p.module).empty());
}

TEST_CASE("quantize: q0 formats leave the graph alone; q4 pads a width of 48", "[graph]") {
  TensorType w = tt(f16, {c(8), c(48)});
  Function f{"f"};
  Value x = input(f, "x", tt(f16, {S, c(48)}));
  f.results = {op(f, OpKind::kLinear, {x, param(f, "proj.weight", w)}, tt(f16, {S, c(8)}))};
  Program q0 = quantize(program(f, {{"proj.weight", w}}, "q0f16"));
  CHECK(structural_equal(q0.module.functions[0], f));
  // 48 inputs: two groups, the second half padding.
  Program q4 = quantize(program(f, {{"proj.weight", w}}, "q4f16_1"));
  REQUIRE(q4.module.params.size() == 2);
  CHECK(q4.module.params[0] == ParamInfo{"proj.q_weight", tt(u32, {c(8), c(8)})});
  CHECK(q4.module.params[1] == ParamInfo{"proj.q_scale", tt(f16, {c(8), c(2)})});
}

TEST_CASE(
    "fuse_ops: Dequantize folds into Linear, the residual Add into its "
    "epilogue",
    "[graph]") {
  Function before{"f"};
  Value x = input(before, "x", tt(f16, {S, c(64)}));
  Value r = input(before, "r", tt(f16, {S, c(8)}));
  Value qw = param(before, "p.q_weight", tt(u32, {c(8), c(8)}));
  Value qs = param(before, "p.q_scale", tt(f16, {c(8), c(2)}));
  Value deq = op(before, OpKind::kDequantize, {qw, qs}, tt(f16, {c(8), c(64)}),
                 {{"quantization", std::string("q4f16_1")}});
  Value y = op(before, OpKind::kLinear, {x, deq}, tt(f16, {S, c(8)}));
  before.results = {op(before, OpKind::kAdd, {r, y}, tt(f16, {S, c(8)}))};
  Program p = remove_dead_code(fuse_ops(program(before, {})));

  Function expected{"f"};
  Value ex = input(expected, "x", tt(f16, {S, c(64)}));
  Value er = input(expected, "r", tt(f16, {S, c(8)}));
  Value eqw = param(expected, "p.q_weight", tt(u32, {c(8), c(8)}));
  Value eqs = param(expected, "p.q_scale", tt(f16, {c(8), c(2)}));
  expected.results = {op(expected, OpKind::kLinear, {ex, eqw, eqs, er}, tt(f16, {S, c(8)}),
                         {{"quantization", std::string("q4f16_1")}, {"residual", int64_t{1}}})};
  CHECK(structural_equal(p.module.functions[0], expected));
}

TEST_CASE("fuse_ops: a Linear result used twice is not fused into the Add", "[graph]") {
  Function f{"f"};
  Value x = input(f, "x", tt(f32, {S, c(8)}));
  Value y = op(f, OpKind::kLinear, {x, param(f, "w", tt(f32, {c(8), c(8)}))}, tt(f32, {S, c(8)}));
  Value z = op(f, OpKind::kAdd, {x, y}, tt(f32, {S, c(8)}));
  f.results = {z, y};
  Program p = fuse_ops(program(f, {{"w", tt(f32, {c(8), c(8)})}}, "q0f32"));
  CHECK(structural_equal(p.module.functions[0], f));
}

TEST_CASE("fuse_ops: Add then RMSNorm becomes AddRMSNorm with two outputs", "[graph]") {
  Function before{"f"};
  Value a = input(before, "a", tt(f16, {S, c(64)}));
  Value b = input(before, "b", tt(f16, {S, c(64)}));
  Value sum = op(before, OpKind::kAdd, {a, b}, tt(f16, {S, c(64)}));
  Value w = param(before, "n.weight", tt(f16, {c(64)}));
  Value n = op(before, OpKind::kRMSNorm, {sum, w}, tt(f16, {S, c(64)}), {{"eps", 1e-5}});
  before.results = {n, sum};
  Program p = fuse_ops(program(before, {{"n.weight", tt(f16, {c(64)})}}));

  Function expected{"f"};
  Value ea = input(expected, "a", tt(f16, {S, c(64)}));
  Value eb = input(expected, "b", tt(f16, {S, c(64)}));
  Value ew = param(expected, "n.weight", tt(f16, {c(64)}));
  Value fused = expected.add({OpKind::kAddRMSNorm,
                              {ea, eb, ew},
                              {tt(f16, {S, c(64)}), tt(f16, {S, c(64)})},
                              {{"eps", 1e-5}}});
  expected.results = {{fused.node, 1}, {fused.node, 0}};
  CHECK(structural_equal(p.module.functions[0], expected));
}

TEST_CASE(
    "fuse_ops: Slice, Slice, Silu, Mul become SiluMul; a Cast folds into "
    "the Linear",
    "[graph]") {
  Function before{"f"};
  Value x = input(before, "x", tt(f16, {c(1), c(32)}));
  Value gu = op(before, OpKind::kLinear, {x, param(before, "gu", tt(f16, {c(16), c(32)}))},
                tt(f16, {c(1), c(16)}));
  Value g = op(before, OpKind::kSlice, {gu}, tt(f16, {c(1), c(8)}),
               {{"begin", int64_t{0}}, {"end", int64_t{8}}});
  Value u = op(before, OpKind::kSlice, {gu}, tt(f16, {c(1), c(8)}),
               {{"begin", int64_t{8}}, {"end", int64_t{16}}});
  Value m = op(before, OpKind::kMul, {op(before, OpKind::kSilu, {g}, tt(f16, {c(1), c(8)})), u},
               tt(f16, {c(1), c(8)}));
  Value d = op(before, OpKind::kLinear, {m, param(before, "d", tt(f16, {c(32), c(8)}))},
               tt(f16, {c(1), c(32)}));
  before.results = {op(before, OpKind::kCast, {d}, tt(f32, {c(1), c(32)}))};
  Program p =
      fuse_ops(program(before, {{"gu", tt(f16, {c(16), c(32)})}, {"d", tt(f16, {c(32), c(8)})}}));

  Function expected{"f"};
  Value ex = input(expected, "x", tt(f16, {c(1), c(32)}));
  Value egu = op(expected, OpKind::kLinear, {ex, param(expected, "gu", tt(f16, {c(16), c(32)}))},
                 tt(f16, {c(1), c(16)}));
  Value em = op(expected, OpKind::kSiluMul, {egu}, tt(f16, {c(1), c(8)}));
  expected.results = {op(expected, OpKind::kLinear,
                         {em, param(expected, "d", tt(f16, {c(32), c(8)}))},
                         tt(f32, {c(1), c(32)}))};
  CHECK(structural_equal(p.module.functions[0], expected));
}

TEST_CASE("remove_dead_code drops unused nodes and keeps the KV cache append", "[graph]") {
  Function f{"f"};
  Value x = input(f, "x", tt(f32, {S, c(8)}));
  op(f, OpKind::kSilu, {x}, tt(f32, {S, c(8)}));  // unused
  Value cache = f.add(
      {OpKind::kKVCache, {}, {tt(f32, {c(4), c(2), c(1), c(16), c(8)})}, {{"layer", int64_t{0}}}});
  Value pt = input(f, "page_table", tt(ir::DataType::i32(), {c(4)}));
  f.add({OpKind::kKVAppend, {x, cache, pt}, {tt(f32, {c(4), c(2), c(1), c(16), c(8)})}, {}});
  f.results = {op(f, OpKind::kAdd, {x, x}, tt(f32, {S, c(8)}))};
  Program p = remove_dead_code(program(f, {}, "q0f32"));
  auto n = count_ops(p.module.functions[0]);
  CHECK(n[OpKind::kSilu] == 0);
  CHECK(n[OpKind::kKVAppend] == 1);
  CHECK(n[OpKind::kAdd] == 1);
}

TEST_CASE("graph passes on a tiny Llama: counts of fused operators", "[graph]") {
  Program p = remove_dead_code(fuse_ops(quantize(tiny_program("q4f16_1"))));
  REQUIRE(verify(p.module).empty());
  const int64_t L = 2;
  auto prefill = count_ops(p.module.function("prefill"));
  auto decode = count_ops(p.module.function("decode"));
  // Every Add but the last one of prefill (which goes into the down
  // projection's epilogue before TakeLast) is followed by an RMSNorm.
  CHECK(prefill[OpKind::kAddRMSNorm] == 2 * L - 1);
  CHECK(prefill[OpKind::kAdd] == 0);
  CHECK(decode[OpKind::kAddRMSNorm] == 2 * L);
  CHECK(prefill[OpKind::kSiluMul] == L);
  CHECK(prefill[OpKind::kDequantize] == 0);
  CHECK(prefill[OpKind::kCast] == 0);
  CHECK(prefill[OpKind::kSlice] == 0);
  for (const Node& n : p.module.function("prefill").nodes)
    if (n.op == OpKind::kLinear) CHECK(n.attr_str("quantization") == "q4f16_1");
  // Parameters follow MLC-LLM's names.
  CHECK(p.module.param("model.layers.1.self_attn.qkv_proj.q_weight").type.shape[0].value ==
        (4 + 2 * 2) * 16);
  CHECK(p.module.param("model.embed_tokens.q_scale").type.shape[1].value == 64 / 32);
}

TEST_CASE("legalize, plan_memory and lower_to_vm on a tiny Llama", "[graph]") {
  Program p = lower_to_vm(
      plan_memory(legalize(remove_dead_code(fuse_ops(quantize(tiny_program("q0f32")))))));
  REQUIRE(verify(p.module).empty());
  // Every operator became a kernel call; identical layers share kernels.
  for (const Function& f : p.module.functions)
    for (const Node& n : f.nodes)
      CHECK((n.op == OpKind::kCall || n.op == OpKind::kInput || n.op == OpKind::kParam ||
             n.op == OpKind::kKVCache));
  CHECK(p.kernels.size() < 30);
  // The embedding kernel takes the ids first.
  for (const Node& n : p.module.function("embed").nodes)
    if (n.op == OpKind::kCall)
      CHECK(p.module.function("embed").node(n.inputs[0]).attr_str("name") == "tokens");

  // Memory: values live at the same time never overlap.
  const Function& f = p.module.function("prefill");
  const FunctionPlan& plan = p.memory.functions.at("prefill");
  auto users = [&](int node) {
    int last = node;
    for (size_t i = 0; i < f.nodes.size(); ++i)
      for (Value v : f.nodes[i].inputs)
        if (v.node == node) last = static_cast<int>(i);
    return last;
  };
  std::vector<std::tuple<int, int, int64_t, int64_t>> live;  // first, last, begin, end
  for (const auto& [node, pl] : plan.placements) {
    if (pl.storage != 0) continue;
    int64_t bytes = 0;
    for (const TensorType& t : f.nodes[node].outputs) bytes += t.max_bytes();
    live.emplace_back(node, users(node), pl.offset, pl.offset + bytes);
  }
  int overlaps = 0, reused = 0;
  for (auto& [a0, a1, ab, ae] : live)
    for (auto& [b0, b1, bb, be] : live) {
      if (a0 >= b0) continue;
      bool bytes_overlap = ab < be && bb < ae;
      bool time_overlap = b0 <= a1;
      if (bytes_overlap && time_overlap) overlaps++;
      if (bytes_overlap && !time_overlap) reused++;
    }
  CHECK(overlaps == 0);
  CHECK(reused > 0);
  CHECK(p.memory.storages[0] > 0);
  CHECK(p.memory.kv_cache_bytes == 2 * (128 / 16) * 2 * 2 * 16 * 16 * 4);

  // The bytecode: scalars first, a result last, every call well formed.
  const VmFunction& vm = p.vm.at("prefill");
  CHECK(vm.scalars == std::vector<std::string>{"seq_len", "total_seq_len"});
  CHECK(p.vm.at("decode").scalars == std::vector<std::string>{"total_seq_len"});
  CHECK(vm.code.front() == vm::kScalar);
  int calls = 0;
  for (size_t pc = 0; pc < vm.code.size();) {
    int64_t opc = vm.code[pc];
    if (opc == vm::kCall) {
      int64_t k = vm.code[pc + 1], nb = vm.code[pc + 2];
      REQUIRE(k < static_cast<int64_t>(p.kernels.size()));
      CHECK(nb == static_cast<int64_t>(p.kernels[k].buffers.size()));
      int64_t ns = vm.code[pc + 3 + nb];
      CHECK(ns == static_cast<int64_t>(p.kernels[k].scalars.size()));
      pc += 4 + nb + ns;
      calls++;
    } else if (opc == vm::kResult) {
      CHECK(vm.code[pc + 1] == 1);
      CHECK(pc + 3 == vm.code.size());
      break;
    } else {
      pc += opc == vm::kBinary ? 5 : opc == vm::kView ? 4 : 3;
    }
  }
  CHECK(calls > 10);
}
