// GGUF files through `mlcc convert-weight`: the test writes small Llama GGUFs itself
// (F32, F16, BF16, Q8_0 and Q4_0 tensors, attn_q / attn_k rows permuted as llama.cpp's
// converter stores them) and checks that the converted weights are the originals within
// each format's rounding — exactly what dequantizing the file gives — that they run in a
// compiled library, and that the vocabulary comes out as a tensor-less tokenizer.gguf.
#include <catch2/catch.hpp>
#include <cmath>

#include "ir/half.h"
#include "models/llama.h"
#include "models/q4_quantize.h"
#include "runtime/chat_config.h"
#include "runtime/gguf.h"
#include "runtime/tokenizer.h"
#include "tests/convert/convert_test_util.h"
#include "tools/convert_weight/converter.h"
#include "tools/convert_weight/ggml_quants.h"
#include "tools/convert_weight/gguf_writer.h"
#include "tools/convert_weight/weight_source.h"

using namespace mlcc;
using gguf::TensorType;
using test::TempDir;

namespace {

constexpr uint32_t type(TensorType t) { return static_cast<uint32_t>(t); }

// A GGUF of the config: weights encoded as `types` picks per Hugging Face name, q/k
// permuted; returns the weights a reader must get back (MLC names, HF order).
struct GgufModel {
  convert::GgufWriter writer;
  testing::Weights expected;
  std::map<std::string, uint32_t> types;  // GGUF name -> type
};

std::vector<uint8_t> encode(uint32_t t, const std::vector<float>& v) {
  std::vector<uint8_t> out;
  if (t == type(TensorType::Q8_0)) return convert::ggml_quantize_q8_0(v.data(), v.size());
  if (t == type(TensorType::Q4_0)) return convert::ggml_quantize_q4_0(v.data(), v.size());
  for (float x : v) {
    if (t == type(TensorType::F32)) {
      const auto* b = reinterpret_cast<const uint8_t*>(&x);
      out.insert(out.end(), b, b + 4);
    } else {
      const uint16_t h = t == type(TensorType::F16) ? float_to_half(x) : float_to_bf16(x);
      out.push_back(static_cast<uint8_t>(h & 0xFF));
      out.push_back(static_cast<uint8_t>(h >> 8));
    }
  }
  return out;
}

// llama.cpp's permute: each head's rows [t * d/2 + j] move to [2j + t].
std::vector<float> interleave(const std::vector<float>& w, int64_t heads, int64_t cols) {
  const int64_t d = static_cast<int64_t>(w.size()) / cols / heads;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d; ++i)
      std::copy_n(w.begin() + (h * d + i) * cols, cols,
                  out.begin() + (h * d + 2 * (i % (d / 2)) + i / (d / 2)) * cols);
  return out;
}

