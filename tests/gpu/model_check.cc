// mlcc-model-check: whole-model checks of compiled libraries on the GPU machine (runtime
// and test code only: it has no LLVM). Speed is `mlcc bench`'s (tests/gpu/chat.sh).
//   mlcc-model-check check LIB... [--device D]
//       small random Llamas against the reference forward pass, as tests/compile does
//   mlcc-model-check logits LIB --model DIR --tokens FILE --expect FILE [--device D]
//       a converted model's logits at every position against an oracle's (f32 [T, vocab])
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "models/llama_config.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/tensor_cache.h"
#include "tests/models/model_weights.h"

using namespace mlcc;

namespace {

// Prefill of 13 tokens, decode of 5, logits against the reference at each
// position, and a whole-sequence prefill against the last decode.
bool check(const std::string& lib, const std::string& device) {
  auto model = Model::load(lib, device);
  const Manifest& m = model->manifest();
  models::LlamaConfig c = models::LlamaConfig::from_json(m.model, lib);
  testing::Weights w = testing::random_llama_weights(c, 7);
  testing::Weights seen = testing::load_weights(*model, w, m.quantization);
  std::vector<int32_t> tokens = {1,  17, 42, 99,  3, 150, 8,  77, 5,
                                 31, 64, 12, 140, 2, 90,  33, 21, 7};
  auto ref = testing::reference_forward(c, seen, tokens);
  const double tol = m.quantization == "q0f32" || m.quantization == "q4f32_1" ? 1e-4 : 1e-2;
  double worst = 0;
  const size_t n = 13;
  std::vector<float> logits =
      model->prefill(std::vector<int32_t>(tokens.begin(), tokens.begin() + n));
  worst = std::max(worst, testing::relative_error(logits, ref[n - 1]));
  for (size_t t = n; t < tokens.size(); ++t) {
    logits = model->decode(tokens[t]);
    worst = std::max(worst, testing::relative_error(logits, ref[t]));
  }
  model->reset();
  std::vector<float> whole = model->prefill(tokens);
  double consistency = testing::relative_error(whole, logits);
  int32_t host_best =
      static_cast<int32_t>(std::max_element(whole.begin(), whole.end()) - whole.begin());
  bool argmax_ok = model->argmax() == host_best;
  bool ok = worst < tol && consistency < tol && argmax_ok;
  std::printf("| %s | %s | %lld layers, %lld/%lld heads, FFN %lld%s | %.2e | %.2e | %s | %s |\n",
              m.quantization.c_str(), model->device().name().c_str(), (long long)c.num_layers,
              (long long)c.num_heads, (long long)c.num_kv_heads, (long long)c.intermediate_size,
              c.tie_word_embeddings ? ", tied" : "", worst, consistency, argmax_ok ? "yes" : "no",
              ok ? "PASS" : "FAIL");
  return ok;
}

// Feeds `tokens` one at a time (prefill of the first, then decodes) and compares each
// position's logits with row t of the oracle's.
int logits(const std::string& lib, const std::string& device, const std::string& dir,
           const std::string& tokens_path, const std::string& expect_path, double tol) {
  auto model = Model::load(lib, device);
  load_params(*model, dir);
  std::ifstream tin(tokens_path);
  std::vector<int32_t> tokens{std::istream_iterator<int32_t>(tin), {}};
  std::ifstream ein(expect_path, std::ios::binary);
  std::vector<char> raw{std::istreambuf_iterator<char>(ein), {}};
  if (tokens.empty() || raw.size() % (tokens.size() * 4) != 0)
    throw Error(expect_path + ": expected f32 logits for " + std::to_string(tokens.size()) +
                " tokens");
  const size_t vocab = raw.size() / 4 / tokens.size();
  std::vector<float> expect(raw.size() / 4);
  std::memcpy(expect.data(), raw.data(), raw.size());
  double worst = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<float> got = t == 0 ? model->prefill({tokens[0]}) : model->decode(tokens[t]);
    std::vector<float> ref(expect.begin() + long(t * vocab),
                           expect.begin() + long((t + 1) * vocab));
    worst = std::max(worst, testing::relative_error(got, ref));
  }
  model->reset();
  std::vector<float> whole = model->prefill(tokens);
  std::vector<float> last(expect.end() - long(vocab), expect.end());
  const double prefill_err = testing::relative_error(whole, last);
  const bool ok = worst < tol && prefill_err < tol;
  std::printf("| %s | %s | %zu tokens | %.2e | %.2e | %.0e | %s |\n", dir.c_str(),
              model->manifest().quantization.c_str(), tokens.size(), worst, prefill_err, tol,
              ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::printf(
        "usage: mlcc-model-check check LIB... [--device D]\n"
        "       mlcc-model-check logits LIB --model DIR --tokens FILE --expect FILE "
        "[--device D] [--tolerance T]\n");
    return 2;
  }
  std::string mode = argv[1], device, model_dir, tokens, expect;
  double tol = 1e-3;
  std::vector<std::string> libs;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--device" && i + 1 < argc)
      device = argv[++i];
    else if (a == "--model" && i + 1 < argc)
      model_dir = argv[++i];
    else if (a == "--tokens" && i + 1 < argc)
      tokens = argv[++i];
    else if (a == "--expect" && i + 1 < argc)
      expect = argv[++i];
    else if (a == "--tolerance" && i + 1 < argc)
      tol = std::stod(argv[++i]);
    else
      libs.push_back(a);
  }
  try {
    if (mode == "logits") return logits(libs.at(0), device, model_dir, tokens, expect, tol);
    std::printf(
        "| quantization | device | model | max rel. error vs reference | "
        "prefill+decode vs prefill | argmax | result |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n");
    int failed = 0;
    for (const std::string& lib : libs) failed += check(lib, device) ? 0 : 1;
    std::printf("\n%zu checked, %d failed\n", libs.size(), failed);
    return failed ? 1 : 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mlcc-model-check: %s\n", e.what());
    return 1;
  }
}
