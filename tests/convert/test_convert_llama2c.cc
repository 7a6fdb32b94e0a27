// llama2.c checkpoints through `mlcc convert-weight`: stories260K (../shared) in q0f32
// greedy-generates the reference forward pass's tokens in a compiled CPU library, and in
// q4f16_1 (FFN width 172: the last q4 group padded) has the expected shapes and bytes; a
// version 1 checkpoint converts to the same weights as the legacy one; int8 is refused.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>

#include "models/llama.h"
#include "models/q4_quantize.h"
#include "runtime/chat_config.h"
#include "runtime/tensor_cache.h"
#include "tests/convert/convert_test_util.h"
#include "tools/compile_model.h"
#include "tools/convert_weight/converter.h"
#include "tools/convert_weight/weight_source.h"

using namespace mlcc;
using test::TempDir;

namespace {

bool have_stories() { return std::filesystem::exists(test::kStoriesDir + "stories260K.bin"); }

convert::ConvertOptions stories_options(const std::string& out, const std::string& quant) {
  convert::ConvertOptions o =
      test::convert_options(test::kStoriesDir + "stories260K.bin", out, quant);
  o.tokenizer = test::kStoriesDir + "tok512.bin";
  return o;
}

// Writes `w` (MLC names, Hugging Face row order) as a version 1 llama2.c checkpoint:
// q and k rows back in interleaved pairs, each kind of tensor for all layers together.
void write_llama2c_v1(const std::string& path, const models::LlamaConfig& c,
                      const testing::Weights& w) {
  std::ofstream out(path, std::ios::binary);
  const int32_t header[] = {0x616b3432,
                            1,
                            static_cast<int32_t>(c.hidden_size),
                            static_cast<int32_t>(c.intermediate_size),
                            static_cast<int32_t>(c.num_layers),
                            static_cast<int32_t>(c.num_heads),
                            static_cast<int32_t>(c.num_kv_heads),
                            static_cast<int32_t>(c.vocab_size),
                            static_cast<int32_t>(c.max_position_embeddings)};
  char pad[256] = {};
  std::memcpy(pad, header, sizeof header);
  pad[sizeof header] = c.tie_word_embeddings ? 1 : 0;
  out.write(pad, 256);
  auto put = [&](const float* p, int64_t n) { out.write(reinterpret_cast<const char*>(p), n * 4); };
  const int64_t d = c.hidden_size, f = c.intermediate_size, hd = c.head_dim;
  const int64_t q = c.num_heads * hd, kv = c.num_kv_heads * hd;
  auto layer = [&](int64_t l, const char* s) -> const std::vector<float>& {
    return w.at(models::layer_param_name(l, s));
  };
  // Hugging Face row t * hd/2 + j of a head is llama2.c's row 2j + t.
  auto interleaved = [&](const float* rows, int64_t heads) {
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t r = 0; r < hd; ++r) put(rows + (h * hd + (r % 2) * hd / 2 + r / 2) * d, d);
  };
  for (int64_t l = 0; l < c.num_layers; ++l) put(layer(l, "input_layernorm.weight").data(), d);
  for (int64_t l = 0; l < c.num_layers; ++l)
    put(layer(l, "post_attention_layernorm.weight").data(), d);
  put(w.at("model.norm.weight").data(), d);
  put(w.at("model.embed_tokens.weight").data(), c.vocab_size * d);
  for (int64_t l = 0; l < c.num_layers; ++l)
    interleaved(layer(l, "self_attn.qkv_proj.weight").data(), c.num_heads);
  for (int64_t l = 0; l < c.num_layers; ++l)
    interleaved(layer(l, "self_attn.qkv_proj.weight").data() + q * d, c.num_kv_heads);
  for (int64_t l = 0; l < c.num_layers; ++l)
    put(layer(l, "self_attn.qkv_proj.weight").data() + (q + kv) * d, kv * d);
  for (int64_t l = 0; l < c.num_layers; ++l) put(layer(l, "self_attn.o_proj.weight").data(), d * q);
  for (int64_t l = 0; l < c.num_layers; ++l) put(layer(l, "mlp.gate_up_proj.weight").data(), f * d);
  for (int64_t l = 0; l < c.num_layers; ++l) put(layer(l, "mlp.down_proj.weight").data(), d * f);
  for (int64_t l = 0; l < c.num_layers; ++l)
    put(layer(l, "mlp.gate_up_proj.weight").data() + f * d, f * d);
  if (!c.tie_word_embeddings) put(w.at("lm_head.weight").data(), c.vocab_size * d);
}

}  // namespace

