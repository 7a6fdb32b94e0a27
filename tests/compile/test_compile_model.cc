// Whole-model checks of `mlcc compile` on the CPU: a small random Llama
// compiled into a library, loaded by the runtime (runtime/model.h) and compared
// with the plain reference forward pass of tests/models/reference_llama.h:
// q0f32 within 1e-4, f16 and q4 formats against the reference run on the
// rounded or dequantized weights within 1e-2; prefill then decode equals
// prefill of the whole sequence; GQA, tied embeddings and chunked prefill
// covered; wrong parameters refused. The same checks run on lavapipe for the vulkan target
// where the Vulkan device is built.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "runtime/error.h"
#include "runtime/model.h"
#include "tests/models/model_weights.h"
#include "tests/temp_dir.h"
#include "tools/compile_model.h"

using namespace mlcc;
using testing::TempDir;

namespace {

models::LlamaConfig small_llama(bool tied, int64_t kv_heads) {
  models::LlamaConfig c;
  c.vocab_size = 160, c.hidden_size = 64, c.intermediate_size = 96, c.num_layers = 2;
  c.num_heads = 4, c.num_kv_heads = kv_heads, c.head_dim = 16, c.max_position_embeddings = 64;
  c.tie_word_embeddings = tied;
  c.rope.head_dim = 16;
  c.rope.theta = 10000;
  return c;
}

struct Compiled {
  TempDir dir;
  std::string lib;
};

std::unique_ptr<Compiled> compile(const models::LlamaConfig& c, const std::string& quant,
                                  int64_t chunk = 16, const std::string& target = "cpu") {
  auto out = std::make_unique<Compiled>();
  out->lib = out->dir.path + "/model.so";
  CompileOptions o;
  o.target = target;
  o.quantization = quant;
  o.context_window = 64;
  o.prefill_chunk_size = chunk;
  compile_model(c, o, out->lib);
  return out;
}

// Prefill of `n` tokens then decode of the rest, each position's logits against
// the reference; then a fresh sequence prefilled with everything at once must
// agree with the last decode. `target` names the device kind too.
void check_model(const models::LlamaConfig& c, const std::string& quant, double tol,
                 int64_t chunk = 16, const std::string& target = "cpu") {
  auto lib = compile(c, quant, chunk, target);
  auto model = Model::load(lib->lib, target);
  testing::Weights w = testing::random_llama_weights(c, 7);
  testing::Weights seen = testing::load_weights(*model, w, quant);
  std::vector<int32_t> tokens = {1,  17, 42, 99,  3, 150, 8,  77, 5,
                                 31, 64, 12, 140, 2, 90,  33, 21, 7};
  auto ref = testing::reference_forward(c, seen, tokens);

  const size_t n = 13;
  std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + n);
  std::vector<float> logits = model->prefill(prompt);
  INFO(quant << " prefill of " << n << " tokens (chunks of " << chunk << ")");
  CHECK(testing::relative_error(logits, ref[n - 1]) < tol);
  for (size_t t = n; t < tokens.size(); ++t) {
    logits = model->decode(tokens[t]);
    INFO("decode at position " << t);
    CHECK(testing::relative_error(logits, ref[t]) < tol);
  }
  CHECK(model->position() == static_cast<int64_t>(tokens.size()));

  model->reset();
  std::vector<float> whole = model->prefill(tokens);
  CHECK(testing::relative_error(whole, logits) < tol);

  // Device post-processing agrees with the host.
  int32_t best = static_cast<int32_t>(std::max_element(whole.begin(), whole.end()) - whole.begin());
  CHECK(model->argmax() == best);
}

}  // namespace

TEST_CASE("compiled q0f32 Llama (GQA) matches the reference forward pass", "[compile]") {
  check_model(small_llama(false, 2), "q0f32", 1e-4);
}

TEST_CASE("compiled q0f32 Llama with tied embeddings and chunked prefill", "[compile]") {
  check_model(small_llama(true, 4), "q0f32", 1e-4, 8);
}

TEST_CASE("compiled q4f16_1 Llama matches the reference on dequantized weights", "[compile]") {
  check_model(small_llama(false, 2), "q4f16_1", 1e-2);
}

TEST_CASE("compiled q4f32_1 and q0f16 Llamas match the reference", "[compile]") {
  check_model(small_llama(true, 2), "q4f32_1", 1e-4);
  check_model(small_llama(false, 1), "q0f16", 1e-2);
}

#if MLCC_WITH_VULKAN
TEST_CASE("compiled Llamas on vulkan (lavapipe) match the reference", "[compile][vulkan]") {
  check_model(small_llama(false, 2), "q0f32", 1e-4, 16, "vulkan");
  check_model(small_llama(true, 4), "q0f32", 1e-4, 8, "vulkan");
  check_model(small_llama(false, 2), "q4f16_1", 1e-2, 16, "vulkan");
  check_model(small_llama(true, 2), "q4f32_1", 1e-4, 16, "vulkan");
  check_model(small_llama(false, 1), "q0f16", 1e-2, 16, "vulkan");
  models::LlamaConfig padded = small_llama(false, 2);
  padded.intermediate_size = 80;  // the last q4 group of the down projection is padded
  check_model(padded, "q4f16_1", 1e-2, 16, "vulkan");
}
#endif

TEST_CASE("a compiled library refuses parameters of the wrong size and missing ones", "[compile]") {
  auto lib = compile(small_llama(false, 2), "q0f32");
  auto model = Model::load(lib->lib, "cpu");
  std::vector<float> wrong(10);
  try {
    model->set_param("model.norm.weight", wrong.data(), wrong.size() * 4);
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("model.norm.weight") != std::string::npos);
    CHECK(msg.find("64") != std::string::npos);
  }
  CHECK_THROWS_AS(model->set_param("model.no_such.weight", wrong.data(), 40), Error);
  CHECK(!model->missing_params().empty());
  CHECK_THROWS_AS(model->prefill({1, 2, 3}), Error);
}

TEST_CASE("mlcc compile options are checked against the config", "[compile]") {
  models::LlamaConfig c = small_llama(false, 2);
  CompileOptions o;
  o.quantization = "q3f16";
  CHECK_THROWS_AS(resolve_options(c, o), Error);
  o.quantization = "q4f16_1";
  o.context_window = 64, o.prefill_chunk_size = 128;
  CHECK_THROWS_AS(resolve_options(c, o), Error);
  c.sliding_window = 32;
  o.prefill_chunk_size = 0;
  try {
    resolve_options(c, o);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("sliding_window") != std::string::npos);
  }
  o.context_window = 0;
  CHECK(resolve_options(c, o).context_window == 32);
}
