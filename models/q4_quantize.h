// The q4f16_1 / q4f32_1 group quantizer of DESIGN.md §6, bit-exact with MLC-LLM's so that
// weights converted by either tool are the same bytes, and its dequantizer (the reference
// the kernels and the whole-model tests are checked against).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/dtype.h"

namespace mlcc::models {

constexpr int64_t kQ4GroupSize = 32;  // consecutive elements of a row sharing a scale
constexpr int64_t kQ4PerWord = 8;     // 4-bit values per u32, element i in bits [4i, 4i+4)
constexpr int kQ4MaxInt = 7;          // q in [0, 14] stands for q - 7

// Groups and u32 words per row of a weight with `cols` in-features: a width that is not a
// multiple of 32 gets a last group padded with zeros (stored as q = 7), as MLC-LLM pads.
constexpr int64_t q4_groups(int64_t cols) { return (cols + kQ4GroupSize - 1) / kQ4GroupSize; }
constexpr int64_t q4_words(int64_t cols) { return q4_groups(cols) * (kQ4GroupSize / kQ4PerWord); }

// A quantized weight W[rows, cols]: qweight u32[rows, q4_words(cols)], scales
// [rows, q4_groups(cols)].
struct Q4Weight {
  int64_t rows = 0, cols = 0;
  ir::DataType scale_dtype = ir::DataType::f16();  // f16 (q4f16_1) or f32 (q4f32_1)
  std::vector<uint32_t> qweight;
  std::vector<float> scales;                 // exact values; for f16 each is representable in f16
  std::vector<uint16_t> scales_f16() const;  // the stored bits of f16 scales
  int q(int64_t row, int64_t col) const;     // the 4-bit value in [0, 14] of one element
};

// Quantizes W[rows, cols] (row-major); throws mlcc::Error naming the shape when a size is
// not positive or when scale_dtype is not f16/f32. For f16 the weights are first rounded
// to f16 (MLC converts them to the model dtype before quantizing), and max|w| / 7 and
// w / scale + 7 are computed in f16 arithmetic — every intermediate rounded to f16 — then
// rounded half away from zero (C's round) and clamped to [0, 14]. A group of zeros (scale
// 0) stores q = 7.
Q4Weight quantize_q4(const float* w, int64_t rows, int64_t cols, ir::DataType scale_dtype);
Q4Weight quantize_q4(const std::vector<float>& w, int64_t rows, int64_t cols,
                     ir::DataType scale_dtype);

// (q - 7) * scale for every element, exact in f32: W[rows, cols] row-major.
std::vector<float> dequantize_q4(const Q4Weight& q);

}  // namespace mlcc::models
