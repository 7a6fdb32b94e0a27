// Llama graph builder tests: parameter names and shapes (tied, untied, grouped-query), the
// entry functions' signatures and node sequences, rope attributes, and the printed form.
#include <algorithm>
#include <catch2/catch.hpp>

#include "models/llama.h"
#include "runtime/error.h"

using namespace mlcc;
using namespace mlcc::models;
using namespace mlcc::graph;
using ir::DataType;

namespace {

// Hq 4, Hkv 2, D 16, H 64, F 96, V 100, 2 layers.
LlamaConfig tiny(bool tied) {
  LlamaConfig c;
  c.vocab_size = 100;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.rope.head_dim = 16;
  c.max_position_embeddings = 256;
  c.tie_word_embeddings = tied;
  return c;
}

LlamaBuildOptions opts(DataType act = DataType::f16()) {
  LlamaBuildOptions o;
  o.act_dtype = act;
  o.context_window = 200;
  o.prefill_chunk_size = 64;
  return o;
}

std::vector<OpKind> ops(const Function& f) {
  std::vector<OpKind> out;
  for (const Node& n : f.nodes) out.push_back(n.op);
  return out;
}

int count(const Function& f, OpKind k) {
  std::vector<OpKind> all = ops(f);
  return static_cast<int>(std::count(all.begin(), all.end(), k));
}

// The first node of kind k at or after index `from`.
const Node& find(const Function& f, OpKind k, size_t from = 0) {
  for (size_t i = from; i < f.nodes.size(); ++i)
    if (f.nodes[i].op == k) return f.nodes[i];
  FAIL("no node " << op_name(k));
  return f.nodes[0];
}

}  // namespace

