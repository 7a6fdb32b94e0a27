// Numeric tests of the embedding, normalization, elementwise and logits kernels
// (passes/legalize/llm_kernels.h): every case of check::elementwise_cases() has its CPU
// schedule compiled and run, and its GPU schedule run through the interpreter, against the
// interpreter running the unscheduled definition, on fresh random inputs.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>

#include "passes/legalize/llm_kernels.h"
#include "runtime/error.h"
#include "tests/kernels/check_cases.h"
#include "tools/kernel_check.h"

using namespace mlcc;

namespace {

void check_family(const std::string& prefix) {
  testing::check_cases(check::elementwise_cases(), prefix);
}

}  // namespace

TEST_CASE("embedding kernels match the interpreter", "[kernels][elementwise]") {
  check_family("embedding_");
}
TEST_CASE("rms_norm kernels match the interpreter", "[kernels][elementwise]") {
  check_family("rms_norm_");
}
TEST_CASE("add_rms_norm kernels match the interpreter", "[kernels][elementwise]") {
  check_family("add_rms_norm_");
}
TEST_CASE("add, mul and silu kernels match the interpreter", "[kernels][elementwise]") {
  check_family("elementwise_");
}
TEST_CASE("silu_mul kernels match the interpreter", "[kernels][elementwise]") {
  check_family("silu_mul_");
}
TEST_CASE("slice_cols, take_last and cast kernels match the interpreter",
          "[kernels][elementwise]") {
  check_family("slice_cols_");
  check_family("take_last_");
  check_family("cast_");
}
TEST_CASE("softmax_temperature kernels match the interpreter", "[kernels][elementwise]") {
  check_family("softmax_temperature");
}
TEST_CASE("argmax kernels match the interpreter, ties included", "[kernels][elementwise]") {
  check_family("argmax");
}

TEST_CASE("an out-of-range token id reads row 0 of the embedding table", "[kernels][elementwise]") {
  kernels::Quantization q;
  q.name = "q0f32";
  ir::PrimFunc f = kernels::embedding(ir::Expr(3), 4, 8, q, nullptr);
  check::Arrays args = check::random_arguments(f, {}, 1);
  const int32_t ids[3] = {2, 7, -1};
  std::memcpy(args[0].data(), ids, sizeof(ids));
  check::interpret(f, args, {});
  const float* table = reinterpret_cast<const float*>(args[1].data());
  const float* y = reinterpret_cast<const float*>(args[2].data());
  for (int j = 0; j < 8; ++j) {
    CHECK(y[j] == table[2 * 8 + j]);
    CHECK(y[8 + j] == table[j]);
    CHECK(y[16 + j] == table[j]);
  }
}

TEST_CASE("argmax returns the first index of the largest value", "[kernels][elementwise]") {
  ir::PrimFunc f = kernels::argmax(10, nullptr);
  check::Arrays args = check::random_arguments(f, {}, 1);
  const float logits[10] = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f, 0.0f, 3.0f, 1.0f, -4.0f, 2.5f};
  std::memcpy(args[0].data(), logits, sizeof(logits));
  check::interpret(f, args, {});
  int32_t index;
  std::memcpy(&index, args[1].data(), 4);
  CHECK(index == 1);
}

TEST_CASE("model kernels refuse invalid shapes with a message", "[kernels][elementwise]") {
  kernels::Quantization q;
  q.name = "q4f16_1";
  CHECK_THROWS_AS(kernels::embedding(ir::Expr(1), 100, 100, q, nullptr), Error);
  CHECK_THROWS_AS(kernels::slice_cols(ir::Expr(1), 64, 40, 80, ir::DataType::f16(), nullptr),
                  Error);
  CHECK_THROWS_AS(kernels::rms_norm(ir::Expr(1), 64, 1e-5, ir::DataType::i32(), nullptr), Error);
}
