// Tests of the Vulkan device's descriptor-set cache (runtime/devices/vulkan_kernels.cc):
// launches that repeat their buffers reuse a set, launches on ever new views fill pools and
// overflow the cache's bound (which clears it mid-batch), and freed blocks and reloaded
// kernels still bind the right buffers. Results are checked, since a stale set would make a
// kernel read or write the wrong memory rather than fail. Runs where test_vulkan_device.cc
// does (lavapipe in CI).
#if MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <numeric>
#include <vector>

#include "runtime/devices/vulkan_device.h"
#include "tests/runtime/vulkan_test_util.h"

using mlcc::test::at;
using mlcc::test::open_or_skip;
using mlcc::test::test_kernels;

TEST_CASE("vulkan device: launches on many distinct views fill pools and the set cache",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  dev->load_spirv_kernels(test_kernels());
  // More distinct (buffer, offset) keys than the cache holds (8192) and than one pool has
  // sets (1024): each launch of axpy writes one element through its own views.
  const size_t views = 9000;
  const size_t stride = std::max<size_t>(4, dev->storage_offset_alignment());
  const size_t words = views * stride / 4;
  mlcc::DeviceBuffer y(*dev, views * stride), a(*dev, views * stride), one(*dev, 4);
  std::vector<int32_t> ha(words), hy(words);
  std::iota(ha.begin(), ha.end(), 0);
  const int32_t k1 = 1;
  dev->copy_to_device(a.get(), ha.data(), words * 4);
  dev->copy_to_device(one.get(), &k1, 4);
  // Twice, with another multiplier: the second pass finds some sets cached, misses on the
  // rest and clears the cache again; stale or mixed-up sets would show in the results.
  for (int64_t s : {1, 2}) {
    dev->memset(y.get(), 0xff, views * stride);
    for (size_t v = 0; v < views; ++v) {
      void* args[] = {at(y.get(), v * stride), at(a.get(), v * stride), one.get()};
      int64_t scalars[] = {1, s};
      dev->launch(0, args, scalars);
    }
    dev->copy_to_host(hy.data(), y.get(), words * 4);
    for (size_t w = 0; w < words; ++w) {
      INFO("pass " << s << ", word " << w);
      REQUIRE(hy[w] == (w % (stride / 4) == 0 ? ha[w] + static_cast<int32_t>(s) : -1));
    }
  }
}

TEST_CASE("vulkan device: cached descriptor sets follow reused blocks and reloaded kernels",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  dev->load_spirv_kernels(test_kernels());
  const int n = 256;
  std::vector<int32_t> ha(n), hb(n), out(n);
  for (int i = 0; i < n; ++i) {
    ha[i] = i * 3;
    hb[i] = 7 - i;
  }
  void* y = dev->alloc(n * 4);
  mlcc::DeviceBuffer a(*dev, n * 4), b(*dev, n * 4);
  dev->copy_to_device(a.get(), ha.data(), n * 4);
  dev->copy_to_device(b.get(), hb.data(), n * 4);
  auto axpy = [&](size_t kernel, void* dst, int64_t s) {
    void* args[] = {dst, a.get(), b.get()};
    int64_t scalars[] = {n, s};
    dev->launch(kernel, args, scalars);
    dev->copy_to_host(out.data(), dst, n * 4);
    for (int i = 0; i < n; ++i) {
      INFO("multiplier " << s << ", element " << i);
      REQUIRE(out[i] == ha[i] + hb[i] * static_cast<int32_t>(s));
    }
  };
  axpy(0, y, 2);
  axpy(0, y, 3);  // the same set, in a later batch

  // A freed block comes back from the allocator at a new address with its VkBuffer.
  dev->free(y);
  void* y2 = dev->alloc(n * 4);
  axpy(0, y2, 4);
  // A block of another size class: another VkBuffer, another set.
  mlcc::DeviceBuffer big(*dev, n * 64);
  axpy(0, big.get(), 5);

  // Kernels loaded again get new set layouts; then in another order, where index 1 is axpy.
  dev->load_spirv_kernels(test_kernels());
  axpy(0, y2, 6);
  auto kernels = test_kernels();
  dev->load_spirv_kernels({kernels[1], kernels[0]});
  axpy(1, y2, 7);
  mlcc::DeviceBuffer r(*dev, n * 4);
  void* rargs[] = {r.get(), y2};
  int64_t rscalars[] = {n};
  dev->launch(0, rargs, rscalars);  // reverse64 reads what axpy wrote
  std::vector<int32_t> rev(n);
  dev->copy_to_host(rev.data(), r.get(), n * 4);
  for (int i = 0; i < n; ++i) {
    INFO("element " << i);
    REQUIRE(rev[i] == out[i / 64 * 64 + 63 - i % 64]);
  }
  dev->free(y2);
}

#endif  // MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS
