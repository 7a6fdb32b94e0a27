// Hugging Face checkpoints through `mlcc convert-weight`: a small random GQA Llama written
// as safetensors (f32, f16, bf16, sharded with an index), converted to q0f32 and q4f16_1,
// loaded into a CPU library with load_params and compared with the reference forward pass
// (q0f32 within 1e-4; q4 against the reference on the dequantized weights within 1e-2).
#include <catch2/catch.hpp>

#include "models/q4_quantize.h"
#include "runtime/chat_config.h"
#include "runtime/error.h"
#include "runtime/tensor_cache.h"
#include "tests/convert/convert_test_util.h"
#include "tools/compile_model.h"
#include "tools/convert_weight/converter.h"
#include "tools/convert_weight/weight_source.h"

using namespace mlcc;
using test::TempDir;

TEST_CASE("convert-weight: HF safetensors (f32, f16, bf16, sharded) in q0f32 match the reference",
          "[convert][hf]") {
  const models::LlamaConfig c = test::small_llama();
  const testing::Weights w = testing::random_llama_weights(c, 11);
  struct Variant {
    std::string dtype;
    int shards;
  };
  for (const Variant& v :
       {Variant{"F32", 1}, Variant{"F16", 1}, Variant{"BF16", 1}, Variant{"F32", 3}}) {
    INFO(v.dtype << " in " << v.shards << " file(s)");
    TempDir tmp;
    test::write_hf_model(tmp / "hf", c, w, v.dtype, v.shards);
    convert::convert_weight(test::convert_options(tmp / "hf", tmp / "out", "q0f32"));
    const testing::Weights stored = test::rounded(w, v.dtype);
    // The converted tensors are the checkpoint's values, exactly.
    const testing::Weights back = test::read_converted(tmp / "out", c, "q0f32");
    REQUIRE(back.size() == stored.size());
    for (const auto& [name, values] : stored) CHECK(back.at(name) == values);
    CHECK(test::worst_logit_error(test::compiled_library(c, "q0f32"), tmp / "out", c, stored) <
          1e-4);
  }
}

TEST_CASE("convert-weight: HF safetensors in q4f16_1 are MLC's quantization and run",
          "[convert][hf]") {
  const models::LlamaConfig c = test::small_llama();
  const testing::Weights w = testing::random_llama_weights(c, 12);
  TempDir tmp;
  test::write_hf_model(tmp / "hf", c, w, "F16", 2);
  const convert::ConvertSummary s =
      convert::convert_weight(test::convert_options(tmp / "hf", tmp / "out", "q4f16_1"));
  CHECK(s.source_kind == "safetensors");
  // Bit-exact with quantize_q4 of the fused f16 weights.
  const testing::Weights stored = test::rounded(w, "F16");
  const testing::Weights back = test::read_converted(tmp / "out", c, "q4f16_1");
  for (const char* name : {"model.layers.1.self_attn.qkv_proj.weight", "lm_head.weight"}) {
    const std::vector<float>& src = stored.at(name);
    const int64_t rows = static_cast<int64_t>(src.size()) / c.hidden_size;
    CHECK(back.at(name) == models::dequantize_q4(
                               models::quantize_q4(src, rows, c.hidden_size, ir::DataType::f16())));
  }
  CHECK(test::worst_logit_error(test::compiled_library(c, "q4f16_1"), tmp / "out", c, back) < 1e-2);
}

TEST_CASE("convert-weight writes exactly the parameters a compiled library lists",
          "[convert][hf]") {
  for (const char* quant : {"q4f16_1", "q4f32_1", "q0f16", "q0f32"})
    for (bool tied : {false, true}) {
      models::LlamaConfig c = test::small_llama();
      c.tie_word_embeddings = tied;
      c.intermediate_size = 100;  // q4: a last group padded with zeros
      CompileOptions o;
      o.quantization = quant;
      o.context_window = 64;
      o.prefill_chunk_size = 16;
      const graph::Program p = compile_program(c, resolve_options(c, o));
      std::vector<std::string> want, got;
      for (const graph::ParamInfo& info : p.module.params) {
        std::string s = info.name + " " + ir::to_string(info.type.dtype);
        for (const graph::Dim& d : info.type.shape) s += " " + std::to_string(d.value);
        want.push_back(s);
      }
      for (const convert::ParamPlan& plan : convert::plan_params(c, quant))
        for (const convert::OutputTensor& t : convert::output_tensors(plan, quant)) {
          std::string s = t.name + " " + t.dtype;
          for (int64_t d : t.shape) s += " " + std::to_string(d);
          got.push_back(s);
        }
      INFO(quant << (tied ? ", tied" : ""));
      CHECK(got == want);
    }
}
