// Test-size cases of the embedding, normalization, elementwise and logits kernels of
// passes/legalize/llm_kernels.h, for the numeric checks (tests/kernels/test_elementwise.cc,
// mlcc demo, tests/gpu). Sizes make the interpreter quick while reaching every code path:
// full 16-byte vectors, rows that need a guard or scalar access, one vector per thread and
// several, blocks of 128 to 1024 threads.
#include <cstring>
#include <string>

#include "passes/legalize/llm_kernels.h"
#include "tools/kernel_check.h"

namespace mlcc::check {

using namespace ir;

namespace {

// Token ids in [0, vocab), with an id past the table and a negative one (both read row 0).
void write_ids(std::vector<uint8_t>& ids, int64_t vocab, uint64_t seed) {
  size_t n = ids.size() / 4;
  for (size_t i = 0; i < n; ++i) {
    int32_t id = static_cast<int32_t>((seed * 7919 + i * 104729) % uint64_t(vocab));
    if (i == 1) id = static_cast<int32_t>(vocab + 3);
    if (i == 3 && n > 4) id = -2;
    std::memcpy(&ids[i * 4], &id, 4);
  }
}

void set_f32(std::vector<uint8_t>& a, size_t i, float v) { std::memcpy(&a[i * 4], &v, 4); }

std::string dt_name(DataType t) { return to_string(t); }

}  // namespace

std::vector<KernelCase> elementwise_cases() {
  Var n("n");
  const DataType f16 = DataType::f16(), f32 = DataType::f32();
  auto tol = [](DataType t) { return t == DataType::f16() ? 1e-2 : 1e-5; };
  std::vector<KernelCase> cases;
  auto add = [&](std::string name, std::string shape, std::function<PrimFunc(const Target*)> b,
                 std::vector<int64_t> scalars, double tolerance,
                 std::function<void(Arrays&, uint64_t)> prepare = nullptr) {
    cases.push_back({std::move(name), std::move(shape), std::move(b), nullptr, std::move(scalars),
                     tolerance, std::move(prepare)});
  };

  // Lookups copy or dequantize exactly (q - 7 times an f16 scale is exact in f32).
  for (const char* qname : {"q0f16", "q0f32", "q4f16_1", "q4f32_1"}) {
    kernels::Quantization q;
    q.name = qname;
    const int64_t vocab = 50, hidden = 320;
    add(
        std::string("embedding_") + qname, "6 ids, 50x320 " + q.name,
        [n, q](const Target* t) { return kernels::embedding(n, vocab, hidden, q, t); }, {6}, 1e-6,
        [vocab](Arrays& a, uint64_t seed) { write_ids(a[0], vocab, seed); });
  }

  for (DataType dt : {f16, f32}) {
    std::string d = dt_name(dt);
    // 1000 f16 columns: 125 vectors over 128 threads (a guard); 4096 f32: 1024 threads.
    int64_t cols = dt == f16 ? 1000 : 4096;
    add(
        "rms_norm_" + d, "7x" + std::to_string(cols) + " " + d,
        [n, cols, dt](const Target* t) { return kernels::rms_norm(n, cols, 1e-5, dt, t); }, {7},
        tol(dt));
    int64_t acols = dt == f16 ? 2048 : 1000;
    add(
        "add_rms_norm_" + d, "6x" + std::to_string(acols) + " " + d,
        [n, acols, dt](const Target* t) { return kernels::add_rms_norm(n, acols, 1e-6, dt, t); },
        {6}, tol(dt));
  }
  // Odd widths: scalar accesses, several vectors per thread and a tail on the CPU.
  add(
      "rms_norm_f32_odd", "3x2999 f32",
      [n](const Target* t) { return kernels::rms_norm(n, 2999, 1e-5, DataType::f32(), t); }, {3},
      1e-5);
  add(
      "add_rms_norm_f16_odd", "2x1030 f16",
      [n](const Target* t) { return kernels::add_rms_norm(n, 1030, 1e-5, DataType::f16(), t); },
      {2}, 1e-2);

  const std::pair<kernels::Elementwise, const char*> ops[] = {
      {kernels::Elementwise::kAdd, "add"},
      {kernels::Elementwise::kMul, "mul"},
      {kernels::Elementwise::kSilu, "silu"}};
  for (DataType dt : {f16, f32})
    for (auto [op, opname] : ops) {
      std::string d = dt_name(dt);
      add(
          std::string("elementwise_") + opname + "_" + d, "9x1000 " + d,
          [n, op, dt](const Target* t) { return kernels::elementwise(op, n, 1000, dt, t); }, {9},
          tol(dt));
    }
  add(
      "elementwise_silu_odd_f32", "5x333 f32",
      [n](const Target* t) {
        return kernels::elementwise(kernels::Elementwise::kSilu, n, 333, DataType::f32(), t);
      },
      {5}, 1e-5);

  for (DataType dt : {f16, f32}) {
    std::string d = dt_name(dt);
    add(
        "silu_mul_" + d, "5x(2x688) " + d,
        [n, dt](const Target* t) { return kernels::silu_mul(n, 688, dt, t); }, {5}, tol(dt));
  }
  add(
      "slice_cols_f16", "7x1536[512:1024] f16",
      [n](const Target* t) { return kernels::slice_cols(n, 1536, 512, 1024, DataType::f16(), t); },
      {7}, 1e-6);
  add(
      "slice_cols_f32_odd", "7x100[3:77] f32",
      [n](const Target* t) { return kernels::slice_cols(n, 100, 3, 77, DataType::f32(), t); }, {7},
      1e-6);
  for (DataType dt : {f16, f32}) {
    std::string d = dt_name(dt);
    add(
        "take_last_" + d, "9x1000 " + d,
        [n, dt](const Target* t) { return kernels::take_last(n, 1000, dt, t); }, {9}, 1e-6);
  }
  add(
      "cast_f16_f32", "8x1000",
      [n](const Target* t) { return kernels::cast(n, 1000, DataType::f16(), DataType::f32(), t); },
      {8}, 1e-6);
  add(
      "cast_f32_f16", "8x1000",
      [n](const Target* t) { return kernels::cast(n, 1000, DataType::f32(), DataType::f16(), t); },
      {8}, 1e-3);

  // Logits: the temperature is positive (random bits are not a temperature).
  auto temperature = [](Arrays& a, uint64_t seed) { set_f32(a[1], 0, 0.5f + (seed % 7) * 0.1f); };
  // 22000 columns: 5500 vectors of 4, so on the GPU an unrolled group of four passes of
  // 1024 threads, one more pass and a partial one.
  add(
      "softmax_temperature", "vocab 22000",
      [](const Target* t) { return kernels::softmax_temperature(22000, t); }, {}, 1e-5,
      temperature);
  add(
      "softmax_temperature_odd", "vocab 1001",
      [](const Target* t) { return kernels::softmax_temperature(1001, t); }, {}, 1e-5, temperature);
  // Integer outputs must match exactly: any wrong index is an error of at least 1/vocab.
  add(
      "argmax", "vocab 22000", [](const Target* t) { return kernels::argmax(22000, t); }, {},
      1e-12);
  add(
      "argmax_odd", "vocab 1001", [](const Target* t) { return kernels::argmax(1001, t); }, {},
      1e-12);
  // Ties: the largest value at 4000 and 4002 (one GPU thread's vector, lanes 0 and 2), at
  // 4016 (the CPU's lane 0 again) and at 4100, 4101 (thread 1 on its second pass). The
  // first index, 4000, must win over later lanes, later passes and lower threads.
  add(
      "argmax_tie", "vocab 5000, tied maxima",
      [](const Target* t) { return kernels::argmax(5000, t); }, {}, 1e-12,
      [](Arrays& a, uint64_t) {
        for (size_t i : {4101, 4100, 4016, 4002, 4000}) set_f32(a[0], i, 2.0f);
      });
  return cases;
}

}  // namespace mlcc::check
