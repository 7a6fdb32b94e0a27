// Tests of the Vulkan device's device-to-device copies (runtime/devices/vulkan_copy.cc):
// the hand-assembled copy shader is valid SPIR-V for Vulkan 1.1; aligned copies (through
// the shader) and unaligned ones (through vkCmdCopyBuffer) of random data land exactly
// where they should, in views too, and nothing else changes; a copy of the bench's size
// spans several dispatches on lavapipe; copies keep their order among kernel launches of
// one batch. Every byte is checked. Runs where test_vulkan_device.cc does (lavapipe in CI).
#if MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS

#include <spirv-tools/libspirv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/devices/vulkan_copy.h"
#include "runtime/devices/vulkan_device.h"
#include "tests/runtime/vulkan_test_util.h"

using mlcc::test::at;
using mlcc::test::open_or_skip;
using mlcc::test::test_kernels;

namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i += 4) {  // four bytes a draw: the large copy has 256 MiB
    uint32_t r = rng();
    std::memcpy(&v[i], &r, std::min<size_t>(4, n - i));
  }
  return v;
}

// The first index where the two differ, or -1: one CHECK for millions of bytes.
int64_t first_difference(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  if (got.size() != want.size()) return 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i]) return static_cast<int64_t>(i);
  return -1;
}

// Copies `bytes` from offset `from` of a random source to offset `to` of a destination
// filled with other random bytes, and checks the whole destination: the range holds the
// source's bytes, the rest is untouched.
void check_copy(mlcc::VulkanDevice& dev, size_t bytes, size_t from, size_t to, uint32_t seed) {
  INFO("copy of " << bytes << " bytes from offset " << from << " to offset " << to);
  const std::vector<uint8_t> src = random_bytes(from + bytes + 32, seed);
  std::vector<uint8_t> want = random_bytes(to + bytes + 32, seed + 1);
  mlcc::DeviceBuffer s(dev, src.size()), d(dev, want.size());
  dev.copy_to_device(s.get(), src.data(), src.size());
  dev.copy_to_device(d.get(), want.data(), want.size());
  dev.copy_device_to_device(at(d.get(), to), at(s.get(), from), bytes);
  std::copy(src.begin() + static_cast<ptrdiff_t>(from),
            src.begin() + static_cast<ptrdiff_t>(from + bytes),
            want.begin() + static_cast<ptrdiff_t>(to));
  std::vector<uint8_t> got(want.size());
  dev.copy_to_host(got.data(), d.get(), got.size());
  CHECK(first_difference(got, want) == -1);
}

}  // namespace

TEST_CASE("vulkan device: the copy shader is valid SPIR-V for Vulkan 1.1", "[runtime][vulkan]") {
  const std::vector<uint32_t> words = mlcc::vulkan_copy_spirv();
  spv_context ctx = spvContextCreate(SPV_ENV_VULKAN_1_1);
  spv_diagnostic diag = nullptr;
  spv_result_t r = spvValidateBinary(ctx, words.data(), words.size(), &diag);
  std::string error = diag != nullptr ? diag->error : "";
  spvDiagnosticDestroy(diag);
  // The text, for the message, and to see that it is the copy meant.
  spv_text text = nullptr;
  diag = nullptr;
  REQUIRE(spvBinaryToText(ctx, words.data(), words.size(), SPV_BINARY_TO_TEXT_OPTION_NONE, &text,
                          &diag) == SPV_SUCCESS);
  std::string assembly(text->str, text->length);
  spvTextDestroy(text);
  spvDiagnosticDestroy(diag);
  spvContextDestroy(ctx);
  INFO("spvValidateBinary: " << error << "\n" << assembly);
  CHECK(r == SPV_SUCCESS);
  CHECK(words[1] == 0x00010300);  // SPIR-V 1.3: what any Vulkan 1.1 device reads
  CHECK_THAT(assembly, Catch::Contains("LocalSize 256 1 1") && Catch::Contains("NonWritable") &&
                           Catch::Contains("NonReadable") && Catch::Contains("OpLoopMerge"));
}

TEST_CASE("vulkan device: aligned device copies, views included, go exactly where asked",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  uint32_t seed = 1;
  // 16 bytes: one invocation; a few MiB: many workgroups, the last one partial.
  for (size_t bytes : {size_t{16}, size_t{4096 + 48}, (size_t{3} << 20) + 16 * 5})
    // At the start, at offsets whose bindings (at multiples of 256 bytes) start before the
    // data, and at a multiple of 256 further in.
    for (auto [from, to] : {std::pair<size_t, size_t>{0, 0}, {16, 48}, {272, 256}})
      check_copy(*dev, bytes, from, to, seed += 2);
}

TEST_CASE("vulkan device: unaligned device copies go exactly where asked", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  uint32_t seed = 100;
  // An offset or the size not a multiple of 16 bytes: the copy command's part.
  for (size_t bytes : {size_t{1}, size_t{15}, size_t{100}, size_t{4096 + 4}, size_t{1} << 20})
    for (auto [from, to] : {std::pair<size_t, size_t>{0, 0}, {4, 0}, {0, 8}, {3, 17}, {16, 1}})
      if (bytes % 16 != 0 || from % 16 != 0 || to % 16 != 0)
        check_copy(*dev, bytes, from, to, seed += 2);
}

TEST_CASE("vulkan device: a copy of the bench's size spans bindings and loops",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  // `mlcc bench` copies 256 MiB: on lavapipe (maxStorageBufferRange 128 MiB) that is three
  // dispatches, each binding its own range, and each of the first two needs 32768 groups of
  // 256 invocations, so that the shader loops over the cap of 16384. From a view, so that
  // each source binding starts before its data.
  check_copy(*dev, size_t{256} << 20, 16, 0, 7);
}

TEST_CASE("vulkan device: device copies keep their order among kernel launches",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  dev->load_spirv_kernels(test_kernels());
  const int n = 4096;  // a multiple of 64 for reverse64
  std::mt19937 rng(42);
  std::vector<int32_t> hx(n), hb(n);
  for (int i = 0; i < n; ++i) {
    hx[i] = static_cast<int32_t>(rng() % 100000);
    hb[i] = static_cast<int32_t>(rng() % 1000);
  }
  const size_t bytes = n * 4;
  mlcc::DeviceBuffer x(*dev, bytes), b(*dev, bytes), y(*dev, bytes), z(*dev, bytes);
  mlcc::DeviceBuffer old_x(*dev, bytes), r(*dev, bytes), shifted(*dev, bytes + 16);
  dev->copy_to_device(x.get(), hx.data(), bytes);
  dev->copy_to_device(b.get(), hb.data(), bytes);
  // Twice: the second time the copy's pipeline and descriptor sets exist, and in between
  // the kernels are loaded again, which clears every cached set.
  for (int pass = 0; pass < 2; ++pass) {
    INFO("pass " << pass);
    // One batch, nothing waited for until the read back: each command reads what the one
    // before wrote, and the copy into old_x must read x before the launch after it writes x.
    void* axpy1[] = {y.get(), x.get(), b.get()};
    int64_t s1[] = {n, 1};
    dev->launch(0, axpy1, s1);                            // y = x + b
    dev->copy_device_to_device(z.get(), y.get(), bytes);  // z = y (shader)
    dev->copy_device_to_device(old_x.get(), x.get(), bytes);
    void* axpy2[] = {x.get(), z.get(), b.get()};
    int64_t s2[] = {n, 2};
    dev->launch(0, axpy2, s2);  // x = z + 2b, over what old_x took
    dev->copy_device_to_device(at(shifted.get(), 4), x.get(), bytes);  // unaligned: the command
    dev->copy_device_to_device(z.get(), at(shifted.get(), 4), bytes);
    void* rev[] = {r.get(), z.get()};
    int64_t s3[] = {n};
    dev->launch(1, rev, s3);  // r = x reversed in groups of 64
    std::vector<int32_t> got_r(n), got_old(n);
    dev->copy_to_host(got_r.data(), r.get(), bytes);
    dev->copy_to_host(got_old.data(), old_x.get(), bytes);
    int bad_r = -1, bad_old = -1;
    for (int i = 0; i < n; ++i) {
      int src = i / 64 * 64 + 63 - i % 64;
      if (bad_r < 0 && got_r[i] != hx[src] + 3 * hb[src]) bad_r = i;
      if (bad_old < 0 && got_old[i] != hx[i]) bad_old = i;
    }
    CHECK(bad_r == -1);
    CHECK(bad_old == -1);
    for (int i = 0; i < n; ++i) hx[i] += 3 * hb[i];
    if (pass == 0) dev->load_spirv_kernels(test_kernels());
  }
}

#endif  // MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS
