// Test helper shared by the CPU whole-model tests and the GPU model check:
// hands a compiled model its parameters from float weights, in the library's
// format (f16-rounded, or q4 quantized exactly as `mlcc convert-weight` will),
// and returns the weights as the library sees them, for the reference forward
// pass.
#pragma once

#include <string>

#include "runtime/model.h"
#include "tests/models/reference_llama.h"

namespace mlcc::testing {

Weights load_weights(Model& m, const Weights& w, const std::string& quantization);

// ||a - b|| / ||b||.
double relative_error(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace mlcc::testing
