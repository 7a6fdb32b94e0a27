// Tests of the model-library loader: postfix launch extents, manifest parsing (each
// malformed field named in the error), and the refusals of Library::load.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/launch_expr.h"
#include "runtime/library.h"
#include "tests/runtime/runtime_test_util.h"

using mlcc::Error;
using mlcc::LaunchExpr;
using nlohmann::json;

namespace {

int64_t eval(const json& postfix, std::vector<int64_t> scalars) {
  return LaunchExpr::parse(postfix, static_cast<int>(scalars.size()), "test").eval(scalars);
}

// parse_manifest of the toy manifest after `edit`.
template <typename Edit>
mlcc::Manifest parse_edited(Edit edit) {
  json j = mlcc::test::toy_manifest();
  edit(j);
  return mlcc::parse_manifest(j.dump(), "toy.so");
}

}  // namespace

TEST_CASE("launch_expr: postfix extents evaluate over the kernel's scalars", "[runtime][library]") {
  CHECK(LaunchExpr().eval({}) == 1);
  CHECK(eval({42}, {}) == 42);
  CHECK(eval({"$0", 31, "+", 32, "/"}, {100}) == 4);
  CHECK(eval({"$0", 31, "+", 32, "/"}, {96}) == 3);
  CHECK(eval({"$1", "$0", "-"}, {3, 10}) == 7);
  CHECK(eval({"$0", "$1", "*", 5, "%"}, {3, 4}) == 2);
  CHECK(eval({"$0", 8, "min", 2, "max"}, {100}) == 8);
  CHECK(eval({"$0", 8, "min", 2, "max"}, {1}) == 2);
  // Floor division and modulo, as the IR's integer / and %.
  CHECK(eval({"$0", 4, "/"}, {-7}) == -2);
  CHECK(eval({"$0", 4, "%"}, {-7}) == 1);
  LaunchExpr e = LaunchExpr::parse(json{"$0", 31, "+", 32, "/", 2, "max"}, 1, "f");
  CHECK(e.str() == "max((($0 + 31) / 32), 2)");
  CHECK_FALSE(e.is_constant());
  CHECK(LaunchExpr::constant(7).eval({}) == 7);
  CHECK(LaunchExpr::constant(7).is_constant());
}

TEST_CASE("launch_expr: malformed expressions are refused where they are parsed",
          "[runtime][library]") {
  auto parse = [](const json& j, int n) { return LaunchExpr::parse(j, n, "kernels[0].grid[0]"); };
  CHECK_THROWS_WITH(parse(json::array(), 1), Catch::Contains("kernels[0].grid[0]") &&
                                                 Catch::Contains("non-empty JSON array"));
  CHECK_THROWS_WITH(parse(json(5), 1), Catch::Contains("postfix expression"));
  CHECK_THROWS_WITH(parse({"$0", "+"}, 1),
                    Catch::Contains("kernels[0].grid[0][1]") && Catch::Contains("two operands"));
  CHECK_THROWS_WITH(parse({"$0", 1}, 1), Catch::Contains("leaves 2 values"));
  CHECK_THROWS_WITH(parse({"$2"}, 2), Catch::Contains("\"$2\" names no scalar argument") &&
                                          Catch::Contains("$0 .. $1"));
  CHECK_THROWS_WITH(parse({"$x"}, 1), Catch::Contains("names no scalar argument"));
  CHECK_THROWS_WITH(parse({1, 2, "^"}, 0), Catch::Contains("unknown token \"^\""));
  CHECK_THROWS_WITH(parse({1.5}, 0), Catch::Contains("expected an integer"));
  LaunchExpr div = parse({1, "$0", "/"}, 1);
  CHECK_THROWS_WITH(div.eval(std::vector<int64_t>{0}),
                    Catch::Contains("divides by zero") && Catch::Contains("(1 / $0)"));
  LaunchExpr big = parse({"$0", "$0", "*"}, 1);
  CHECK_THROWS_WITH(big.eval(std::vector<int64_t>{int64_t{1} << 40}), Catch::Contains("overflows"));
}

