// Numeric tests of the attention family (rope, kv_append, attention): each case's CPU
// schedule compiled and run, and its GPU schedule run through the interpreter with 32-lane
// warps, against the interpreted reference on fresh random inputs; the references
// themselves against plain host formulas (Hugging Face's rotate_half with llama3 scaling,
// causal attention through the page table); and the GPU kernels compiled to PTX.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "codegen/llvm/codegen.h"
#include "passes/legalize/llm_kernels.h"
#include "passes/pipeline.h"
#include "tests/kernels/check_cases.h"
#include "tools/kernel_check.h"

using namespace mlcc;
using namespace mlcc::ir;

namespace {

uint64_t fresh_seed() {
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

void check_kernel(const std::string& name) { testing::check_cases(check::attention_cases(), name); }

std::vector<float> floats(const std::vector<uint8_t>& bytes) {
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

// inv_freq step by step as transformers computes it (f32 tensors, torch.where), written
// independently of the kernel's table.
std::vector<float> hf_inv_freq(const kernels::RopeSpec& r) {
  std::vector<float> inv;
  for (int64_t i = 0; i < r.head_dim / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(r.head_dim);
    float base_pow = static_cast<float>(std::pow(double(float(r.theta)), double(exponent)));
    inv.push_back(1.0f / base_pow);
  }
  if (r.scaling != "llama3") return inv;
  const float old_len = float(r.original_max_position), factor = float(r.factor);
  const float low = float(r.low_freq_factor), high = float(r.high_freq_factor);
  const float low_wavelen = old_len / low, high_wavelen = old_len / high;
  for (float& f : inv) {
    float wavelen = float(2 * M_PI) / f;
    float llama = wavelen > low_wavelen ? f / factor : f;
    float smooth = (old_len / wavelen - low) / (high - low);
    float smoothed = (1 - smooth) * llama / factor + smooth * llama;
    bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    f = medium ? smoothed : llama;
  }
  return inv;
}

}  // namespace

TEST_CASE("kernel rope_f32 matches the interpreter", "[kernels][attention]") {
  check_kernel("rope_f32");
}
TEST_CASE("kernel rope_f16_llama3 matches the interpreter", "[kernels][attention]") {
  check_kernel("rope_f16_llama3");
}
TEST_CASE("kernel kv_append_f16_gqa_prefill matches the interpreter", "[kernels][attention]") {
  check_kernel("kv_append_f16_gqa_prefill");
}
TEST_CASE("kernel kv_append_f32_decode_llama3 matches the interpreter", "[kernels][attention]") {
  check_kernel("kv_append_f32_decode_llama3");
}
TEST_CASE("kernel attention_f16_gqa_prefill matches the interpreter", "[kernels][attention]") {
  check_kernel("attention_f16_gqa_prefill");
}
TEST_CASE("kernel attention_f32_mha_prefill matches the interpreter", "[kernels][attention]") {
  check_kernel("attention_f32_mha_prefill");
}
TEST_CASE("kernel attention_f32_prefill_d128 matches the interpreter", "[kernels][attention]") {
  check_kernel("attention_f32_prefill_d128");
}
TEST_CASE("kernel attention_f32_gqa_no_past matches the interpreter", "[kernels][attention]") {
  check_kernel("attention_f32_gqa_no_past");
}
TEST_CASE("kernel attention_f16_gqa_decode matches the interpreter", "[kernels][attention]") {
  check_kernel("attention_f16_gqa_decode");
}
TEST_CASE("kernel attention_f32_gqa_decode_var_rows matches the interpreter",
          "[kernels][attention]") {
  check_kernel("attention_f32_gqa_decode_var_rows");
}
TEST_CASE("kernel attention_f16_mha_decode_d128 matches the interpreter", "[kernels][attention]") {
  check_kernel("attention_f16_mha_decode_d128");
}

// The rotation at large positions (where a sloppy sin/cos range reduction shows) and the
// three llama3 regimes, against the formula evaluated in double on the f32 angle.
TEST_CASE("rope reference matches Hugging Face's rotate_half formula", "[kernels][attention]") {
  for (bool llama3 : {false, true}) {
    kernels::RopeSpec spec;
    spec.head_dim = 64;
    spec.theta = llama3 ? 500000.0 : 10000.0;
    if (llama3) spec.scaling = "llama3";
    const int64_t rows = 4, heads = 2, cols = heads * 64;
    const int64_t total = 40000;
    Var n("n"), len("len");
    PrimFunc f = kernels::rope(n, len, cols, 0, heads, spec, DataType::f32(), nullptr);
    check::Arrays args = check::random_arguments(f, {rows, total}, fresh_seed());
    check::interpret(f, args, {rows, total});
    std::vector<float> x = floats(args[0]), y = floats(args[1]);
    std::vector<float> inv = hf_inv_freq(spec);
    double worst = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < 32; ++j) {
          float angle = static_cast<float>(total - rows + r) * inv[j];
          double c = std::cos(double(angle)), s = std::sin(double(angle));
          double x1 = x[r * cols + h * 64 + j], x2 = x[r * cols + h * 64 + j + 32];
          worst = std::max(worst, std::fabs(y[r * cols + h * 64 + j] - (x1 * c - x2 * s)));
          worst = std::max(worst, std::fabs(y[r * cols + h * 64 + j + 32] - (x2 * c + x1 * s)));
        }
    INFO("llama3 " << llama3 << ": largest difference " << worst);
    CHECK(worst < 5e-7);
  }
}

// kv_append then attention, interpreted, against attention computed on the host from the
// new keys (rotated on the host) and values and the old cache contents, in double.
TEST_CASE("kv_append and attention references match a host computation", "[kernels][attention]") {
  const int64_t heads = 4, kv = 2, d = 16, ps = 4, max_pages = 5, num_pages = 7;
  const int64_t rows = 6, total = 17, in_cols = (heads + 2 * kv) * d;
  Var n("n"), len("len");
  kernels::RopeSpec spec;
  spec.head_dim = d;
  kernels::PagedCache cache{Expr(int(num_pages)), max_pages, kv, d, ps};
  PrimFunc app = kernels::kv_append(n, len, in_cols, heads * d, (heads + kv) * d, spec, cache,
                                    DataType::f32(), nullptr);
  PrimFunc att = kernels::attention(n, len, heads, cache, DataType::f32(), nullptr);
  uint64_t seed = fresh_seed();
  check::Arrays a = check::random_arguments(app, {rows, total}, seed);
  // A random cache and a page table that reverses the pages.
  check::Arrays filler = check::random_arguments(att, {rows, total}, seed + 1);
  a[1] = filler[1];
  std::vector<int32_t> table(max_pages);
  for (int64_t p = 0; p < max_pages; ++p) table[p] = static_cast<int32_t>(num_pages - 1 - p);
  std::memcpy(a[2].data(), table.data(), table.size() * 4);
  std::vector<float> old_cache = floats(a[1]), qkv = floats(a[0]);
  check::interpret(app, a, {rows, total});
  std::vector<float> new_cache = floats(a[1]);

  auto at = [&](const std::vector<float>& c, int64_t pos, int kind, int64_t g, int64_t j) {
    int64_t page = table[pos / ps];
    return c[(((page * 2 + kind) * kv + g) * ps + pos % ps) * d + j];
  };
  // Keys and values the host expects at every position of the sequence.
  std::vector<double> keys(total * kv * d), values(total * kv * d);
  std::vector<float> inv = hf_inv_freq(spec);
  for (int64_t pos = 0; pos < total; ++pos)
    for (int64_t g = 0; g < kv; ++g)
      for (int64_t j = 0; j < d; ++j) {
        int64_t r = pos - (total - rows);
        double k, v;
        if (r < 0) {
          k = at(old_cache, pos, 0, g, j), v = at(old_cache, pos, 1, g, j);
        } else {
          const float* row = &qkv[r * in_cols];
          int64_t jj = j % (d / 2);
          float angle = static_cast<float>(pos) * inv[jj];
          double c = std::cos(double(angle)), s = std::sin(double(angle));
          double x1 = row[heads * d + g * d + jj], x2 = row[heads * d + g * d + jj + d / 2];
          k = j < d / 2 ? x1 * c - x2 * s : x2 * c + x1 * s;
          v = row[(heads + kv) * d + g * d + j];
        }
        keys[(pos * kv + g) * d + j] = k;
        values[(pos * kv + g) * d + j] = v;
        CHECK(std::fabs(at(new_cache, pos, 0, g, j) - k) < 2e-6);
        CHECK(at(new_cache, pos, 1, g, j) == static_cast<float>(v));
      }

  check::Arrays b = check::random_arguments(att, {rows, total}, seed + 2);
  b[1] = a[1];
  b[2] = a[2];
  std::vector<float> q = floats(b[0]);
  check::interpret(att, b, {rows, total});
  std::vector<float> out = floats(b[3]);
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h) {
      int64_t g = h / (heads / kv), last = total - rows + r;
      std::vector<double> w(last + 1);
      double mx = -1e300, sum = 0;
      for (int64_t t = 0; t <= last; ++t) {
        double s = 0;
        for (int64_t j = 0; j < d; ++j)
          s += q[r * heads * d + h * d + j] * keys[(t * kv + g) * d + j];
        w[t] = s / std::sqrt(double(d));
        mx = std::max(mx, w[t]);
      }
      for (double& x : w) sum += (x = std::exp(x - mx));
      for (int64_t j = 0; j < d; ++j) {
        double o = 0;
        for (int64_t t = 0; t <= last; ++t) o += w[t] * values[(t * kv + g) * d + j];
        worst = std::max(worst, std::fabs(out[r * heads * d + h * d + j] - o / sum));
      }
    }
  INFO("largest attention difference " << worst);
  CHECK(worst < 1e-5);
}