GgufModel make_gguf(const models::LlamaConfig& c, const testing::Weights& w,
                    const std::function<uint32_t(const std::string&)>& pick) {
  GgufModel m;
  convert::GgufWriter& g = m.writer;
  g.set("general.architecture", "llama");
  g.set("general.name", "tiny test llama");
  g.set("llama.context_length", c.max_position_embeddings);
  g.set("llama.embedding_length", c.hidden_size);
  g.set("llama.block_count", c.num_layers);
  g.set("llama.feed_forward_length", c.intermediate_size);
  g.set("llama.attention.head_count", c.num_heads);
  g.set("llama.attention.head_count_kv", c.num_kv_heads);
  g.set("llama.attention.layer_norm_rms_epsilon", c.rms_norm_eps, gguf::kF32);
  g.set("llama.rope.freq_base", c.rope.theta, gguf::kF32);
  g.set("llama.rope.dimension_count", c.head_dim);
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> token_types = {2, 3, 3};
  for (int i = 0; i < 128; ++i) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", i);
    tokens.push_back(piece), token_types.push_back(6);
  }
  while (static_cast<int64_t>(tokens.size()) < c.vocab_size)
    tokens.push_back("\xe2\x96\x81w" + std::to_string(tokens.size())), token_types.push_back(1);
  std::vector<float> scores(tokens.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
  g.set("tokenizer.ggml.model", "llama");
  g.set("tokenizer.ggml.tokens", tokens);
  g.set("tokenizer.ggml.scores", scores);
  g.set("tokenizer.ggml.token_type", token_types);
  g.set("tokenizer.ggml.bos_token_id", 1);
  g.set("tokenizer.ggml.eos_token_id", 2);
  g.set("tokenizer.chat_template",
        "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}");

  for (const test::StTensor& t : test::hf_tensors(c, w)) {
    const std::string name = [&] {
      static const std::map<std::string, std::string> k = {
          {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
          {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
          {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
          {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
          {"mlp.down_proj", "ffn_down"}};
      if (t.name == "model.embed_tokens.weight") return std::string("token_embd.weight");
      if (t.name == "model.norm.weight") return std::string("output_norm.weight");
      if (t.name == "lm_head.weight") return std::string("output.weight");
      const size_t a = std::string("model.layers.").size(), b = t.name.find('.', a);
      return "blk." + t.name.substr(a, b - a) + "." +
             k.at(t.name.substr(b + 1, t.name.size() - b - 8)) + ".weight";
    }();
    const uint32_t ty = t.shape.size() == 1 ? type(TensorType::F32) : pick(name);
    m.types[name] = ty;
    const int64_t cols = t.shape.back();
    const int64_t heads = name.ends_with("attn_q.weight")   ? c.num_heads
                          : name.ends_with("attn_k.weight") ? c.num_kv_heads
                                                            : 0;
    const std::vector<float> stored = heads ? interleave(t.values, heads, cols) : t.values;
    std::vector<uint8_t> data = encode(ty, stored);
    // What the file holds, decoded, back in Hugging Face's row order.
    std::vector<float> decoded(stored.size());
    convert::ggml_dequantize(ty, data.data(), static_cast<int64_t>(decoded.size()), decoded.data());
    std::vector<float> hf(decoded.size());
    if (heads) {
      const int64_t d = c.head_dim;
      for (int64_t r = 0; r < static_cast<int64_t>(hf.size()) / cols; ++r) {
        const int64_t h = r / d, i = r % d;
        std::copy_n(decoded.begin() + (h * d + 2 * (i % (d / 2)) + i / (d / 2)) * cols, cols,
                    hf.begin() + r * cols);
      }
    } else {
      hf = decoded;
    }
    g.add_tensor(name, std::vector<int64_t>(t.shape.rbegin(), t.shape.rend()), ty, std::move(data));
    m.expected[t.name] = std::move(hf);
  }
  // Hugging Face names -> MLC's fused parameters.
  testing::Weights fused;
  for (const convert::ParamPlan& p : convert::plan_params(c, "q0f32")) {
    std::vector<float>& v = fused[p.name];
    for (const std::string& part : p.parts)
      v.insert(v.end(), m.expected.at(part).begin(), m.expected.at(part).end());
  }
  m.expected = std::move(fused);
  return m;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

}  // namespace

TEST_CASE("convert-weight: GGUF F32/F16/BF16/Q8_0/Q4_0 tensors convert to their values",
          "[convert][gguf]") {
  const models::LlamaConfig c = test::small_llama();
  const testing::Weights w = testing::random_llama_weights(c, 31);
  const std::vector<uint32_t> cycle = {type(TensorType::Q4_0), type(TensorType::F16),
                                       type(TensorType::Q8_0), type(TensorType::F32),
                                       type(TensorType::BF16)};
  size_t next = 0;
  GgufModel m = make_gguf(c, w, [&](const std::string&) { return cycle[next++ % cycle.size()]; });
  TempDir tmp;
  m.writer.write(tmp / "model.gguf");
  const convert::ConvertSummary s =
      convert::convert_weight(test::convert_options(tmp / "model.gguf", tmp / "out", "q0f32"));
  CHECK(s.source_kind == "gguf");

  // Exactly the file's values, un-permuted; the originals within each format's rounding.
  const testing::Weights back = test::read_converted(tmp / "out", c, "q0f32");
  for (const auto& [name, values] : m.expected) {
    INFO(name);
    CHECK(back.at(name) == values);
    const std::vector<float>& orig = w.at(name);
    double err = 0;
    for (size_t i = 0; i < orig.size(); ++i)
      err = std::max(err, std::fabs(static_cast<double>(values[i]) - orig[i]));
    CHECK(err <= max_abs(orig) / 8 + 1e-6);  // Q4_0's worst step; the others are far finer
  }
  CHECK(back.at("model.layers.0.input_layernorm.weight") ==
        w.at("model.layers.0.input_layernorm.weight"));
  CHECK(test::worst_logit_error(test::compiled_library(c, "q0f32"), tmp / "out", c, m.expected) <
        1e-4);

  // The chat config and the vocabulary-only tokenizer.gguf.
  const ChatConfig chat = ChatConfig::read(tmp / "out");
  CHECK(models::LlamaConfig::from_json(chat.model_config) == c);
  CHECK(chat.conv_template == "chatml");
  CHECK(chat.bos_token_id == 1);
  CHECK(chat.eos_token_id == 2);
  REQUIRE(chat.tokenizer_files == std::vector<std::string>{"tokenizer.gguf"});
  const gguf::File tok = gguf::read(tmp / "out" + "/tokenizer.gguf");
  CHECK(tok.tensors.empty());
  CHECK(tok.at("general.architecture") == "llama");
  CHECK(tok.at("tokenizer.ggml.tokens").size() == 160);
  CHECK(tok.at("tokenizer.ggml.tokens")[131] == "\xe2\x96\x81w131");
  CHECK(!tok.metadata.contains("llama.block_count"));
  auto t = Tokenizer::open(tmp / "out" + "/tokenizer.gguf");
  CHECK(t->vocab_size() == 160);
  CHECK(t->bos_id() == 1);
}

TEST_CASE("convert-weight: GGUF in q4f16_1 quantizes the decoded weights as MLC does",
          "[convert][gguf]") {
  models::LlamaConfig c = test::small_llama();
  c.tie_word_embeddings = true;
  const testing::Weights w = testing::random_llama_weights(c, 32);
  GgufModel m = make_gguf(c, w, [](const std::string& name) {
    return name.find("attn") != std::string::npos ? type(TensorType::Q8_0) : type(TensorType::Q4_0);
  });
  CHECK(!m.types.count("output.weight"));  // tied: no output tensor
  TempDir tmp;
  m.writer.write(tmp / "tied.gguf");
  convert::convert_weight(test::convert_options(tmp / "tied.gguf", tmp / "out", "q4f16_1"));
  const testing::Weights back = test::read_converted(tmp / "out", c, "q4f16_1");
  const std::vector<float>& qkv = m.expected.at("model.layers.1.self_attn.qkv_proj.weight");
  CHECK(back.at("model.layers.1.self_attn.qkv_proj.weight") ==
        models::dequantize_q4(models::quantize_q4(qkv, static_cast<int64_t>(qkv.size()) / 64, 64,
                                                  ir::DataType::f16())));
  CHECK(test::worst_logit_error(test::compiled_library(c, "q4f16_1"), tmp / "out", c, back) < 1e-2);
}

TEST_CASE("convert-weight: a GGUF's rope_freqs is read back as llama3 RoPE scaling",
          "[convert][gguf]") {
  models::LlamaConfig c = test::small_llama();
  c.rope.theta = 500000;
  const testing::Weights w = testing::random_llama_weights(c, 33);
  GgufModel m = make_gguf(c, w, [](const std::string&) { return type(TensorType::F16); });
  // llama.cpp's divisors for factor 8, low/high frequency factors 1 and 4, 8192 positions.
  kernels::RopeSpec scaled = c.rope;
  scaled.scaling = "llama3";
  const std::vector<double> plain = testing::rope_inv_freq(c.rope),
                            want = testing::rope_inv_freq(scaled);
  std::vector<float> div(plain.size());
  for (size_t i = 0; i < div.size(); ++i) div[i] = static_cast<float>(plain[i] / want[i]);
  CHECK(div.front() == 1.0f);
  CHECK(div.back() == 8.0f);
  m.writer.add_tensor("rope_freqs.weight", {8}, type(TensorType::F32),
                      encode(type(TensorType::F32), div));
  TempDir tmp;
  m.writer.write(tmp / "l3.gguf");
  convert::ConvertOptions o = test::convert_options(tmp / "l3.gguf", tmp / "out", "q0f32");
  convert::convert_weight(o);
  const models::LlamaConfig got =
      models::LlamaConfig::from_json(ChatConfig::read(tmp / "out").model_config);
  CHECK(got.rope.scaling == "llama3");
  CHECK(got.rope.factor == Approx(8.0));
  CHECK(got.rope.theta == 500000.0);
  CHECK(got.rms_norm_eps == 1e-5);  // stored as f32, read back as the decimal it was

  // Divisors that are not llama3's are refused, naming the tensor.
  div[4] *= 1.1f;  // a blended frequency
  GgufModel bad = make_gguf(c, w, [](const std::string&) { return type(TensorType::F16); });
  bad.writer.add_tensor("rope_freqs.weight", {8}, type(TensorType::F32),
                        encode(type(TensorType::F32), div));
  bad.writer.write(tmp / "bad.gguf");
  o.source = tmp / "bad.gguf";
  o.output = tmp / "out2";
  CHECK_THAT(test::error_of([&] { convert::convert_weight(o); }),
             Catch::Contains("rope_freqs.weight") && Catch::Contains("element 4"));
}
