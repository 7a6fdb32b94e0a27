// q4 quantizer tests: hand-worked groups (exact words and scales), rounding of halves away
// from zero, f16 intermediate rounding as MLC computes it, and the round-trip error bound.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "ir/half.h"
#include "models/q4_quantize.h"
#include "runtime/error.h"

using namespace mlcc;
using namespace mlcc::models;
using ir::DataType;

TEST_CASE("q4: a hand-worked q4f32_1 group, halves rounded away from zero", "[models][q4]") {
  std::vector<float> w(32, 0.0f);
  // scale = 7 / 7 = 1, so q = round(w + 7): 3.5 -> 10.5 -> 11 and 1.5 -> 8.5 -> 9 (round
  // half to even would give 10 and 8), -0.5 -> 6.5 -> 7, -2.5 -> 4.5 -> 5.
  const float head[8] = {7.0f, -7.0f, 3.5f, -0.5f, 0.5f, 1.5f, -2.5f, 0.0f};
  std::copy(head, head + 8, w.begin());
  Q4Weight q = quantize_q4(w, 1, 32, DataType::f32());
  REQUIRE(q.qweight.size() == 4);
  REQUIRE(q.scales.size() == 1);
  CHECK(q.scales[0] == 1.0f);
  // Elements 0..7 = 14, 0, 11, 7, 8, 9, 5, 7, least significant nibble first.
  CHECK(q.qweight[0] == 0x75987B0Eu);
  CHECK(q.qweight[1] == 0x77777777u);
  CHECK(q.qweight[2] == 0x77777777u);
  CHECK(q.qweight[3] == 0x77777777u);
  CHECK(q.q(0, 2) == 11);
  std::vector<float> back = dequantize_q4(q);
  CHECK(back[2] == 4.0f);
  CHECK(back[3] == 0.0f);
  CHECK(back[6] == -2.0f);
}

TEST_CASE("q4: a hand-worked q4f16_1 group computed in f16", "[models][q4]") {
  std::vector<float> w(32, 0.0f);
  w[0] = 1.0f;             // the group max: scale = f16(1/7) = 0.1428222656 (0x3092)
  w[1] = 0.0712890625f;    // w/s + 7 = 7.49915 exactly, 7.5 after f16 rounding -> 8
  w[2] = -0.07147216797f;  // 6.49957 exactly, 6.5 in f16 -> 7
  w[3] = 0.2136230469f;    // 8.49573 exactly, 8.5 in f16 -> 9
  w[4] = -1.0f;            // -7.0017 + 7 -> clamped to 0
  Q4Weight q = quantize_q4(w, 1, 32, DataType::f16());
  REQUIRE(q.scales_f16().size() == 1);
  CHECK(q.scales_f16()[0] == 0x3092);
  CHECK(q.scales[0] == half_to_float(0x3092));
  // Elements 0..7 = 14, 8, 7, 9, 0, 7, 7, 7.
  CHECK(q.qweight[0] == 0x7770978Eu);
  CHECK(q.qweight[1] == 0x77777777u);
  // In f32 arithmetic the same weights would give 7, 6, 8: the f16 steps matter.
  Q4Weight q32 = quantize_q4(w, 1, 32, DataType::f32());
  CHECK(q32.q(0, 1) == 7);
  CHECK(q32.q(0, 2) == 6);
  CHECK(q32.q(0, 3) == 8);
}

TEST_CASE("q4: weights are rounded to f16 before q4f16_1 quantization", "[models][q4]") {
  std::vector<float> w(32, 0.0f);
  w[0] = 7.0f;
  w[2] = 1.5f - 1e-4f;  // f16 makes it 1.5: round(8.5) = 9; kept in f32, 8.4999 -> 8
  Q4Weight q = quantize_q4(w, 1, 32, DataType::f16());
  CHECK(q.scales[0] == 1.0f);
  CHECK(q.q(0, 2) == 9);
  CHECK(quantize_q4(w, 1, 32, DataType::f32()).q(0, 2) == 8);
}

TEST_CASE("q4: layout across rows and groups, zero groups", "[models][q4]") {
  // 2 rows x 64 columns: each element's value encodes where it is.
  std::vector<float> w(128, 0.0f);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 32; ++c)
      w[static_cast<size_t>(r * 64 + c)] = static_cast<float>((c % 15) - 7);
  Q4Weight q = quantize_q4(w, 2, 64, DataType::f32());
  CHECK(q.qweight.size() == 16);
  CHECK(q.scales == std::vector<float>{1.0f, 0.0f, 1.0f, 0.0f});
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 64; ++c) CHECK(q.q(r, c) == (c < 32 ? c % 15 : 7));
  CHECK(dequantize_q4(q) == w);
}

TEST_CASE("q4: round trip error is within half a step", "[models][q4]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  const int64_t rows = 16, cols = 256;
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float& x : w) x = nd(rng);
  for (DataType dt : {DataType::f32(), DataType::f16()}) {
    Q4Weight q = quantize_q4(w, rows, cols, dt);
    std::vector<float> back = dequantize_q4(q);
    double err2 = 0, ref2 = 0;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        const size_t k = static_cast<size_t>(i * cols + j);
        const float s = q.scales[static_cast<size_t>(i * (cols / 32) + j / 32)];
        // Half a step, plus f16 rounding of the weight and of the intermediates.
        const double bound =
            dt == DataType::f32() ? 0.5 * s + 1e-7 : 0.51 * s + std::fabs(w[k]) * 0x1p-11;
        CHECK(std::fabs(back[k] - w[k]) <= bound);
        err2 += (back[k] - w[k]) * (back[k] - w[k]);
        ref2 += w[k] * w[k];
      }
    }
    // Uniform rounding error of a step s = max/7 is about s/sqrt(12) per element.
    CHECK(std::sqrt(err2 / ref2) < 0.15);
  }
}

TEST_CASE("q4: a width that is not a multiple of 32 pads the last group", "[models][q4]") {
  // Row 0: 40 values; the second group holds 8 of them and 24 zeros (q = 7).
  std::vector<float> w(2 * 40);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 13) - 6) * 0.25f;
  Q4Weight q = quantize_q4(w, 2, 40, DataType::f32());
  CHECK(q.qweight.size() == 2 * 8);  // two groups of four words per row
  CHECK(q.scales.size() == 2 * 2);
  for (int64_t r = 0; r < 2; ++r) {
    // The padded group's scale comes from its 8 real values only.
    float max_abs = 0;
    for (int64_t c = 32; c < 40; ++c) max_abs = std::max(max_abs, std::fabs(w[size_t(r * 40 + c)]));
    CHECK(q.scales[size_t(r * 2 + 1)] == max_abs / 7.0f);
    for (int64_t c = 40; c < 64; ++c) {
      uint32_t word = q.qweight[size_t(r * 8 + c / 8)];
      CHECK(((word >> (4 * (c % 8))) & 15u) == 7u);
    }
  }
  std::vector<float> back = dequantize_q4(q);
  REQUIRE(back.size() == w.size());
  for (size_t i = 0; i < w.size(); ++i) CHECK(std::fabs(back[i] - w[i]) <= 0.11f);
}

TEST_CASE("q4: shapes and dtypes are checked", "[models][q4]") {
  std::vector<float> w(48, 1.0f);
  CHECK_THROWS_WITH(quantize_q4(w.data(), 0, 48, DataType::f16()),
                    Catch::Contains("[0, 48]") && Catch::Contains("positive"));
  CHECK_THROWS_WITH(quantize_q4(w.data(), 1, 32, DataType::bf16()),
                    Catch::Contains("scale dtype bf16"));
  CHECK_THROWS_WITH(quantize_q4(w, 1, 32, DataType::f16()), Catch::Contains("48 values"));
}
