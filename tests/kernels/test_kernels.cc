// Numeric tests of the foundation kernels: each kernel's CPU schedule compiled and run,
// and its GPU schedule run through the interpreter, against the interpreter running the
// unscheduled definition, on fresh random inputs (a new seed each run of the suite).
#include <catch2/catch.hpp>
#include <chrono>

#include "tools/kernel_check.h"

using namespace mlcc;

namespace {

void check_kernel(const std::string& name) {
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (const check::KernelCase& c : check::standard_cases()) {
    if (c.name != name) continue;
    check::CaseResult r = check::check_case(c, seed);
    INFO(c.name << " " << c.shape << " seed " << seed << ": cpu error " << r.cpu_error
                << ", gpu-schedule error " << r.gpu_schedule_error << ", tolerance "
                << r.tolerance);
    CHECK(r.cpu_error < r.tolerance);
    CHECK(r.gpu_schedule_error < r.tolerance);
    return;
  }
  FAIL("no kernel case named " << name);
}

}  // namespace

TEST_CASE("kernel add_broadcast matches the interpreter", "[kernels]") {
  check_kernel("add_broadcast");
}
TEST_CASE("kernel row_sum matches the interpreter", "[kernels]") { check_kernel("row_sum"); }
TEST_CASE("kernel row_max matches the interpreter", "[kernels]") { check_kernel("row_max"); }
TEST_CASE("kernel softmax matches the interpreter", "[kernels]") { check_kernel("softmax"); }
TEST_CASE("kernel rms_norm matches the interpreter", "[kernels]") { check_kernel("rms_norm"); }
TEST_CASE("kernel matmul matches the interpreter", "[kernels]") { check_kernel("matmul"); }
TEST_CASE("kernel gemv_q4f16 matches the interpreter", "[kernels]") {
  check_kernel("gemv_q4f16");
}
