// Numeric tests of the foundation kernels: each kernel's CPU schedule compiled and run,
// and its GPU schedule run through the interpreter, against the interpreter running the
// unscheduled definition, on fresh random inputs (a new seed each run of the suite).
#include <catch2/catch.hpp>
#include <chrono>

#include "tests/kernels/check_cases.h"
#include "tools/kernel_check.h"

using namespace mlcc;

namespace {

void check_kernel(const std::string& name) { testing::check_cases(check::standard_cases(), name); }

}  // namespace

TEST_CASE("kernel add_broadcast matches the interpreter", "[kernels]") {
  check_kernel("add_broadcast");
}
TEST_CASE("kernel row_sum matches the interpreter", "[kernels]") { check_kernel("row_sum"); }
TEST_CASE("kernel row_max matches the interpreter", "[kernels]") { check_kernel("row_max"); }
TEST_CASE("kernel softmax matches the interpreter", "[kernels]") { check_kernel("softmax"); }
TEST_CASE("kernel rms_norm matches the interpreter", "[kernels]") { check_kernel("rms_norm"); }
TEST_CASE("kernel matmul matches the interpreter", "[kernels]") { check_kernel("matmul"); }
TEST_CASE("kernel gemv_q4f16 matches the interpreter", "[kernels]") { check_kernel("gemv_q4f16"); }
