// Tests of the Model API on the toy libraries (toy_library.cc): parameters, prefill in
// chunks, decode, argmax/softmax/embed through the library's functions, the KV cache
// contents, and the refusals a user meets (wrong parameter size, unknown device, missing
// CUDA driver, a cuda library on the cpu device). The same checks run on CUDA where a
// driver is present.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/model.h"
#include "tests/runtime/runtime_test_util.h"

using mlcc::Model;

namespace {

constexpr int kVocab = 8, kHidden = 4;

struct ToyWeights {
  std::vector<float> table, bias;
  ToyWeights() : table(kVocab * kHidden), bias(kHidden) {
    // Small exact-ish values of both signs, different in every element.
    for (int i = 0; i < kVocab * kHidden; ++i) table[i] = static_cast<float>((i * 37) % 17 - 8) / 8;
    for (int d = 0; d < kHidden; ++d) bias[d] = 0.25f * static_cast<float>(d) - 0.3f;
  }
  std::vector<float> x(int32_t token) const {
    std::vector<float> row(kHidden);
    for (int d = 0; d < kHidden; ++d) row[d] = table[token * kHidden + d] + bias[d];
    return row;
  }
  // The toy model's logits after `tokens`: 9 * sum over positions of dot(x_q, table[v]).
  std::vector<float> logits(const std::vector<int32_t>& tokens) const {
    std::vector<double> acc(kVocab, 0.0);
    for (int32_t t : tokens) {
      std::vector<float> row = x(t);
      for (int v = 0; v < kVocab; ++v)
        for (int d = 0; d < kHidden; ++d) acc[v] += row[d] * table[v * kHidden + d];
    }
    std::vector<float> out(kVocab);
    for (int v = 0; v < kVocab; ++v) out[v] = static_cast<float>(9 * acc[v]);
    return out;
  }
};

double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    num += (a[i] - b[i]) * double(a[i] - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

std::vector<int32_t> toy_tokens(int n, int seed = 0) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 5 + seed * 3 + 1) % kVocab;
  return t;
}

// Everything the toy model can show, on whichever device `model` runs.
void check_toy_model(Model& model) {
  ToyWeights w;
  CHECK(model.missing_params() == std::vector<std::string>{"embed.weight", "bias"});
  CHECK_THROWS_WITH(model.prefill({1, 2}), Catch::Contains("2 of 2 parameters are not set") &&
                                               Catch::Contains("embed.weight, bias"));
  model.set_param("embed.weight", w.table.data(), w.table.size() * 4);
  CHECK(model.missing_params() == std::vector<std::string>{"bias"});
  model.set_params(
      {{"bias", std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(w.bias.data()),
                                     reinterpret_cast<const uint8_t*>(w.bias.data()) + 16)}});
  CHECK(model.missing_params().empty());

  // 10 tokens: two prefill chunks (8 + 2), three pages of 4.
  std::vector<int32_t> tokens = toy_tokens(12);
  std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 10);
  std::vector<float> logits = model.prefill(prompt);
  CHECK(rel_error(logits, w.logits(prompt)) < 1e-5);
  CHECK(model.position() == 10);
  CHECK(model.kv_cache().pages_in_use() == 3);

  // Layer 0 keeps keys x_q and values 2 x_q at page_table[q / 4], slot q % 4.
  const mlcc::KVCache& kv = model.kv_cache();
  std::vector<float> pool(kv.info().layer_bytes() / 4);
  model.device().copy_to_host(pool.data(), kv.layers()[0], kv.info().layer_bytes());
  for (int q = 0; q < 10; ++q) {
    int page = kv.host_page_table()[q / 4], slot = q % 4;
    std::vector<float> row = w.x(prompt[q]);
    for (int d = 0; d < kHidden; ++d) {
      CHECK(pool[((page * 2 + 0) * 4 + slot) * 4 + d] == Approx(row[d]));
      CHECK(pool[((page * 2 + 1) * 4 + slot) * 4 + d] == Approx(2 * row[d]));
    }
  }

  logits = model.decode(tokens[10]);
  CHECK(rel_error(logits, w.logits(std::vector<int32_t>(tokens.begin(), tokens.begin() + 11))) <
        1e-5);
  std::vector<float> decoded = model.decode(tokens[11]);
  CHECK(rel_error(decoded, w.logits(tokens)) < 1e-5);
  CHECK(model.position() == 12);

  int32_t best =
      static_cast<int32_t>(std::max_element(decoded.begin(), decoded.end()) - decoded.begin());
  CHECK(model.argmax() == best);
  std::vector<float> probs = model.softmax(0.7f);
  std::vector<float> expected(kVocab);
  float max = *std::max_element(decoded.begin(), decoded.end()), sum = 0;
  for (int v = 0; v < kVocab; ++v) sum += expected[v] = std::exp((decoded[v] - max) / 0.7f);
  for (float& p : expected) p /= sum;
  CHECK(rel_error(probs, expected) < 1e-5);
  CHECK_THROWS_WITH(model.softmax(0.0f), Catch::Contains("temperature must be a positive"));

  // embed: 10 tokens, two chunks; the sequence is untouched.
  std::vector<float> emb = model.embed(prompt);
  REQUIRE(emb.size() == prompt.size() * kHidden);
  for (size_t i = 0; i < prompt.size(); ++i)
    for (int d = 0; d < kHidden; ++d) CHECK(emb[i * kHidden + d] == Approx(w.x(prompt[i])[d]));
  CHECK(model.position() == 12);

  // Prefill + decode agree with prefilling the whole sequence at once.
  model.reset();
  CHECK(model.position() == 0);
  CHECK_THROWS_WITH(model.argmax(), Catch::Contains("no logits yet"));
  std::vector<float> whole = model.prefill(tokens);
  CHECK(rel_error(whole, decoded) < 1e-5);

  // The context window (16) fills; the error says so and leaves the sequence as it was.
  model.prefill(toy_tokens(4, 1));
  CHECK(model.position() == 16);
  CHECK_THROWS_WITH(model.decode(3), Catch::Contains("the context window is full") &&
                                         Catch::Contains("16 tokens are in the KV cache"));
  CHECK(model.position() == 16);
  model.reset();
  CHECK_THROWS_WITH(model.prefill(toy_tokens(17)), Catch::Contains("context window of 16"));
  CHECK(model.position() == 0);
  CHECK_THROWS_WITH(model.decode(8), Catch::Contains("outside the vocabulary [0, 8)"));
  CHECK_THROWS_WITH(model.prefill({}), Catch::Contains("no tokens"));
}

}  // namespace

