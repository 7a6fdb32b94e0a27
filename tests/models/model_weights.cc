// Parameters of a compiled model from float weights
// (tests/models/model_weights.h).
#include "tests/models/model_weights.h"

#include <cmath>
#include <cstring>

#include "ir/half.h"
#include "models/q4_quantize.h"
#include "runtime/error.h"

namespace mlcc::testing {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<uint8_t> raw(const void* p, size_t n) {
  return std::vector<uint8_t>(static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
}

std::vector<uint8_t> as_f16(const std::vector<float>& v) {
  std::vector<uint8_t> bytes(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t h = float_to_half(v[i]);
    std::memcpy(&bytes[2 * i], &h, 2);
  }
  return bytes;
}

}  // namespace

Weights load_weights(Model& m, const Weights& w, const std::string& quant) {
  Weights seen = w;
  const bool f16 = quant == "q4f16_1" || quant == "q0f16";
  std::map<std::string, std::vector<uint8_t>> host;
  for (const ParamInfo& info : m.manifest().params) {
    if (ends_with(info.name, ".q_weight") || ends_with(info.name, ".q_scale")) {
      std::string base = info.name.substr(0, info.name.rfind('.'));
      const std::vector<float>& src = w.at(base + ".weight");
      int64_t rows = info.shape[0], cols = static_cast<int64_t>(src.size()) / rows;
      models::Q4Weight q =
          models::quantize_q4(src, rows, cols, f16 ? ir::DataType::f16() : ir::DataType::f32());
      seen[base + ".weight"] = models::dequantize_q4(q);
      if (ends_with(info.name, ".q_weight"))
        host[info.name] = raw(q.qweight.data(), q.qweight.size() * 4);
      else if (f16)
        host[info.name] = raw(q.scales_f16().data(), q.scales.size() * 2);
      else
        host[info.name] = raw(q.scales.data(), q.scales.size() * 4);
      continue;
    }
    const std::vector<float>& src = w.at(info.name);
    if (f16) {
      host[info.name] = as_f16(src);
      for (float& x : seen[info.name]) x = half_to_float(float_to_half(x));
    } else {
      host[info.name] = raw(src.data(), src.size() * 4);
    }
  }
  m.set_params(host);
  return seen;
}

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) throw Error("relative_error: sizes differ");
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

}  // namespace mlcc::testing