TEST_CASE("convert-weight: stories260K in q0f32 greedy-generates the reference's tokens",
          "[convert][llama2c][shared]") {
  if (!have_stories()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  TempDir tmp;
  const convert::ConvertSummary s = convert::convert_weight(stories_options(tmp / "out", "q0f32"));
  CHECK(s.source_kind == "llama2.c");
  const ChatConfig chat = ChatConfig::read(tmp / "out");
  CHECK(chat.tokenizer_files == std::vector<std::string>{"tokenizer.bin"});
  CHECK(chat.bos_token_id == 1);
  CHECK(chat.eos_token_id == 2);
  CHECK(chat.conv_template == "raw");
  CHECK(chat.context_window_size == 512);  // max_position_embeddings
  CHECK(chat.prefill_chunk_size == 512);
  CHECK(test::entries(tmp / "out") ==
        std::vector<std::string>{"mlcc-chat-config.json", "params_shard_0.bin", "tensor-cache.json",
                                 "tokenizer.bin"});

  models::LlamaConfig c;
  const testing::Weights w =
      testing::read_llama2c_weights(test::kStoriesDir + "stories260K.bin", &c);
  CHECK(models::LlamaConfig::from_json(chat.model_config) == c);
  auto model = Model::load(test::compiled_library(c, "q0f32"), "cpu");
  load_params(*model, tmp / "out");
  testing::ReferenceLlama ref(c, w);
  int32_t token = 1;  // llama2.c starts from BOS
  model->prefill({token});
  for (int step = 0; step < 20; ++step) {
    const std::vector<float> logits = ref.step(token);
    const int32_t expected =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const int32_t got = model->argmax();
    INFO("step " << step);
    REQUIRE(got == expected);
    token = got;
    model->decode(token);
  }
}

TEST_CASE("convert-weight: stories260K in q4f16_1 pads the FFN width 172 to whole groups",
          "[convert][llama2c][shared]") {
  if (!have_stories()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  TempDir tmp;
  convert::convert_weight(stories_options(tmp / "out", "q4f16_1"));
  models::LlamaConfig c;
  const testing::Weights w =
      testing::read_llama2c_weights(test::kStoriesDir + "stories260K.bin", &c);
  REQUIRE(c.intermediate_size == 172);
  const TensorCache cache = TensorCache::read(tmp / "out");
  const TensorRecord* qw = cache.find("model.layers.3.mlp.down_proj.q_weight");
  const TensorRecord* qs = cache.find("model.layers.3.mlp.down_proj.q_scale");
  REQUIRE(qw != nullptr);
  REQUIRE(qs != nullptr);
  CHECK(qw->shape == std::vector<int64_t>{64, 24});  // 6 groups of 32 (172 padded to 192)
  CHECK(qw->dtype == "uint32");
  CHECK(qs->shape == std::vector<int64_t>{64, 6});
  CHECK(qs->dtype == "float16");
  CHECK(cache.find("model.layers.3.mlp.gate_up_proj.q_weight")->shape ==
        std::vector<int64_t>{344, 8});
  CHECK(cache.find("model.norm.weight")->dtype == "float16");
  // The bytes are quantize_q4's of the weights.
  const models::Q4Weight q = models::quantize_q4(w.at("model.layers.3.mlp.down_proj.weight"), 64,
                                                 172, ir::DataType::f16());
  const std::vector<uint8_t> stored = test::record_bytes(tmp / "out", qw->name);
  REQUIRE(stored.size() == q.qweight.size() * 4);
  CHECK(std::memcmp(stored.data(), q.qweight.data(), stored.size()) == 0);
  const testing::Weights back = test::read_converted(tmp / "out", c, "q4f16_1");
  CHECK(back.at("model.layers.3.mlp.down_proj.weight") == models::dequantize_q4(q));
}

TEST_CASE("convert-weight: a version 1 llama2.c checkpoint reads as the legacy one does",
          "[convert][llama2c]") {
  models::LlamaConfig c = test::small_llama();
  c.tie_word_embeddings = false;
  const testing::Weights w = testing::random_llama_weights(c, 21);
  TempDir tmp;
  write_llama2c_v1(tmp / "v1.bin", c, w);
  models::LlamaConfig read_config;
  CHECK(testing::read_llama2c_weights(tmp / "v1.bin", &read_config) == w);
  CHECK(read_config.num_kv_heads == 2);

  // The converter proper, with a tokenizer file and q0f16.
  std::ofstream(tmp / "tok.bin") << "not read by the converter";
  convert::ConvertOptions o;
  o.source = tmp / "v1.bin";
  o.tokenizer = tmp / "tok.bin";
  o.output = tmp / "out";
  o.quantization = "q0f16";
  convert::convert_weight(o);
  CHECK(test::read_converted(tmp / "out", c, "q0f16") == test::rounded(w, "F16"));

  // Version 2 (int8) is refused with a way out.
  std::fstream f(tmp / "v1.bin", std::ios::in | std::ios::out | std::ios::binary);
  const int32_t two = 2;
  f.seekp(4);
  f.write(reinterpret_cast<const char*>(&two), 4);
  f.close();
  o.output = tmp / "out2";
  const std::string msg = test::error_of([&] { convert::convert_weight(o); });
  CHECK_THAT(msg, Catch::Contains("v1.bin") && Catch::Contains("version 2") &&
                      Catch::Contains("--version 1"));
  CHECK(!std::filesystem::exists(tmp / "out2"));
}