TEST_CASE("model: the toy library runs on the cpu device", "[runtime][model]") {
  auto model = Model::load(mlcc::test::toy_library("mlcc_toy_cpu"));
  CHECK(model->device().name() == "cpu");
  CHECK(model->manifest().quantization == "q0f32");
  check_toy_model(*model);
}

TEST_CASE("model: parameters are checked by name and size", "[runtime][model]") {
  auto model = Model::load(mlcc::test::toy_library("mlcc_toy_cpu"), "cpu");
  float bias[3] = {};
  CHECK_THROWS_WITH(
      model->set_param("bias", bias, sizeof bias),
      Catch::Contains("parameter 'bias' is f32[4], 16 bytes, but 12 bytes were given"));
  CHECK_THROWS_WITH(model->set_param("lm_head", bias, sizeof bias),
                    Catch::Contains("has no parameter 'lm_head'"));
  CHECK(model->missing_params().size() == 2);
  int calls = 0;
  model->set_params([&](const mlcc::ParamInfo& p, void* dst) {
    ++calls;
    std::fill_n(static_cast<float*>(dst), p.bytes / 4, 0.5f);
  });
  CHECK(calls == 2);
  CHECK(model->missing_params().empty());
  // All 0.5: x = table + bias = 1, so every logit is 9 * 10 * dot(1, 0.5).
  std::vector<float> logits = model->prefill(std::vector<int32_t>(10, 3));
  for (float l : logits) CHECK(l == Approx(9 * 10 * 2.0));
}

TEST_CASE("model: unknown devices and libraries for another device are refused",
          "[runtime][model]") {
  std::string cpu_lib = mlcc::test::toy_library("mlcc_toy_cpu");
  std::string cuda_lib = mlcc::test::toy_library("mlcc_toy_cuda");
  CHECK_THROWS_WITH(Model::load(cpu_lib, "tpu"),
                    Catch::Contains("unknown device 'tpu'") &&
                        Catch::Contains("expected \"cpu\", \"cuda\" or \"cuda:N\""));
  CHECK_THROWS_WITH(mlcc::open_device("cuda:x"), Catch::Contains("unknown device 'cuda:x'"));
  CHECK_THROWS_WITH(Model::load(cuda_lib, "cpu"),
                    Catch::Contains(cuda_lib) &&
                        Catch::Contains("was compiled for target 'cuda -arch=sm_52' and cannot "
                                        "run on device cpu"));
  CHECK_THROWS_WITH(Model::load(mlcc::test::toy_library("mlcc_toy_v2")),
                    Catch::Contains("format version 2"));
  CHECK_THROWS_WITH(Model::load(mlcc::test::toy_library("mlcc_toy_bad_bytecode")),
                    Catch::Contains("kernel index 9 is out of range"));
  const std::string missing = "/nonexistent/mlcc-test/libcuda.so.1";
  mlcc::test::ScopedEnv env("MLCC_CUDA_DRIVER_LIB", missing.c_str());
  CHECK_THROWS_WITH(mlcc::open_device("cuda"), Catch::Contains("cannot open device cuda:0") &&
                                                   Catch::Contains("CUDA driver not found") &&
                                                   Catch::Contains(missing));
  // A cuda library opens a cuda device by default.
  CHECK_THROWS_WITH(Model::load(cuda_lib), Catch::Contains("CUDA driver not found"));
}

TEST_CASE("model: the toy library runs on CUDA where a driver is present",
          "[runtime][model][cuda]") {
  if (!mlcc::test::cuda_driver_present()) {
    WARN("no CUDA driver: the cuda toy library is checked on the GPU machine only");
    return;
  }
  std::string cuda_lib = mlcc::test::toy_library("mlcc_toy_cuda");
  auto lib = mlcc::Library::load(cuda_lib);
  if (lib->ptx().empty()) {
    WARN("the cuda toy library was built without PTX (no clang): skipped");
    return;
  }
  auto model = Model::load(cuda_lib);
  INFO("device: " << model->device().name());
  CHECK(model->device().kind() == "cuda");
  check_toy_model(*model);
  // A cpu library on a cuda device is refused the other way round.
  CHECK_THROWS_WITH(Model::load(mlcc::test::toy_library("mlcc_toy_cpu"), "cuda"),
                    Catch::Contains("cannot run on device cuda:0"));
}
