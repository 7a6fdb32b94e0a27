// What the fake HIP runtime (fake_hip.cc) records for the ROCm device's tests, which read
// it through the exported functions below (dlsym on the fake's handle).
#pragma once

#include <cstdint>

namespace mlcc::test {

// The last hipModuleLaunchKernel.
struct FakeHipLaunch {
  int64_t launches = 0;  // how many so far
  char function[128] = {};
  uint32_t grid[3] = {}, block[3] = {};
  uint32_t shared_bytes = 0;
  uint64_t kernarg_bytes = 0;
  uint8_t kernarg[512] = {};
};

struct FakeHipCounters {
  int64_t mallocs = 0, frees = 0;
  int64_t live_allocations = 0, live_bytes = 0;
  int64_t live_modules = 0, live_events = 0, live_streams = 0;
};

using FakeHipLastLaunchFn = void (*)(FakeHipLaunch*);
using FakeHipCountersFn = void (*)(FakeHipCounters*);

}  // namespace mlcc::test

// The environment variables the fake reads at each call:
//   MLCC_FAKE_HIP_DEVICES       device count (1); 0 answers like HIP without /dev/kfd
//   MLCC_FAKE_HIP_NAME          the device name ("AMD Radeon RX 7900 XTX")
//   MLCC_FAKE_HIP_ARCH          gcnArchName ("gfx1100")
//   MLCC_FAKE_HIP_MEMORY        bytes hipMalloc may hand out in all (24 GiB)
//   MLCC_FAKE_HIP_LOAD_ERROR    an error code hipModuleLoadData returns (0)
//   MLCC_FAKE_HIP_MISSING_KERNEL  a kernel name hipModuleGetFunction does not find
