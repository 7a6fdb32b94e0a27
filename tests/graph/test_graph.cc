// Graph IR tests: types, attribute access, the printer's text, structural equality and the
// verifier's diagnostics.
#include <catch2/catch.hpp>

#include "ir/graph/graph.h"
#include "runtime/error.h"

using namespace mlcc;
using namespace mlcc::graph;
using ir::DataType;

namespace {

TensorType f16(std::vector<Dim> shape) { return {DataType::f16(), std::move(shape)}; }
const Dim kSeq = Dim::symbolic("seq_len", 2048);

Node node(OpKind op, std::vector<Value> inputs, TensorType t, Attrs attrs = {}) {
  Node n;
  n.op = op;
  n.inputs = std::move(inputs);
  n.outputs = {std::move(t)};
  n.attrs = std::move(attrs);
  return n;
}

// x[seq, 64] -> rms_norm -> linear with w[128, 64].
Module small_module(double eps = 1e-5) {
  Module m;
  m.params = {{"norm.weight", f16({Dim::constant(64)})},
              {"proj.weight", f16({Dim::constant(128), Dim::constant(64)})}};
  Function f;
  f.name = "main";
  Value x = f.add(node(OpKind::kInput, {}, f16({kSeq, Dim::constant(64)}), {{"name", "x"}}));
  Value nw = f.add(node(OpKind::kParam, {}, m.params[0].type, {{"name", "norm.weight"}}));
  Value n = f.add(node(OpKind::kRMSNorm, {x, nw}, f16({kSeq, Dim::constant(64)}), {{"eps", eps}}));
  Value w = f.add(node(OpKind::kParam, {}, m.params[1].type, {{"name", "proj.weight"}}));
  Value y = f.add(node(OpKind::kLinear, {n, w}, f16({kSeq, Dim::constant(128)}),
                       {{"quantization", "q4f16_1"}}));
  f.results = {y};
  m.functions.push_back(f);
  return m;
}

}  // namespace

TEST_CASE("graph: tensor types print and size at their bounds", "[graph]") {
  TensorType t = f16({kSeq, Dim::constant(12288)});
  CHECK(t.str() == "f16[seq_len<=2048, 12288]");
  CHECK(t.max_elements() == 2048 * 12288);
  CHECK(t.max_bytes() == 2048 * 12288 * 2);
  TensorType w{DataType::u32(), {Dim::constant(4096), Dim::constant(512)}};
  CHECK(w.str() == "u32[4096, 512]");
  CHECK(w.max_bytes() == 4096 * 512 * 4);
  CHECK(TensorType{DataType::f32(), {}}.str() == "f32[]");
  CHECK(TensorType{DataType::f32(), {}}.max_elements() == 1);
  CHECK(!(Dim::symbolic("seq_len", 16) == Dim::constant(16)));
}

TEST_CASE("graph: operator names and output counts", "[graph]") {
  CHECK(std::string(op_name(OpKind::kLinear)) == "linear");
  CHECK(std::string(op_name(OpKind::kAddRMSNorm)) == "add_rms_norm");
  CHECK(std::string(op_name(OpKind::kSoftmaxTemperature)) == "softmax_temperature");
  CHECK(op_num_outputs(OpKind::kAddRMSNorm) == 2);
  CHECK(op_num_outputs(OpKind::kRope) == 1);
  CHECK(op_num_outputs(OpKind::kCall) == -1);
}

TEST_CASE("graph: attribute getters check presence and type", "[graph]") {
  Node n = node(OpKind::kSlice, {}, f16({kSeq}),
                {{"begin", int64_t{3}}, {"eps", 0.5}, {"q", std::string("q4f16_1")}});
  CHECK(n.attr_int("begin") == 3);
  CHECK(n.attr_float("eps") == 0.5);
  CHECK(n.attr_float("begin") == 3.0);  // ints read as floats
  CHECK(n.attr_str("q") == "q4f16_1");
  CHECK(n.has_attr("begin"));
  CHECK_FALSE(n.has_attr("end"));
  CHECK_THROWS_WITH(n.attr_int("end"),
                    Catch::Contains("slice") && Catch::Contains("'end' is missing"));
  CHECK_THROWS_WITH(n.attr_int("eps"),
                    Catch::Contains("'eps' has the wrong type (expected an integer)"));
  CHECK_THROWS_WITH(n.attr_str("begin"), Catch::Contains("expected a string"));
}

TEST_CASE("graph: Function::add checks inputs, type() checks values", "[graph]") {
  Function f;
  f.name = "g";
  Value x = f.add(node(OpKind::kInput, {}, f16({kSeq}), {{"name", "x"}}));
  CHECK(x == Value{0, 0});
  CHECK(f.type(x).str() == "f16[seq_len<=2048]");
  CHECK_THROWS_WITH(f.add(node(OpKind::kSilu, {Value{1, 0}}, f16({kSeq}))),
                    Catch::Contains("input %1.0 of new node silu"));
  CHECK_THROWS_WITH(f.add(node(OpKind::kSilu, {Value{0, 1}}, f16({kSeq}))),
                    Catch::Contains("does not name an output"));
  Node two = node(OpKind::kAddRMSNorm, {x, x}, f16({kSeq}));  // needs two output types
  CHECK_THROWS_WITH(f.add(two), Catch::Contains("add_rms_norm has 1 output types, expected 2"));
  CHECK_THROWS_WITH(f.type(Value{5, 0}), Catch::Contains("no node %5"));
  CHECK_THROWS_WITH(f.type(Value{0, 1}), Catch::Contains("has no output 1"));
}

TEST_CASE("graph: module lookups name what is missing", "[graph]") {
  Module m = small_module();
  CHECK(m.function("main").nodes.size() == 5);
  CHECK(m.param("proj.weight").type.str() == "f16[128, 64]");
  CHECK_THROWS_WITH(m.function("decode"),
                    Catch::Contains("no function 'decode'") && Catch::Contains("has: main"));
  CHECK_THROWS_WITH(m.param("lm_head.weight"), Catch::Contains("no parameter 'lm_head.weight'"));
}

TEST_CASE("graph: printer text", "[graph][printer]") {
  Module m = small_module();
  CHECK(print(m.functions[0]) ==
        "func main {\n"
        "  %0 = input() {name=\"x\"} : f16[seq_len<=2048, 64]\n"
        "  %1 = param() {name=\"norm.weight\"} : f16[64]\n"
        "  %2 = rms_norm(%0, %1) {eps=1e-05} : f16[seq_len<=2048, 64]\n"
        "  %3 = param() {name=\"proj.weight\"} : f16[128, 64]\n"
        "  %4 = linear(%2, %3) {quantization=\"q4f16_1\"} : f16[seq_len<=2048, 128]\n"
        "  return %4\n"
        "}\n");
  CHECK(print(m) ==
        "module {\n"
        "  param norm.weight : f16[64]\n"
        "  param proj.weight : f16[128, 64]\n"
        "}\n"
        "\n" +
            print(m.functions[0]));
}

TEST_CASE("graph: printer shows multiple outputs, output indices and float attrs", "[graph]") {
  Function f;
  f.name = "h";
  Value x = f.add(node(OpKind::kInput, {}, f16({kSeq}), {{"name", "x"}}));
  Node an = node(OpKind::kAddRMSNorm, {x, x, x}, f16({kSeq}), {{"eps", 1.0}});
  an.outputs.push_back(f16({kSeq}));
  Value s = f.add(an);
  Value r = f.add(node(OpKind::kRope, {Value{s.node, 1}}, f16({kSeq}),
                       {{"theta", 10000.0}, {"offset", int64_t{64}}}));
  f.results = {Value{s.node, 0}, r};
  CHECK(print(f) ==
        "func h {\n"
        "  %0 = input() {name=\"x\"} : f16[seq_len<=2048]\n"
        "  %1 = add_rms_norm(%0, %0, %0) {eps=1.0} : (f16[seq_len<=2048], f16[seq_len<=2048])\n"
        "  %2 = rope(%1.1) {offset=64, theta=10000.0} : f16[seq_len<=2048]\n"
        "  return %1, %2\n"
        "}\n");
}