TEST_CASE("llama graph: parameters of an untied GQA model", "[models][graph]") {
  Module m = build_llama(tiny(false), opts());
  REQUIRE(m.params.size() == 1 + 2 * 6 + 2);
  CHECK(m.params[0].name == "model.embed_tokens.weight");
  CHECK(m.params[0].type.str() == "f16[100, 64]");
  const char* layer1[] = {"input_layernorm.weight",  "self_attn.qkv_proj.weight",
                          "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                          "mlp.gate_up_proj.weight", "mlp.down_proj.weight"};
  const char* shapes[] = {"f16[64]", "f16[128, 64]", "f16[64, 64]",
                          "f16[64]", "f16[192, 64]", "f16[64, 96]"};
  for (int i = 0; i < 6; ++i) {
    CHECK(m.params[static_cast<size_t>(7 + i)].name == std::string("model.layers.1.") + layer1[i]);
    CHECK(m.params[static_cast<size_t>(7 + i)].type.str() == shapes[i]);
  }
  CHECK(m.params[13].name == "model.norm.weight");
  CHECK(m.params[14].name == "lm_head.weight");
  CHECK(m.params[14].type.str() == "f16[100, 64]");
  CHECK(m.param("model.layers.0.self_attn.qkv_proj.weight").type.shape[0].value ==
        (4 + 2 * 2) * 16);
  CHECK(verify(m).empty());
}

TEST_CASE("llama graph: tied embeddings feed the logits", "[models][graph]") {
  Module m = build_llama(tiny(true), opts(DataType::f32()));
  CHECK(m.params.size() == 14);
  CHECK(m.params.back().name == "model.norm.weight");
  CHECK(m.params[0].type.str() == "f32[100, 64]");
  CHECK_THROWS(m.param("lm_head.weight"));
  const Function& d = m.function("decode");
  const Node& logits = d.node(d.results[0]);
  CHECK(logits.op == OpKind::kLinear);  // f32: no cast
  CHECK(d.node(logits.inputs[1]).attr_str("name") == "model.embed_tokens.weight");
  CHECK(d.type(d.results[0]).str() == "f32[1, 100]");
  CHECK(verify(m).empty());
}

TEST_CASE("llama graph: entry functions and their signatures", "[models][graph]") {
  LlamaConfig c = tiny(false);
  Module m = build_llama(c, opts());
  std::vector<std::string> names;
  for (const Function& f : m.functions) names.push_back(f.name);
  CHECK(names == std::vector<std::string>{"embed", "prefill", "decode", "softmax_with_temperature",
                                          "argmax"});

  const Function& e = m.function("embed");
  CHECK(ops(e) == std::vector<OpKind>{OpKind::kInput, OpKind::kParam, OpKind::kEmbedding});
  CHECK(e.type(e.results[0]).str() == "f16[seq_len<=64, 64]");

  const Function& p = m.function("prefill");
  CHECK(p.nodes[0].attr_str("name") == "tokens");
  CHECK(p.nodes[0].outputs[0].str() == "i32[seq_len<=64]");
  CHECK(p.nodes[1].attr_str("name") == "page_table");
  CHECK(p.nodes[1].outputs[0].str() == "i32[13]");  // ceil(200 / 16)
  CHECK(count(p, OpKind::kKVAppend) == 2);
  CHECK(count(p, OpKind::kAttention) == 2);
  CHECK(count(p, OpKind::kLinear) == 2 * 4 + 1);
  CHECK(count(p, OpKind::kTakeLast) == 1);
  CHECK(count(p, OpKind::kCast) == 1);
  CHECK(p.type(p.results[0]).str() == "f32[1, 100]");
  const Node& last = find(p, OpKind::kTakeLast);
  CHECK(last.outputs[0].str() == "f16[1, 64]");

  const Function& d = m.function("decode");
  CHECK(d.nodes[0].outputs[0].str() == "i32[1]");
  CHECK(count(d, OpKind::kTakeLast) == 0);
  CHECK(d.nodes.size() == p.nodes.size() - 1);
  for (const Node& n : d.nodes)
    for (const TensorType& t : n.outputs)
      for (const Dim& dim : t.shape) CHECK_FALSE(dim.is_symbolic());
  CHECK(d.type(d.results[0]).str() == "f32[1, 100]");

  const Function& s = m.function("softmax_with_temperature");
  CHECK(ops(s) == std::vector<OpKind>{OpKind::kInput, OpKind::kInput, OpKind::kSoftmaxTemperature});
  CHECK(s.type(s.results[0]).str() == "f32[1, 100]");
  const Function& a = m.function("argmax");
  CHECK(a.type(a.results[0]).str() == "i32[1]");
  CHECK(verify(m).empty());
}

TEST_CASE("llama graph: one layer's node sequence and attributes", "[models][graph]") {
  Module m = build_llama(tiny(false), opts());
  const Function& p = m.function("prefill");
  // tokens, page_table, embed param, embedding, then layer 0.
  const std::vector<OpKind> all = ops(p);
  std::vector<OpKind> layer(all.begin() + 4, all.begin() + 4 + 26);
  CHECK(layer == std::vector<OpKind>{
                     OpKind::kParam,   OpKind::kRMSNorm, OpKind::kParam,    OpKind::kLinear,
                     OpKind::kRope,    OpKind::kKVCache, OpKind::kKVAppend, OpKind::kAttention,
                     OpKind::kParam,   OpKind::kLinear,  OpKind::kAdd,      OpKind::kParam,
                     OpKind::kRMSNorm, OpKind::kParam,   OpKind::kLinear,   OpKind::kSlice,
                     OpKind::kSlice,   OpKind::kSilu,    OpKind::kMul,      OpKind::kParam,
                     OpKind::kLinear,  OpKind::kAdd,     OpKind::kParam,    OpKind::kRMSNorm,
                     OpKind::kParam,   OpKind::kLinear});
  const Node& rope = find(p, OpKind::kRope);
  CHECK(rope.attr_int("offset") == 0);
  CHECK(rope.attr_int("heads") == 4);
  CHECK(rope.attr_int("head_dim") == 16);
  CHECK(rope.attr_float("theta") == 10000.0);
  CHECK_FALSE(rope.has_attr("rope_scaling"));
  CHECK(rope.outputs[0].str() == "f16[seq_len<=64, 64]");
  const Node& app = find(p, OpKind::kKVAppend);
  CHECK(app.attr_int("k_offset") == 64);
  CHECK(app.attr_int("v_offset") == 96);
  CHECK(app.attr_int("kv_heads") == 2);
  CHECK(app.outputs[0].str() == "f16[13, 2, 2, 16, 16]");
  CHECK(p.node(app.inputs[1]).attr_int("layer") == 0);
  const Node& att = find(p, OpKind::kAttention);
  CHECK(att.attr_int("heads") == 4);
  CHECK(att.attr_int("kv_heads") == 2);
  CHECK(att.attr_int("head_dim") == 16);
  CHECK(p.node(att.inputs[1]).op == OpKind::kKVAppend);  // attention reads the appended cache
  const Node& g = find(p, OpKind::kSlice);
  CHECK(g.attr_int("begin") == 0);
  CHECK(g.attr_int("end") == 96);
  CHECK(find(p, OpKind::kRMSNorm).attr_float("eps") == 1e-5);
  CHECK(find(p, OpKind::kLinear).attrs.empty());
}

TEST_CASE("llama graph: llama3 rope scaling attributes", "[models][graph]") {
  LlamaConfig c = tiny(false);
  c.rope.theta = 500000.0;
  c.rope.scaling = "llama3";
  Module m = build_llama(c, opts());
  for (OpKind k : {OpKind::kRope, OpKind::kKVAppend}) {
    const Node& n = find(m.function("decode"), k);
    CHECK(n.attr_str("rope_scaling") == "llama3");
    CHECK(n.attr_float("theta") == 500000.0);
    CHECK(n.attr_float("factor") == 8.0);
    CHECK(n.attr_float("low_freq_factor") == 1.0);
    CHECK(n.attr_float("high_freq_factor") == 4.0);
    CHECK(n.attr_int("original_max_position") == 8192);
  }
}

TEST_CASE("llama graph: printed decode function reads as expected", "[models][graph][printer]") {
  LlamaConfig c = tiny(false);
  c.num_layers = 1;
  std::string text = print(build_llama(c, opts()).function("decode"));
  CHECK_THAT(
      text, Catch::StartsWith("func decode {\n"
                              "  %0 = input() {name=\"tokens\"} : i32[1]\n"
                              "  %1 = input() {name=\"page_table\"} : i32[13]\n"
                              "  %2 = param() {name=\"model.embed_tokens.weight\"} : f16[100, 64]\n"
                              "  %3 = embedding(%2, %0) : f16[1, 64]\n"));
  CHECK_THAT(text, Catch::Contains("= rope(%7) {head_dim=16, heads=4, offset=0, theta=10000.0} "
                                   ": f16[1, 64]\n"));
  CHECK_THAT(text,
             Catch::Contains("= kv_append(%7, %9, %1) {head_dim=16, k_offset=64, "
                             "kv_heads=2, theta=10000.0, v_offset=96} : f16[13, 2, 2, 16, 16]"));
  CHECK_THAT(text, Catch::EndsWith("  %30 = cast(%29) : f32[1, 100]\n  return %30\n}\n"));
}

TEST_CASE("llama graph: options are checked", "[models][graph]") {
  LlamaConfig c = tiny(false);
  LlamaBuildOptions o = opts();
  o.act_dtype = DataType::bf16();
  CHECK_THROWS_WITH(build_llama(c, o),
                    Catch::Contains("'act_dtype' is bf16 (expected f16 or f32)"));
  o = opts();
  o.prefill_chunk_size = 300;
  CHECK_THROWS_WITH(build_llama(c, o), Catch::Contains("'prefill_chunk_size' is 300"));
  o = opts();
  o.page_size = 0;
  CHECK_THROWS_WITH(build_llama(c, o), Catch::Contains("'page_size' is 0"));
  c.num_kv_heads = 3;
  CHECK_THROWS_WITH(build_llama(c, opts()), Catch::Contains("num_key_value_heads"));
}
