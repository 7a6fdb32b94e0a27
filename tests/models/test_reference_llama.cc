// Tests of the reference forward pass itself, against independent answers: zero-layer models
// (logits = lm_head · norm(embedding)), grouped-query attention against the equivalent
// multi-head model, the llama3 frequency table, and llama2.c's own greedy output for the
// real stories260K checkpoint.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/llama.h"
#include "runtime/error.h"
#include "tests/models/reference_llama.h"

using namespace mlcc;
using namespace mlcc::models;
using namespace mlcc::testing;

namespace {

const std::string kStoriesDir = MLCC_SOURCE_DIR "/../shared/models/stories260K/";

LlamaConfig config(int64_t layers, int64_t heads, int64_t kv_heads, bool tied) {
  LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = 8;
  c.rope.head_dim = 8;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = tied;
  return c;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

}  // namespace

TEST_CASE("reference: zero layers give lm_head times the normed embedding", "[models][reference]") {
  for (bool tied : {false, true}) {
    LlamaConfig c = config(0, 4, 4, tied);
    Weights w = random_llama_weights(c, 11);
    const std::vector<float>& head = w.at(tied ? "model.embed_tokens.weight" : "lm_head.weight");
    const std::vector<float>& emb = w.at("model.embed_tokens.weight");
    const std::vector<float>& nw = w.at("model.norm.weight");
    std::vector<int32_t> tokens = {3, 17, 3, 39, 0};
    auto logits = reference_forward(c, w, tokens);
    REQUIRE(logits.size() == tokens.size());
    for (size_t t = 0; t < tokens.size(); ++t) {
      const float* e = &emb[static_cast<size_t>(tokens[t] * 32)];
      float ss = 0;
      for (int i = 0; i < 32; ++i) ss += e[i] * e[i];
      const float inv = 1.0f / std::sqrt(ss / 32 + 1e-5f);
      std::vector<float> expect(40);
      for (int v = 0; v < 40; ++v) {
        float acc = 0;
        for (int i = 0; i < 32; ++i)
          acc += head[static_cast<size_t>(v * 32 + i)] * e[i] * inv * nw[i];
        expect[static_cast<size_t>(v)] = acc;
      }
      CHECK(max_abs_diff(logits[t], expect) < 1e-4);
    }
    CHECK(logits[0] == logits[2]);  // no layers: the position does not matter
  }
}

TEST_CASE("reference: grouped-query attention equals multi-head with shared kv heads",
          "[models][reference]") {
  // Hq 4 reading Hkv 2 (query head h uses kv head h / 2) is the multi-head model whose
  // k and v rows for head h are kv head h / 2's rows.
  LlamaConfig gqa = config(2, 4, 2, false), mha = config(2, 4, 4, false);
  Weights wg = random_llama_weights(gqa, 5);
  Weights wm = wg;
  const size_t d = 8, h = 32, rows = d * h;
  for (int64_t l = 0; l < 2; ++l) {
    const std::string name = layer_param_name(l, "self_attn.qkv_proj.weight");
    const std::vector<float>& g = wg.at(name);
    std::vector<float> m(g.begin(), g.begin() + 4 * rows);  // q unchanged
    for (size_t part = 0; part < 2; ++part)                 // k, then v
      for (size_t head = 0; head < 4; ++head) {
        auto src = g.begin() + static_cast<std::ptrdiff_t>((4 + part * 2 + head / 2) * rows);
        m.insert(m.end(), src, src + static_cast<std::ptrdiff_t>(rows));
      }
    wm[name] = m;
  }
  std::vector<int32_t> tokens = {1, 5, 9, 2, 33, 7, 7};
  auto a = reference_forward(gqa, wg, tokens), b = reference_forward(mha, wm, tokens);
  for (size_t t = 0; t < tokens.size(); ++t) CHECK(max_abs_diff(a[t], b[t]) < 1e-5);
  // And attention does something: the same token at two positions gives different logits.
  CHECK(max_abs_diff(a[5], a[6]) > 1e-3);
}

TEST_CASE("reference: rope frequencies, plain and llama3-scaled", "[models][reference]") {
  kernels::RopeSpec r;
  r.head_dim = 128;
  r.theta = 500000.0;
  std::vector<double> plain = rope_inv_freq(r);
  REQUIRE(plain.size() == 64);
  CHECK(plain[0] == 1.0);
  CHECK(plain[32] == Approx(std::pow(500000.0, -0.5)).epsilon(1e-12));
  r.scaling = "llama3";  // factor 8, low 1, high 4, original 8192
  std::vector<double> s = rope_inv_freq(r);
  // Wavelengths 2pi/f below 8192/4 = 2048 keep their frequency (i <= 28), above 8192 are
  // divided by 8 (i >= 35), in between blend linearly in 8192 / wavelength.
  for (int i = 0; i <= 28; ++i) CHECK(s[static_cast<size_t>(i)] == plain[static_cast<size_t>(i)]);
  for (int i = 35; i < 64; ++i)
    CHECK(s[static_cast<size_t>(i)] == Approx(plain[static_cast<size_t>(i)] / 8).epsilon(1e-12));
  const double f = plain[30], smooth = (8192.0 * f / (2 * M_PI) - 1.0) / 3.0;
  CHECK(smooth > 0.0);
  CHECK(smooth < 1.0);
  CHECK(s[30] == Approx((1 - smooth) * f / 8 + smooth * f).epsilon(1e-12));
}

TEST_CASE("reference: missing or misshapen parameters are named", "[models][reference]") {
  LlamaConfig c = config(1, 4, 2, false);
  Weights w = random_llama_weights(c, 1);
  w.erase("lm_head.weight");
  CHECK_THROWS_WITH(ReferenceLlama(c, w), Catch::Contains("'lm_head.weight' is missing"));
  w = random_llama_weights(c, 1);
  w["model.layers.0.mlp.down_proj.weight"].pop_back();
  CHECK_THROWS_WITH(ReferenceLlama(c, w),
                    Catch::Contains("'model.layers.0.mlp.down_proj.weight' has 1535 values"));
}

TEST_CASE("reference: stories260K greedy text matches llama2.c", "[models][reference][shared]") {
  if (!std::filesystem::exists(kStoriesDir + "stories260K.bin")) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  LlamaConfig c;
  Weights w = read_llama2c_weights(kStoriesDir + "stories260K.bin", &c);
  Llama2cVocab vocab = Llama2cVocab::read(kStoriesDir + "tok512.bin", c.vocab_size);
  std::ifstream in(kStoriesDir + "greedy_reference.txt", std::ios::binary);
  std::stringstream expected;
  expected << in.rdbuf();

  // llama2.c's run.c with -t 0: start from BOS (1), 256 steps, argmax (first maximum),
  // stop early on BOS, print each decoded piece, then a newline.
  ReferenceLlama ref(c, w);
  int32_t token = 1;
  std::string text;
  for (int pos = 0; pos < 256; ++pos) {
    std::vector<float> logits = ref.step(token);
    int32_t next = 0;
    for (int32_t v = 1; v < c.vocab_size; ++v)
      if (logits[static_cast<size_t>(v)] > logits[static_cast<size_t>(next)]) next = v;
    if (next == 1) break;
    text += vocab.decode(token, next);
    token = next;
  }
  text += "\n";
  CHECK(text == expected.str());
}