#ifndef MLCC_PTXAS
#define MLCC_PTXAS "/usr/local/cuda/bin/ptxas"
#endif

// Every GPU kernel of the cases compiles to PTX (assembled by ptxas for sm_90 where the
// CUDA toolkit is installed), with 16-byte vector loads of the cache in attention.
TEST_CASE("attention family GPU kernels compile to PTX", "[kernels][attention][nvptx]") {
  Target gpu = Target::parse("cuda -arch=sm_90");
  std::vector<PrimFunc> funcs;
  for (const check::KernelCase& c : check::attention_cases()) {
    PrimFunc f = passes::lower_for_codegen(c.build(&gpu), gpu);
    f.name = c.name;
    funcs.push_back(f);
  }
  std::string ptx;
  std::vector<codegen::CudaKernel> ks = codegen::compile_cuda(funcs, gpu, &ptx);
  REQUIRE(ks.size() == funcs.size());
  bool vector_loads = ptx.find("ld.global.nc.v4") != std::string::npos ||
                      ptx.find("ld.global.v4") != std::string::npos;
  CHECK(vector_loads);
  CHECK(ptx.find("shfl.sync.bfly") != std::string::npos);
  if (!std::filesystem::exists(MLCC_PTXAS)) {
    WARN("ptxas not found at " MLCC_PTXAS "; PTX not assembled");
    return;
  }
  std::string dir =
      std::filesystem::temp_directory_path() / ("mlcc-attn-ptx-" + std::to_string(fresh_seed()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/k.ptx") << ptx;
  std::string cmd = std::string(MLCC_PTXAS) + " -arch=sm_90 -v " + dir + "/k.ptx -o " + dir +
                    "/k.cubin > " + dir + "/log 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(dir + "/log");
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  INFO(log);
  CHECK(rc == 0);
}
