// Tests of per-kernel GPU timing (Device::begin_profile / end_profile): the CPU device says
// it cannot time; the Vulkan device counts each kernel's launches across batches and times
// them (on lavapipe in CI, skipped where there is no Vulkan device). The CUDA device's
// profile needs a GPU (`mlcc bench --profile --device cuda`); ctest has none.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "runtime/device.h"

TEST_CASE("device profile: the cpu device cannot time kernels", "[runtime]") {
  auto dev = mlcc::make_cpu_device();
  CHECK_FALSE(dev->begin_profile());
  CHECK(dev->end_profile().empty());
}

#if MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS

#include "runtime/devices/vulkan_device.h"
#include "tests/runtime/vulkan_test_util.h"

namespace {

// The timing of `kernel` in `timings`, or nullptr.
const mlcc::KernelTiming* find(const std::vector<mlcc::KernelTiming>& timings, size_t kernel) {
  for (const mlcc::KernelTiming& t : timings)
    if (t.kernel == kernel) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("device profile: vulkan counts and times each kernel's launches", "[runtime][vulkan]") {
  auto dev = mlcc::test::open_or_skip();
  if (!dev) return;
  dev->load_spirv_kernels(mlcc::test::test_kernels());
  if (!dev->begin_profile()) {
    WARN("SKIPPED: " << dev->name() << " has no timestamps on its compute queue");
    return;
  }
  CHECK(dev->end_profile().empty());  // nothing launched
  CHECK(dev->end_profile().empty());  // and not profiling any more

  const int n = 4096;
  mlcc::DeviceBuffer p0(*dev, n * 4), p1(*dev, n * 4), b(*dev, n * 4), r(*dev, n * 4);
  std::vector<int32_t> ones(n, 1), out(n);
  dev->memset(p0.get(), 0, n * 4);
  dev->copy_to_device(b.get(), ones.data(), n * 4);
  void* bufs[2] = {p0.get(), p1.get()};
  int64_t steps = 0;
  auto axpy = [&](int times) {
    for (int k = 0; k < times; ++k, ++steps) {
      void* args[] = {bufs[(steps + 1) % 2], bufs[steps % 2], b.get()};
      int64_t scalars[] = {n, 1};
      dev->launch(0, args, scalars);
    }
  };
  auto reverse = [&] {
    void* args[] = {r.get(), bufs[steps % 2]};
    int64_t scalars[] = {n};
    dev->launch(1, args, scalars);
  };

  // Launches before begin_profile, and those of a profile started over, are not counted.
  axpy(3);
  REQUIRE(dev->begin_profile());
  axpy(2);
  REQUIRE(dev->begin_profile());
  axpy(5);
  reverse();
  dev->copy_to_host(out.data(), r.get(), n * 4);  // a batch ends in the middle
  reverse();
  axpy(4500);  // more launches than one batch holds (4096), so more than its queries
  reverse();
  std::vector<mlcc::KernelTiming> timings = dev->end_profile();
  REQUIRE(timings.size() == 2);
  CHECK(timings[0].kernel == 0);  // in kernel order
  CHECK(timings[1].kernel == 1);
  const mlcc::KernelTiming* a = find(timings, 0);
  const mlcc::KernelTiming* rev = find(timings, 1);
  REQUIRE(a != nullptr);
  REQUIRE(rev != nullptr);
  CHECK(a->launches == 4505);
  CHECK(rev->launches == 3);
  CHECK(a->seconds > 0);
  CHECK(rev->seconds > 0);
  CHECK(a->seconds < 60);  // ticks became seconds, not nanoseconds

  // Timestamps change no results, and launches after end_profile are not counted.
  axpy(1);
  dev->copy_to_host(out.data(), bufs[steps % 2], n * 4);
  CHECK(out == std::vector<int32_t>(n, static_cast<int32_t>(steps)));
  CHECK(dev->end_profile().empty());
}

#endif  // MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS
