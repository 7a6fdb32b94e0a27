// q4 group quantization as MLC-LLM computes it (its te.compute in group_quantization.py):
// the arithmetic happens in the scale dtype, so in f16 every step is rounded to f16.
#include "models/q4_quantize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "ir/half.h"
#include "runtime/error.h"

namespace mlcc::models {

std::vector<uint16_t> Q4Weight::scales_f16() const {
  std::vector<uint16_t> out(scales.size());
  for (size_t i = 0; i < scales.size(); ++i) out[i] = float_to_half(scales[i]);
  return out;
}

int Q4Weight::q(int64_t row, int64_t col) const {
  uint32_t word = qweight[static_cast<size_t>(row * q4_words(cols) + col / kQ4PerWord)];
  return static_cast<int>((word >> (4 * (col % kQ4PerWord))) & 0xfu);
}

Q4Weight quantize_q4(const float* w, int64_t rows, int64_t cols, ir::DataType scale_dtype) {
  const bool f16 = scale_dtype == ir::DataType::f16();
  if (!f16 && scale_dtype != ir::DataType::f32())
    throw Error("q4 quantization: scale dtype " + ir::to_string(scale_dtype) +
                " (expected f16 for q4f16_1 or f32 for q4f32_1)");
  if (rows <= 0 || cols <= 0)
    throw Error("q4 quantization: weight of shape [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "] (expected positive sizes)");
  // One f16 operation is one f32 operation rounded to f16: f32 carries more than twice
  // f16's precision plus two bits, so the double rounding never differs from direct f16.
  auto r = [f16](float x) { return f16 ? round_to_half(x) : x; };
  Q4Weight out;
  out.rows = rows;
  out.cols = cols;
  out.scale_dtype = scale_dtype;
  const int64_t groups = q4_groups(cols), words = q4_words(cols);
  out.qweight.assign(static_cast<size_t>(rows * words), 0u);
  out.scales.assign(static_cast<size_t>(rows * groups), 0.0f);
  const float max_int = static_cast<float>(kQ4MaxInt);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t g = 0; g < groups; ++g) {
      const float* src = w + i * cols + g * kQ4GroupSize;
      // The last group of a width that is not a multiple of 32 is padded with zeros.
      const int64_t n = std::min(kQ4GroupSize, cols - g * kQ4GroupSize);
      float max_abs = 0.0f;
      for (int64_t e = 0; e < n; ++e) max_abs = std::fmax(max_abs, std::fabs(r(src[e])));
      const float scale = r(max_abs / max_int);
      out.scales[static_cast<size_t>(i * groups + g)] = scale;
      for (int64_t e = 0; e < kQ4GroupSize; ++e) {
        uint32_t q = kQ4MaxInt;
        if (scale != 0.0f && e < n) {
          float v = std::round(r(r(r(src[e]) / scale) + max_int));
          q = static_cast<uint32_t>(std::fmin(std::fmax(v, 0.0f), 2.0f * max_int));
        }
        const int64_t col = g * kQ4GroupSize + e;
        out.qweight[static_cast<size_t>(i * words + col / kQ4PerWord)] |=
            q << (4 * (col % kQ4PerWord));
      }
    }
  }
  return out;
}

Q4Weight quantize_q4(const std::vector<float>& w, int64_t rows, int64_t cols,
                     ir::DataType scale_dtype) {
  if (static_cast<int64_t>(w.size()) != rows * cols)
    throw Error("q4 quantization: " + std::to_string(w.size()) + " values for a weight of shape [" +
                std::to_string(rows) + ", " + std::to_string(cols) + "]");
  return quantize_q4(w.data(), rows, cols, scale_dtype);
}

std::vector<float> dequantize_q4(const Q4Weight& q) {
  std::vector<float> out(static_cast<size_t>(q.rows * q.cols));
  const int64_t groups = q4_groups(q.cols);
  for (int64_t i = 0; i < q.rows; ++i)
    for (int64_t j = 0; j < q.cols; ++j)
      out[static_cast<size_t>(i * q.cols + j)] =
          static_cast<float>(q.q(i, j) - kQ4MaxInt) *
          q.scales[static_cast<size_t>(i * groups + j / kQ4GroupSize)];
  return out;
}

}  // namespace mlcc::models
