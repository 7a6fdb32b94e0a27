// The ggml tensor encodings weight conversion reads from GGUF files — F32, F16, BF16 and
// the block formats Q8_0 (32 int8 with an f16 scale) and Q4_0 (32 4-bit values with an f16
// scale) — dequantized to f32, and the reference quantizers of the two block formats (as
// ggml's quantize_row_*_ref computes them) for writing GGUF test files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mlcc::convert {

// Whether mlcc dequantizes this ggml type (F32, F16, BF16, Q8_0, Q4_0).
bool ggml_type_supported(uint32_t type);
// Bytes of a row of `n` elements; 0 when a block format's row is not whole blocks of 32.
size_t ggml_row_bytes(uint32_t type, int64_t n);
// Decodes n elements (whole blocks) of a supported type.
void ggml_dequantize(uint32_t type, const uint8_t* src, int64_t n, float* dst);

std::vector<uint8_t> ggml_quantize_q8_0(const float* x, int64_t n);
std::vector<uint8_t> ggml_quantize_q4_0(const float* x, int64_t n);

}  // namespace mlcc::convert
