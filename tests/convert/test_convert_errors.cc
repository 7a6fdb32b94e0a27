// Bad inputs to `mlcc convert-weight` and to load_params: each fails with one message
// naming the file and the tensor or field, and a failed conversion leaves no output (nor
// temporary) directory behind.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "runtime/chat_config.h"
#include "runtime/error.h"
#include "runtime/tensor_cache.h"
#include "tests/convert/convert_test_util.h"
#include "tools/convert_weight/converter.h"
#include "tools/convert_weight/gguf_writer.h"

using namespace mlcc;
using Catch::Contains;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

// An HF checkpoint of small_llama in tmp/hf; conversion options into tmp/out.
convert::ConvertOptions hf_setup(const TempDir& tmp, const std::string& quant = "q0f32") {
  const models::LlamaConfig c = test::small_llama();
  test::write_hf_model(tmp / "hf", c, testing::random_llama_weights(c, 5), "F32");
  return test::convert_options(tmp / "hf", tmp / "out", quant);
}

// The conversion fails, and the directory holds only what it held before.
std::string failed(const convert::ConvertOptions& o, const TempDir& tmp) {
  const std::vector<std::string> before = test::entries(tmp.path);
  const std::string msg = test::error_of([&] { convert::convert_weight(o); });
  CHECK(test::entries(tmp.path) == before);
  return msg;
}

}  // namespace

TEST_CASE("convert-weight: a truncated safetensors file names the file and tensor",
          "[convert][errors]") {
  TempDir tmp;
  convert::ConvertOptions o = hf_setup(tmp);
  const std::string st = tmp / "hf/model.safetensors";
  fs::resize_file(st, fs::file_size(st) - 100);
  const std::string msg = failed(o, tmp);
  CHECK_THAT(msg, Contains(st) && Contains("tensor 'lm_head.weight'") && Contains("truncated"));
}

TEST_CASE("convert-weight: a config that does not match the weights names both shapes",
          "[convert][errors]") {
  TempDir tmp;
  convert::ConvertOptions o = hf_setup(tmp);
  nlohmann::json config = test::hf_config_json(test::small_llama());
  config["intermediate_size"] = 128;
  std::ofstream(tmp / "hf/config.json") << config.dump();
  const std::string msg = failed(o, tmp);
  CHECK_THAT(msg, Contains(tmp / "hf/model.safetensors") &&
                      Contains("tensor 'model.layers.0.mlp.gate_proj.weight'") &&
                      Contains("[96, 64]") && Contains("needs [128, 64]"));
}

TEST_CASE("convert-weight: a GGUF tensor of an unsupported type is named with its type",
          "[convert][errors]") {
  TempDir tmp;
  const models::LlamaConfig c = test::small_llama();
  convert::GgufWriter g;
  g.set("general.architecture", "llama");
  g.set("llama.context_length", 64);
  g.set("llama.embedding_length", 64);
  g.set("llama.block_count", 1);
  g.set("llama.feed_forward_length", 96);
  g.set("llama.attention.head_count", 4);
  g.set("llama.attention.head_count_kv", 2);
  g.set("llama.attention.layer_norm_rms_epsilon", 1e-5);
  g.set("llama.vocab_size", c.vocab_size);
  auto f32 = [&](const std::string& name, std::vector<int64_t> dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    g.add_tensor(name, dims, 0, std::vector<uint8_t>(static_cast<size_t>(n) * 4));
  };
  f32("token_embd.weight", {64, 160});
  f32("output_norm.weight", {64});
  f32("blk.0.attn_norm.weight", {64});
  f32("blk.0.ffn_norm.weight", {64});
  f32("blk.0.attn_q.weight", {64, 64});
  f32("blk.0.attn_k.weight", {64, 32});
  f32("blk.0.attn_v.weight", {64, 32});
  f32("blk.0.attn_output.weight", {64, 64});
  f32("blk.0.ffn_up.weight", {64, 96});
  f32("blk.0.ffn_down.weight", {96, 64});
  // Q4_K (type 12): 24 super-blocks of 256 elements, 144 bytes each.
  g.add_tensor("blk.0.ffn_gate.weight", {64, 96}, 12, std::vector<uint8_t>(24 * 144));
  g.write(tmp / "k.gguf");
  convert::ConvertOptions o;
  o.source = tmp / "k.gguf";
  o.output = tmp / "out";
  o.no_tokenizer = true;
  const std::string msg = failed(o, tmp);
  CHECK_THAT(msg, Contains(tmp / "k.gguf") && Contains("'blk.0.ffn_gate.weight'") &&
                      Contains("type Q4_K") && Contains("Q8_0"));
}

TEST_CASE("convert-weight: a missing tokenizer is an error unless --no-tokenizer",
          "[convert][errors]") {
  TempDir tmp;
  convert::ConvertOptions o = hf_setup(tmp);
  fs::remove(tmp / "hf/tokenizer.json");
  CHECK_THAT(failed(o, tmp),
             Contains(tmp / "hf") && Contains("--tokenizer") && Contains("--no-tokenizer"));
  o.tokenizer = tmp / "no-such-tokenizer.model";
  CHECK_THAT(failed(o, tmp), Contains("no-such-tokenizer.model") && Contains("does not exist"));
  o.tokenizer.clear();
  o.no_tokenizer = true;
  convert::convert_weight(o);
  CHECK(ChatConfig::read(tmp / "out").tokenizer_files.empty());

  if (fs::exists(test::kStoriesDir + "stories260K.bin")) {
    convert::ConvertOptions l;
    l.source = test::kStoriesDir + "stories260K.bin";
    l.output = tmp / "stories";
    CHECK_THAT(failed(l, tmp),
               Contains("stories260K.bin") && Contains("llama2.c") && Contains("--tokenizer"));
  }
}

TEST_CASE("convert-weight: an existing output is kept unless --force", "[convert][errors]") {
  TempDir tmp;
  convert::ConvertOptions o = hf_setup(tmp);
  fs::create_directories(tmp / "out");
  std::ofstream(tmp / "out/keep.txt") << "user data";
  CHECK_THAT(failed(o, tmp), Contains(tmp / "out") && Contains("--force"));
  CHECK(fs::exists(tmp / "out/keep.txt"));
  o.force = true;
  convert::convert_weight(o);
  CHECK(!fs::exists(tmp / "out/keep.txt"));
  CHECK(fs::exists(tmp / "out/tensor-cache.json"));
  CHECK(test::entries(tmp.path) == std::vector<std::string>{"hf", "out"});

  o.force = false;
  o.output = tmp / "empty";
  fs::create_directories(o.output);  // an empty directory is simply filled
  convert::convert_weight(o);
  CHECK(fs::exists(tmp / "empty/mlcc-chat-config.json"));

  o.output = tmp / "other";
  o.quantization = "q3f16";
  CHECK_THAT(failed(o, tmp), Contains("q3f16") && Contains("q4f16_1"));
  o.quantization = "q0f32";
  o.conv_template = "vicuna";
  CHECK_THAT(failed(o, tmp), Contains("vicuna") && Contains("chatml"));
}

TEST_CASE("tensor cache: a missing or short shard is named", "[convert][errors][tensor_cache]") {
  TempDir tmp;
  convert::convert_weight(hf_setup(tmp));
  const std::string shard = tmp / "out/params_shard_0.bin";
  const auto size = fs::file_size(shard);
  fs::resize_file(shard, size - 1);
  CHECK_THAT(test::error_of([&] { TensorCache::read(tmp / "out"); }),
             Contains(shard) && Contains(std::to_string(size - 1) + " bytes") &&
                 Contains(std::to_string(size)));
  auto model = Model::load(test::compiled_library(test::small_llama(), "q0f32"), "cpu");
  CHECK_THAT(test::error_of([&] { load_params(*model, tmp / "out"); }), Contains(shard));
  fs::remove(shard);
  CHECK_THAT(test::error_of([&] { TensorCache::read(tmp / "out"); }),
             Contains(shard) && Contains("missing"));
  CHECK(model->missing_params().size() == model->manifest().params.size());
}

TEST_CASE("load_params: weights of another config name the tensor and both shapes",
          "[convert][errors][tensor_cache]") {
  TempDir tmp;
  convert::convert_weight(hf_setup(tmp));
  models::LlamaConfig other = test::small_llama();
  other.intermediate_size = 128;
  auto model = Model::load(test::compiled_library(other, "q0f32"), "cpu");
  const std::string msg = test::error_of([&] { load_params(*model, tmp / "out"); });
  CHECK_THAT(msg, Contains(tmp / "out") && Contains("'model.layers.0.mlp.gate_up_proj.weight'") &&
                      Contains("f32[192, 64]") && Contains("f32[256, 64]"));
  // Nothing was copied.
  CHECK(model->missing_params().size() == model->manifest().params.size());

  // Same config, other quantization: named by dtype and shape too.
  auto q4 = Model::load(test::compiled_library(test::small_llama(), "q4f16_1"), "cpu");
  CHECK_THAT(test::error_of([&] { load_params(*q4, tmp / "out"); }),
             Contains("'model.embed_tokens.q_weight' is missing") && Contains("u32[160, 8]"));
}