TEST_CASE("graph: structural equality", "[graph][equal]") {
  Module a = small_module(), b = small_module();
  b.functions[0].name = "main";
  CHECK(structural_equal(a, b));
  CHECK(structural_equal(a.functions[0], b.functions[0]));

  SECTION("function names do not matter for functions, do for modules") {
    b.functions[0].name = "other";
    CHECK(structural_equal(a.functions[0], b.functions[0]));
    CHECK_FALSE(structural_equal(a, b));
  }
  SECTION("an attribute value") { CHECK_FALSE(structural_equal(a, small_module(1e-6))); }
  SECTION("an attribute's type: int 1 is not float 1.0") {
    a.functions[0].nodes[2].attrs["k"] = int64_t{1};
    b.functions[0].nodes[2].attrs["k"] = 1.0;
    CHECK_FALSE(structural_equal(a.functions[0], b.functions[0]));
  }
  SECTION("an output type") {
    b.functions[0].nodes[4].outputs[0].shape[0] = Dim::symbolic("seq_len", 1024);
    CHECK_FALSE(structural_equal(a.functions[0], b.functions[0]));
  }
  SECTION("the wiring") {
    b.functions[0].nodes[4].inputs = {Value{0, 0}, Value{3, 0}};
    CHECK_FALSE(structural_equal(a.functions[0], b.functions[0]));
  }
  SECTION("the results") {
    b.functions[0].results = {Value{2, 0}};
    CHECK_FALSE(structural_equal(a.functions[0], b.functions[0]));
  }
  SECTION("the op") {
    b.functions[0].nodes[2].op = OpKind::kSilu;
    CHECK_FALSE(structural_equal(a.functions[0], b.functions[0]));
  }
  SECTION("the parameter list") {
    b.params[1].type.dtype = DataType::f32();
    CHECK(structural_equal(a.functions[0], b.functions[0]));
    CHECK_FALSE(structural_equal(a, b));
  }
}

TEST_CASE("graph: verify accepts a well formed module", "[graph][verify]") {
  CHECK(verify(small_module()).empty());
}

TEST_CASE("graph: verify reports each kind of problem", "[graph][verify]") {
  Module m = small_module();
  Function& f = m.functions[0];
  auto has = [](const std::vector<std::string>& problems, const std::string& text) {
    for (const std::string& p : problems)
      if (p.find(text) != std::string::npos) return true;
    return false;
  };
  SECTION("an input refers to a later node") {
    f.nodes[2].inputs[0] = Value{3, 0};
    auto p = verify(m);
    REQUIRE(p.size() == 1);
    CHECK(p[0] ==
          "function 'main', node %2 (rms_norm): input %3 is not an output of an earlier node");
  }
  SECTION("an input names a missing output") {
    f.nodes[4].inputs[1] = Value{3, 2};
    CHECK(has(verify(m), "node %4 (linear): input %3.2 is not an output"));
  }
  SECTION("an unknown parameter") {
    f.nodes[3].attrs["name"] = std::string("lm_head.weight");
    CHECK(has(verify(m), "parameter 'lm_head.weight' is not in the module's list"));
  }
  SECTION("a parameter whose type differs from the module's") {
    f.nodes[1].outputs[0].dtype = DataType::f32();
    CHECK(has(verify(m), "has type f32[64] but the module lists f16[64]"));
  }
  SECTION("wrong output counts") {
    f.nodes[2].outputs.push_back(f.nodes[2].outputs[0]);
    CHECK(has(verify(m), "node %2 (rms_norm): 2 outputs, expected 1"));
  }
  SECTION("leaf attributes") {
    f.nodes[0].attrs.clear();
    f.nodes.push_back(node(OpKind::kKVCache, {}, f16({Dim::constant(4)})));
    auto p = verify(m);
    CHECK(has(p, "node %0 (input): needs a string attribute 'name'"));
    CHECK(has(p, "node %5 (kv_cache): needs an integer attribute 'layer'"));
  }
  SECTION("duplicate inputs, functions and parameters") {
    f.nodes[1] = node(OpKind::kInput, {}, f16({Dim::constant(64)}), {{"name", "x"}});
    m.functions.push_back(m.functions[0]);
    m.params.push_back(m.params[0]);
    auto p = verify(m);
    CHECK(has(p, "a second input named 'x'"));
    CHECK(has(p, "function 'main' defined twice"));
    CHECK(has(p, "parameter 'norm.weight' listed twice"));
  }
  SECTION("results") {
    f.results = {Value{9, 0}};
    CHECK(has(verify(m), "function 'main': result %9 is not an output of a node"));
    f.results.clear();
    CHECK(has(verify(m), "function 'main': no results"));
  }
}
