// ggml encodings (tools/convert_weight/ggml_quants.h). Block layouts as ggml defines them:
// Q8_0 = {f16 d; int8 q[32]}, x = d * q; Q4_0 = {f16 d; uint8 qs[16]}, element j in the low
// nibble of qs[j] and element j + 16 in its high nibble, x = d * (q - 8).
#include "tools/convert_weight/ggml_quants.h"

#include <cmath>
#include <cstring>

#include "ir/half.h"
#include "runtime/error.h"
#include "runtime/gguf.h"

namespace mlcc::convert {

namespace {

using gguf::TensorType;
constexpr int64_t kBlock = 32;
constexpr size_t kQ8Bytes = 34, kQ4Bytes = 18;

bool is(uint32_t type, TensorType t) { return type == static_cast<uint32_t>(t); }

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

void put_f16(uint8_t* p, float f) {
  const uint16_t h = float_to_half(f);
  std::memcpy(p, &h, 2);
}

}  // namespace

bool ggml_type_supported(uint32_t type) {
  return is(type, TensorType::F32) || is(type, TensorType::F16) || is(type, TensorType::BF16) ||
         is(type, TensorType::Q8_0) || is(type, TensorType::Q4_0);
}

size_t ggml_row_bytes(uint32_t type, int64_t n) {
  const auto count = static_cast<size_t>(n);
  if (is(type, TensorType::F32)) return count * 4;
  if (is(type, TensorType::F16) || is(type, TensorType::BF16)) return count * 2;
  // A row that is not whole blocks has no size: 0 lets the caller refuse it.
  if (n % kBlock != 0) return 0;
  if (is(type, TensorType::Q8_0)) return count / kBlock * kQ8Bytes;
  if (is(type, TensorType::Q4_0)) return count / kBlock * kQ4Bytes;
  throw Error("ggml type " + gguf::tensor_type_name(type) + " is not supported");
}

void ggml_dequantize(uint32_t type, const uint8_t* src, int64_t n, float* dst) {
  if (is(type, TensorType::F32)) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else if (is(type, TensorType::F16) || is(type, TensorType::BF16)) {
    const bool half = is(type, TensorType::F16);
    for (int64_t i = 0; i < n; ++i) {
      uint16_t b;
      std::memcpy(&b, src + 2 * i, 2);
      dst[i] = half ? half_to_float(b) : bf16_to_float(b);
    }
  } else if (is(type, TensorType::Q8_0)) {
    for (int64_t b = 0; b < n / kBlock; ++b, src += kQ8Bytes) {
      const float d = f16_at(src);
      for (int64_t j = 0; j < kBlock; ++j)
        *dst++ = d * static_cast<float>(static_cast<int8_t>(src[2 + j]));
    }
  } else if (is(type, TensorType::Q4_0)) {
    for (int64_t b = 0; b < n / kBlock; ++b, src += kQ4Bytes, dst += kBlock) {
      const float d = f16_at(src);
      for (int64_t j = 0; j < kBlock / 2; ++j) {
        dst[j] = d * static_cast<float>((src[2 + j] & 0xF) - 8);
        dst[j + kBlock / 2] = d * static_cast<float>((src[2 + j] >> 4) - 8);
      }
    }
  } else {
    throw Error("ggml type " + gguf::tensor_type_name(type) + " is not supported");
  }
}

std::vector<uint8_t> ggml_quantize_q8_0(const float* x, int64_t n) {
  MLCC_CHECK(n % kBlock == 0, "Q8_0 needs whole blocks of 32");
  std::vector<uint8_t> out(static_cast<size_t>(n / kBlock) * kQ8Bytes);
  for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock) {
    uint8_t* blk = out.data() + b * kQ8Bytes;
    float amax = 0;
    for (int64_t j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    put_f16(blk, d);
    for (int64_t j = 0; j < kBlock; ++j)
      blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
  }
  return out;
}

std::vector<uint8_t> ggml_quantize_q4_0(const float* x, int64_t n) {
  MLCC_CHECK(n % kBlock == 0, "Q4_0 needs whole blocks of 32");
  std::vector<uint8_t> out(static_cast<size_t>(n / kBlock) * kQ4Bytes);
  for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock) {
    uint8_t* blk = out.data() + b * kQ4Bytes;
    // The element of largest magnitude, sign kept, maps to -8.
    float amax = 0, max = 0;
    for (int64_t j = 0; j < kBlock; ++j)
      if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
    const float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
    put_f16(blk, d);
    auto q = [&](float v) { return std::min(15, static_cast<int>(v * id + 8.5f)); };
    for (int64_t j = 0; j < kBlock / 2; ++j)
      blk[2 + j] = static_cast<uint8_t>(q(x[j]) | q(x[j + kBlock / 2]) << 4);
  }
  return out;
}

}  // namespace mlcc::convert
