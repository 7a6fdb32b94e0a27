// mlcc-model-check: whole-model checks and a decode benchmark for compiled
// libraries on the GPU machine (runtime only: it has no LLVM).
//   mlcc-model-check check LIB... [--device D]   small random Llamas against
//   the reference
//                                                forward pass (as tests/compile
//                                                does on the CPU)
//   mlcc-model-check bench LIB [--device D] [--generate N] [--prefill N]
//                                                random weights, prefill and
//                                                decode tok/s
//   mlcc-model-check logits LIB --model DIR --tokens FILE --expect FILE [--device D]
//                                                a converted model's logits at
//                                                every position against an
//                                                oracle's (f32 [T, vocab])
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ir/half.h"
#include "models/llama_config.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/tensor_cache.h"
#include "tests/models/model_weights.h"

using namespace mlcc;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

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

// Random parameters good enough for timing: random 4-bit words, small scales
// and weights, norm weights of one.
void random_params(Model& model) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  model.set_params([&](const ParamInfo& p, void* dst) {
    auto* bytes = static_cast<uint8_t*>(dst);
    bool norm = p.name.find("norm") != std::string::npos;
    if (p.dtype == "u32") {
      for (size_t i = 0; i + 8 <= p.bytes; i += 8) {
        uint64_t v = next();
        std::memcpy(bytes + i, &v, 8);
      }
    } else if (p.dtype == "f16") {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (size_t i = 0; i < p.bytes / 2; ++i)
        h[i] = float_to_half(norm ? 1.0f : (float(next() >> 40) / float(1 << 24) - 0.5f) * 0.02f);
    } else {
      auto* f = reinterpret_cast<float*>(dst);
      for (size_t i = 0; i < p.bytes / 4; ++i)
        f[i] = norm ? 1.0f : (float(next() >> 40) / float(1 << 24) - 0.5f) * 0.02f;
    }
  });
}

int bench(const std::string& lib, const std::string& device, int generate, int prefill) {
  auto t0 = Clock::now();
  auto model = Model::load(lib, device);
  random_params(*model);
  std::printf("loaded %s on %s with random weights in %.1f s\n", lib.c_str(),
              model->device().name().c_str(), seconds_since(t0));
  // Warm up (module JIT, allocations), then MLC's benchmark: a 1-token prompt,
  // `generate` tokens decoded greedily.
  model->prefill({1});
  for (int i = 0; i < 8; ++i) model->decode(model->argmax());
  model->reset();
  t0 = Clock::now();
  model->prefill({1});
  double first = seconds_since(t0);
  t0 = Clock::now();
  for (int i = 0; i < generate; ++i) model->decode(model->argmax());
  double decode_s = seconds_since(t0);
  model->reset();
  std::vector<int32_t> prompt(static_cast<size_t>(prefill));
  for (int i = 0; i < prefill; ++i) prompt[static_cast<size_t>(i)] = 1 + (i * 7919) % 30000;
  model->prefill(prompt);  // warm the prefill shapes
  model->reset();
  t0 = Clock::now();
  model->prefill(prompt);
  double prefill_s = seconds_since(t0);
  const Manifest& m = model->manifest();
  std::printf(
      "\n| model | device | prefill %d tok/s | decode %d tok/s "
      "(1-token prompt) | "
      "first token | params |\n| --- | --- | --- | --- | --- | --- |\n",
      prefill, generate);
  std::printf("| %s %s | %s | %.0f | %.1f | %.1f ms | %.2f GiB |\n", lib.c_str(),
              m.quantization.c_str(), model->device().name().c_str(), prefill / prefill_s,
              generate / decode_s, first * 1e3, m.param_bytes / double(1 << 30));
  return 0;
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
        "       mlcc-model-check bench LIB [--device D] [--generate N] "
        "[--prefill N]\n");
    return 2;
  }
  std::string mode = argv[1], device, model_dir, tokens, expect;
  double tol = 1e-3;
  std::vector<std::string> libs;
  int generate = 512, prefill = 512;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--device" && i + 1 < argc)
      device = argv[++i];
    else if (a == "--generate" && i + 1 < argc)
      generate = std::stoi(argv[++i]);
    else if (a == "--prefill" && i + 1 < argc)
      prefill = std::stoi(argv[++i]);
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
    if (mode == "bench") return bench(libs.at(0), device, generate, prefill);
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
