// Helpers of the weight-conversion tests: temporary directories, small random Llamas
// written as Hugging Face checkpoints (safetensors in f32/f16/bf16, one file or sharded),
// compiled CPU libraries cached per (config, quantization), and reading a converted model
// directory back into float weights.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/llama_config.h"
#include "runtime/model.h"
#include "tests/models/reference_llama.h"
#include "tests/temp_dir.h"
#include "tools/convert_weight/converter.h"

namespace mlcc::test {

const std::string kStoriesDir = MLCC_SOURCE_DIR "/../shared/models/stories260K/";

using ::mlcc::testing::TempDir;

// Hidden 64, FFN 96, 2 layers, 4 heads of 16, 2 KV heads (GQA), vocab 160, untied.
models::LlamaConfig small_llama();

// Options converting `src` into `out` with `quant` on two threads (the tests' machine has
// two cores).
convert::ConvertOptions convert_options(const std::string& src, const std::string& out,
                                        const std::string& quant);
// config.json of a LlamaConfig (the fields parse_hf_config reads).
nlohmann::json hf_config_json(const models::LlamaConfig& c);

// One tensor to write: values stored as dtype "F32", "F16" or "BF16".
struct StTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};
void write_safetensors(const std::string& path, const std::vector<StTensor>& tensors,
                       const std::string& dtype);

// Splits MLC-named weights (fused qkv_proj, gate_up_proj) into Hugging Face's tensors.
std::vector<StTensor> hf_tensors(const models::LlamaConfig& c, const testing::Weights& w);
// The weights as a checkpoint of `dtype` stores them (f16 / bf16 rounding).
testing::Weights rounded(const testing::Weights& w, const std::string& dtype);

// Writes dir/config.json and model.safetensors, or with `shards` > 1 that many files and
// model.safetensors.index.json; a tokenizer.json stub and tokenizer_config.json with
// `chat_template` unless it is empty.
void write_hf_model(const std::string& dir, const models::LlamaConfig& c, const testing::Weights& w,
                    const std::string& dtype, int shards = 1,
                    const std::string& chat_template = "");

// A CPU library of the config (context window 64, prefill chunk 16), compiled once per
// config and quantization for the whole test run.
const std::string& compiled_library(const models::LlamaConfig& c, const std::string& quant);

// The bytes of one tensor of a converted model directory.
std::vector<uint8_t> record_bytes(const std::string& dir, const std::string& name);

// The converted weights as the library sees them: q4 dequantized, f16 widened.
testing::Weights read_converted(const std::string& dir, const models::LlamaConfig& c,
                                const std::string& quant);

// Logits of every position through the library loaded with load_params(dir), and through
// the reference on `weights`; relative error of the worst position.
double worst_logit_error(const std::string& lib, const std::string& dir,
                         const models::LlamaConfig& c, const testing::Weights& weights);

// The message of the mlcc::Error fn throws (FAILs when it throws none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("expected an error");
  return "";
}

// Entries of a directory (to check that a failed conversion left nothing behind).
std::vector<std::string> entries(const std::string& dir);

}  // namespace mlcc::test
