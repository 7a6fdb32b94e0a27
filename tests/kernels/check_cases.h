// Shared by the kernel tests: runs the cases of a family whose names start with a prefix
// (an exact name is a prefix too) through check::check_case on fresh random inputs, and
// checks the compiled CPU schedule and the interpreted GPU schedule against the reference.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tools/kernel_check.h"

namespace mlcc::testing {

inline void check_cases(const std::vector<check::KernelCase>& cases, const std::string& prefix) {
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  int ran = 0;
  for (const check::KernelCase& c : cases) {
    if (c.name.rfind(prefix, 0) != 0) continue;
    ++ran;
    DYNAMIC_SECTION(c.name) {
      check::CaseResult r = check::check_case(c, seed);
      INFO(c.name << " " << c.shape << " seed " << seed << ": cpu error " << r.cpu_error
                  << ", gpu-schedule error " << r.gpu_schedule_error << ", tolerance "
                  << r.tolerance);
      CHECK(r.cpu_error < r.tolerance);
      CHECK(r.gpu_schedule_error < r.tolerance);
    }
  }
  REQUIRE(ran > 0);
}

}  // namespace mlcc::testing