TEST_CASE("library: the toy manifest parses into the structs the runtime uses",
          "[runtime][library]") {
  auto lib = mlcc::Library::load(mlcc::test::toy_library("mlcc_toy_cpu"));
  const mlcc::Manifest& m = lib->manifest();
  CHECK(m.format_version == 1);
  CHECK(m.target_kind == "cpu");
  CHECK(m.context_window == 16);
  CHECK(m.prefill_chunk_size == 8);
  CHECK(m.kv_cache.num_layers == 2);
  CHECK(m.kv_cache.layer_bytes() == 4 * 2 * 1 * 4 * 4 * 4);
  REQUIRE(m.params.size() == 2);
  CHECK(m.params[0].name == "embed.weight");
  CHECK(m.params[0].bytes == 8 * 4 * 4);
  CHECK(m.find_param("bias") == 1);
  CHECK(m.find_param("nope") == -1);
  REQUIRE(m.kernels.size() == 7);
  CHECK(m.kernels[2].scalar_bits == std::vector<int>{32, 64, 32});
  CHECK(m.kernels[0].grid[0].eval(std::vector<int64_t>{5}) == 1);
  CHECK(m.storages == std::vector<int64_t>{256, 192});
  CHECK(m.model["vocab_size"] == 8);
  const mlcc::FunctionInfo* prefill = m.find_function("prefill");
  REQUIRE(prefill != nullptr);
  CHECK(prefill->scalars == std::vector<std::string>{"seq_len", "total_seq_len"});
  REQUIRE(prefill->inputs.size() == 2);
  CHECK(prefill->inputs[0].shape[0].symbol == "seq_len");
  CHECK(prefill->inputs[1].shape[0].value == 4);
  CHECK(m.find_function("nope") == nullptr);
  CHECK(lib->path().front() == '/');
  CHECK(lib->ptx().empty());
}

TEST_CASE("library: another format version is refused naming both versions", "[runtime][library]") {
  std::string v2 = mlcc::test::toy_library("mlcc_toy_v2");
  REQUIRE_THROWS_WITH(
      mlcc::Library::load(v2),
      Catch::Contains(v2) && Catch::Contains("was built with library format version 2; this "
                                             "runtime reads version 1"));
}

TEST_CASE("library: files that are not mlcc libraries are refused", "[runtime][library]") {
  std::string none = mlcc::test::toy_library("mlcc_toy_no_manifest");
  REQUIRE_THROWS_WITH(mlcc::Library::load(none),
                      Catch::Contains(none) && Catch::Contains("is not an mlcc model library") &&
                          Catch::Contains("mlcc_library_manifest"));
  REQUIRE_THROWS_WITH(mlcc::Library::load("/nonexistent/model.so"),
                      Catch::Contains("cannot load model library '/nonexistent/model.so'"));
}

TEST_CASE("library: malformed manifest fields are named in the error", "[runtime][library]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(mlcc::parse_manifest("{not json", "toy.so"),
                    Contains("toy.so") && Contains("not valid JSON"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j.erase("context_window"); }),
                    Contains("library 'toy.so'") && Contains("'context_window' is missing"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["prefill_chunk_size"] = "big"; }),
                    Contains("'prefill_chunk_size' should be an integer >= 1, got \"big\""));
  CHECK_THROWS_WITH(
      parse_edited([](json& j) { j["target_kind"] = "metal"; }),
      Contains("target kind 'metal'") && Contains("cannot run") && Contains("cpu, cuda, rocm"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["params"][1]["dtype"] = "f8"; }),
                    Contains("'params[1].dtype'") && Contains("unknown dtype 'f8'"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["params"][0]["shape"][1] = -4; }),
                    Contains("'params[0].shape[1]'"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["params"][1]["name"] = "embed.weight"; }),
                    Contains("'params[1].name'") && Contains("no other parameter has"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["kernels"][3].erase("num_buffers"); }),
                    Contains("'kernels[3].num_buffers' is missing"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["kernels"][0]["grid"][0] = {"$1"}; }),
                    Contains("'kernels[0].grid[0]'") && Contains("names no scalar argument"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["kernels"][2]["scalar_bits"][1] = 16; }),
                    Contains("'kernels[2].scalar_bits[1]' should be 32 or 64"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["kv_cache"]["num_pages"] = 3; }),
                    Contains("'kv_cache.num_pages'") && Contains("at least"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["storages"][1] = -1; }),
                    Contains("'storages[1]'"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["functions"]["decode"]["code"][3] = "x"; }),
                    Contains("'functions.decode.code[3]' should be an integer"));
  CHECK_THROWS_WITH(
      parse_edited([](json& j) { j["functions"]["embed"]["scalars"] = json::array(); }),
      Contains("'functions.embed.outputs[0].shape'"));
  // A cpu library's kernels need no launch extents; a cuda library's do.
  CHECK_NOTHROW(parse_edited([](json& j) { j["kernels"][0].erase("grid"); }));
  CHECK_THROWS_WITH(parse_edited([](json& j) {
                      j["target_kind"] = "cuda";
                      j["kernels"][0].erase("grid");
                    }),
                    Contains("'kernels[0].grid' is missing"));
}

TEST_CASE("library: kernels' shared_bytes is optional and checked", "[runtime][library]") {
  using Catch::Contains;
  mlcc::Manifest m = parse_edited([](json& j) { j["kernels"][1]["shared_bytes"] = 4096; });
  CHECK(m.kernels[1].shared_bytes == 4096);
  CHECK(m.kernels[0].shared_bytes == 0);
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["kernels"][1]["shared_bytes"] = -1; }),
                    Contains("manifest field 'kernels[1].shared_bytes' should be a non-negative "
                             "integer, got -1"));
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["kernels"][0]["shared_bytes"] = "4 KiB"; }),
                    Contains("'kernels[0].shared_bytes' should be a non-negative integer"));
}

#if MLCC_WITH_VULKAN
TEST_CASE("library: a vulkan manifest's \"vulkan\" object is required and checked",
          "[runtime][library][vulkan]") {
  using Catch::Contains;
  auto vulkan = [](json& j) {
    j["target"] = "vulkan -subgroup=32";
    j["target_kind"] = "vulkan";
    j["vulkan"] = {{"subgroup_size", 32}};
  };
  CHECK(parse_edited(vulkan).vulkan.subgroup_size == 32);
  // Other targets need none (their kernels assume no subgroup size).
  CHECK(parse_edited([](json&) {}).vulkan.subgroup_size == 1);
  CHECK_THROWS_WITH(parse_edited([&](json& j) {
                      vulkan(j);
                      j.erase("vulkan");
                    }),
                    Contains("library 'toy.so': manifest field 'vulkan' is missing; expected a "
                             "JSON object {\"subgroup_size\": N} (vulkan libraries)"));
  CHECK_THROWS_WITH(parse_edited([&](json& j) {
                      vulkan(j);
                      j["vulkan"] = 32;
                    }),
                    Contains("manifest field 'vulkan' should be a JSON object, got 32"));
  CHECK_THROWS_WITH(parse_edited([&](json& j) {
                      vulkan(j);
                      j["vulkan"] = json::object();
                    }),
                    Contains("manifest field 'vulkan.subgroup_size' is missing; expected a power "
                             "of two from 1 to 128 (the target's -subgroup)"));
  for (json bad : {json(48), json(0), json(256), json(-8), json("32"), json(8.5)}) {
    CAPTURE(bad.dump());
    CHECK_THROWS_WITH(parse_edited([&](json& j) {
                        vulkan(j);
                        j["vulkan"]["subgroup_size"] = bad;
                      }),
                      Contains("manifest field 'vulkan.subgroup_size' should be a power of two "
                               "from 1 to 128 (the target's -subgroup), got " +
                               bad.dump()));
  }
}
#endif  // MLCC_WITH_VULKAN
