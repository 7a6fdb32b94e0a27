// Tests of the Vulkan device (runtime/devices/vulkan_device.h). The error paths need no
// driver; the rest runs on whatever Vulkan device is there (lavapipe, Mesa's CPU driver, in
// CI) and prints "SKIPPED: no Vulkan device" where there is none. Kernels are SPIR-V
// assembled from text here with SPIRV-Tools and loaded through load_spirv_kernels; the file
// is empty where mlcc is built without Vulkan or SPIRV-Tools is missing.
#if MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS

#include <spirv-tools/libspirv.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/devices/vulkan_device.h"
#include "runtime/error.h"
#include "runtime/library.h"
#include "tests/runtime/runtime_test_util.h"
#include "tests/runtime/vulkan_test_util.h"
#include "tests/temp_dir.h"

#ifndef MLCC_TEST_C_COMPILER
#define MLCC_TEST_C_COMPILER "cc"
#endif

using Catch::Contains;
using mlcc::test::assemble;
using mlcc::test::at;
using mlcc::test::kAxpy;
using mlcc::test::kReverse64;
using mlcc::test::open_or_skip;
using mlcc::test::ScopedEnv;
using mlcc::test::test_kernels;

namespace {

const char* kLavapipeIcd = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";

// A vulkan library built here with the C compiler: the toy manifest with the target and
// kernels of test_kernels(), compiled for `subgroup` ("vulkan -subgroup=N"; the test
// kernels use no subgroups, so 1 runs anywhere), and mlcc_library_spirv holding `modules`
// (library_format.h). Without `export_spirv` the library lacks the symbol.
std::string build_vulkan_library(const mlcc::testing::TempDir& dir, const std::string& name,
                                 const nlohmann::json& kernels,
                                 const std::vector<std::vector<uint32_t>>& modules,
                                 bool export_spirv = true, int subgroup = 1) {
  nlohmann::json m = mlcc::test::toy_manifest();
  m["target"] = "vulkan -subgroup=" + std::to_string(subgroup) + " -f16=1";
  m["target_kind"] = "vulkan";
  m["vulkan"] = {{"subgroup_size", subgroup}};
  m["kernels"] = kernels;
  std::string json = m.dump(), escaped;
  for (char c : json) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  std::string src =
      "#include <stdint.h>\nconst char mlcc_library_manifest[] = \"" + escaped + "\";\n";
  if (export_spirv) {
    src += "const uint32_t mlcc_library_spirv[] = {" + std::to_string(modules.size());
    for (const auto& words : modules) {
      src += ", " + std::to_string(words.size());
      for (uint32_t w : words) src += ", " + std::to_string(w) + "u";
    }
    src += "};\n";
  }
  std::string c_file = dir / (name + ".c"), so_file = dir / (name + ".so");
  {
    std::ofstream out(c_file);
    out << src;
    REQUIRE(out.good());
  }
  std::string cmd =
      std::string(MLCC_TEST_C_COMPILER) + " -shared -fPIC -o '" + so_file + "' '" + c_file + "'";
  INFO("compiling with: " << cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  return so_file;
}

// `words` with one more OpCapability: for capabilities SPIRV-Tools would not assemble.
std::vector<uint32_t> with_capability(std::vector<uint32_t> words, uint32_t capability) {
  words.insert(words.begin() + 5, {(2u << 16) | 17u, capability});
  return words;
}

// The SPIR-V text of `kernel` declaring `capability` too (by its SPIR-V name).
std::string declaring(const std::string& kernel, const std::string& capability) {
  std::string text = kernel;
  text.insert(text.find("OpMemoryModel"), "OpCapability " + capability + "\n");
  return text;
}

// A SPIR-V capability the device lacks that SPIRV-Tools assembles into a compute module
// without an extension, or "" when it has them all. Lavapipe (Mesa 22) lacks clustered
// subgroup operations.
std::string missing_capability(const mlcc::VulkanDevice& dev) {
  for (uint32_t id : {67u, 68u, 62u, 63u, 64u, 10u, 9u, 11u, 22u})
    if (!dev.info().supports_capability(id)) return mlcc::spirv_capability_name(id);
  return "";
}

const char* kTestKernelsJson = R"([
  {"name": "axpy", "num_buffers": 3, "num_scalars": 2, "grid": [["$0", 63, "+", 64, "/"], [1], [1]]},
  {"name": "reverse64", "num_buffers": 2, "num_scalars": 1, "grid": [["$0", 64, "/"], [1], [1]]}
])";

}  // namespace

TEST_CASE("vulkan device: a missing loader is named", "[runtime][vulkan]") {
  ScopedEnv env("MLCC_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1");
  CHECK_THROWS_WITH(mlcc::open_device("vulkan"), Contains("cannot open device vulkan:0") &&
                                                     Contains("Vulkan loader not found") &&
                                                     Contains("/nonexistent/libvulkan.so.1") &&
                                                     Contains("libvulkan1"));
  CHECK_THROWS_WITH(mlcc::list_vulkan_devices(), Contains("Vulkan loader not found"));
}

TEST_CASE("vulkan device: no driver means no device", "[runtime][vulkan]") {
  ScopedEnv icd("VK_ICD_FILENAMES", "/nonexistent/icd.json");
  ScopedEnv drivers("VK_DRIVER_FILES", "/nonexistent/icd.json");
  CHECK(mlcc::list_vulkan_devices().empty());
  CHECK_THROWS_WITH(mlcc::open_device("vulkan:0"), Contains("cannot open device vulkan:0") &&
                                                       Contains("no Vulkan device found") &&
                                                       Contains("mesa-vulkan-drivers"));
}

TEST_CASE("vulkan device: bad device names and indices", "[runtime][vulkan]") {
  CHECK_THROWS_WITH(mlcc::open_device("vulkan:x"),
                    Contains("unknown device 'vulkan:x'") && Contains("vulkan:0"));
  CHECK_THROWS_WITH(mlcc::open_device("metal"), Contains("\"vulkan:N\""));
  auto dev = open_or_skip();
  if (!dev) return;
  size_t n = mlcc::list_vulkan_devices().size();
  CHECK_THROWS_WITH(mlcc::open_device("vulkan:99"),
                    Contains("there is no Vulkan device 99") &&
                        Contains("expected an index below " + std::to_string(n)) &&
                        Contains("vulkan:0 "));
}

TEST_CASE("vulkan device: listing shows lavapipe", "[runtime][vulkan]") {
  if (!open_or_skip()) return;
  std::vector<std::string> names = mlcc::list_vulkan_devices();
  REQUIRE(!names.empty());
  CAPTURE(names);
  if (std::filesystem::exists(kLavapipeIcd)) {
    bool found = false;
    for (const std::string& n : names) found |= n.find("llvmpipe") != std::string::npos;
    CHECK(found);
    // Only lavapipe's ICD: it is then vulkan:0.
    ScopedEnv icd("VK_ICD_FILENAMES", kLavapipeIcd);
    ScopedEnv drivers("VK_DRIVER_FILES", kLavapipeIcd);
    auto dev = mlcc::open_device("vulkan");
    CHECK_THAT(dev->name(), Contains("vulkan:0 (llvmpipe"));
    CHECK(dev->kind() == "vulkan");
  }
}

TEST_CASE("vulkan device: features, subgroup size and the target that fits", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  const mlcc::VulkanDeviceInfo& info = dev->info();
  CAPTURE(info.describe(), info.features(), info.target());
  CHECK(dev->subgroup_size() >= 1);
  CHECK(dev->subgroup_size() == info.subgroup_size);
  CHECK_THAT(dev->features(), Contains("subgroup " + std::to_string(info.subgroup_size)));
  CHECK_THAT(info.target(), Catch::StartsWith("vulkan -subgroup="));
  CHECK(info.supports_capability(1));        // Shader
  CHECK_FALSE(info.supports_capability(6));  // Kernel: OpenCL's, never Vulkan's
  CHECK(mlcc::spirv_capability_name(9) == "Float16");
  CHECK(mlcc::spirv_capability_name(4999) == "capability 4999");
  std::vector<mlcc::VulkanDeviceInfo> all = mlcc::query_vulkan_devices();
  REQUIRE(!all.empty());
  CHECK(all[0].name == info.name);
  CHECK(all[0].subgroup_size == info.subgroup_size);
  if (info.name.find("llvmpipe") != std::string::npos) {
    // Lavapipe: one lane per 32 bits of its vectors ("llvmpipe (LLVM 15.0.6, 256 bits)"),
    // f16 arithmetic and 16-bit storage, 32 KiB of workgroup memory.
    size_t bits_at = info.name.rfind(", ") + 2;
    uint32_t bits = static_cast<uint32_t>(std::stoul(info.name.substr(bits_at)));
    CHECK(info.subgroup_size == bits / 32);
    CHECK(info.type == "cpu");
    CHECK(info.shader_float16);
    CHECK(info.storage_buffer_16bit);
    CHECK(info.max_shared_memory == 32768);
    CHECK(info.target() == "vulkan -subgroup=" + std::to_string(bits / 32));
    CHECK_THAT(info.features(), Contains("f16 yes") && Contains("16-bit storage yes") &&
                                    Contains("shared memory 32 KiB"));
  }
}

TEST_CASE("vulkan device: memory round trips, views, memset and device copies",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  std::vector<uint8_t> host(1000), back(1000);
  std::iota(host.begin(), host.end(), uint8_t{0});
  void* p = dev->alloc(host.size());
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
  dev->copy_to_device(p, host.data(), host.size());
  dev->copy_to_host(back.data(), p, back.size());
  CHECK(back == host);

  // Views: pointers into the middle of the allocation.
  std::vector<uint8_t> part(50);
  dev->copy_to_host(part.data(), at(p, 100), part.size());
  CHECK(std::equal(part.begin(), part.end(), host.begin() + 100));
  const uint8_t seven[7] = {9, 9, 9, 9, 9, 9, 9};
  dev->copy_to_device(at(p, 3), seven, 7);
  dev->memset(at(p, 13), 0xab, 10);    // unaligned at both ends
  dev->memset(at(p, 200), 0x5c, 400);  // aligned: one fill
  dev->copy_to_host(back.data(), p, back.size());
  for (size_t i = 0; i < back.size(); ++i) {
    uint8_t want = i >= 3 && i < 10      ? 9
                   : i >= 13 && i < 23   ? 0xab
                   : i >= 200 && i < 600 ? 0x5c
                                         : host[i];
    INFO("byte " << i);
    REQUIRE(back[i] == want);
  }

  // Device-to-device, across allocations and within one.
  void* q = dev->alloc(host.size());
  dev->copy_to_device(p, host.data(), host.size());
  dev->copy_device_to_device(q, p, host.size());
  dev->copy_device_to_device(at(q, 500), at(q, 10), 100);
  dev->copy_to_host(back.data(), q, back.size());
  for (size_t i = 0; i < back.size(); ++i) {
    INFO("byte " << i);
    REQUIRE(back[i] == (i >= 500 && i < 600 ? host[i - 490] : host[i]));
  }
  CHECK_THROWS_WITH(dev->copy_device_to_device(at(q, 10), at(q, 20), 100),
                    Contains("the ranges overlap"));

  // Bad pointers and ranges are named.
  CHECK_THROWS_WITH(dev->copy_to_host(back.data(), at(p, 900), 200),
                    Contains("runs past the end of its allocation"));
  int local = 0;
  CHECK_THROWS_WITH(dev->copy_to_device(&local, &local, 4),
                    Contains("is not inside a live allocation"));
  CHECK_THROWS_WITH(dev->free(at(p, 8)), Contains("did not return"));

  // The caching allocator hands a freed block of the same size class back.
  dev->free(q);
  CHECK(dev->cached_bytes() >= host.size());
  void* again = dev->alloc(host.size() - 10);
  CHECK(again == q);
  CHECK(dev->cached_bytes() == 0);
  void* empty = dev->alloc(0);
  CHECK(empty != nullptr);
  dev->free(empty);
  dev->free(again);
  dev->free(p);
  dev->free(nullptr);
}

TEST_CASE("vulkan device: copies larger than the staging buffer", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  std::vector<uint32_t> host((40u << 20) / 4), back(host.size());
  std::iota(host.begin(), host.end(), 7u);
  mlcc::DeviceBuffer buf(*dev, host.size() * 4);
  dev->copy_to_device(buf.get(), host.data(), host.size() * 4);
  dev->copy_to_host(back.data(), buf.get(), back.size() * 4);
  bool same = back == host;  // not CHECK(back == host): Catch would print 10M numbers
  CHECK(same);
}

TEST_CASE("vulkan device: kernels run with views, push constants and a grid", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  dev->load_spirv_kernels(test_kernels());
  const int n = 1000;
  // y, a and b are views into one allocation, at offsets the device can bind.
  size_t region = (n * 4 + 255) / 256 * 256;
  region = (region + dev->storage_offset_alignment() - 1) / dev->storage_offset_alignment() *
           dev->storage_offset_alignment();
  mlcc::DeviceBuffer buf(*dev, 3 * region);
  void* y = buf.get();
  void* a = at(y, region);
  void* b = at(y, 2 * region);
  std::vector<int32_t> ha(n), hb(n), hy(n);
  for (int i = 0; i < n; ++i) {
    ha[i] = i;
    hb[i] = 3 * i - 7;
  }
  dev->copy_to_device(a, ha.data(), n * 4);
  dev->copy_to_device(b, hb.data(), n * 4);
  dev->memset(y, 0xff, n * 4);
  void* args[] = {y, a, b};
  int64_t scalars[] = {n - 1, 5};  // the last element stays untouched
  dev->launch(0, args, scalars);
  dev->copy_to_host(hy.data(), y, n * 4);
  for (int i = 0; i < n; ++i) {
    INFO("element " << i);
    REQUIRE(hy[i] == (i < n - 1 ? ha[i] + hb[i] * 5 : -1));
  }

  // A view that is not at the device's storage-buffer alignment is refused, clearly.
  if (dev->storage_offset_alignment() > 4) {
    void* bad[] = {at(y, 4), a, b};
    CHECK_THROWS_WITH(dev->launch(0, bad, scalars),
                      Contains("byte offset 4") && Contains("minStorageBufferOffsetAlignment"));
  }
  // An empty grid and a scalar beyond 32 bits are refused.
  int64_t none[] = {0, 1};
  CHECK_THROWS_WITH(dev->launch(0, args, none), Contains("kernel 'axpy' gets grid[0]") &&
                                                    Contains("expected a workgroup count"));
  int64_t big[] = {n, int64_t{1} << 40};
  CHECK_THROWS_WITH(dev->launch(0, args, big), Contains("does not fit its 32-bit push constant"));
}

TEST_CASE("vulkan device: dependent dispatches in one batch see each other's writes",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  dev->load_spirv_kernels(test_kernels());
  const int n = 4096, steps = 24;
  mlcc::DeviceBuffer p0(*dev, n * 4), p1(*dev, n * 4), b(*dev, n * 4);
  std::vector<int32_t> hx(n), hb(n), out(n);
  for (int i = 0; i < n; ++i) {
    hx[i] = i;
    hb[i] = i % 13 + 1;
  }
  dev->copy_to_device(p0.get(), hx.data(), n * 4);
  dev->copy_to_device(b.get(), hb.data(), n * 4);
  // Ping-pong: each step reads what the one before wrote; nothing is submitted in between.
  void* bufs[2] = {p0.get(), p1.get()};
  for (int k = 0; k < steps; ++k) {
    void* args[] = {bufs[(k + 1) % 2], bufs[k % 2], b.get()};
    int64_t scalars[] = {n, 1};
    dev->launch(0, args, scalars);
  }
  // Then the shared-memory kernel over the result, still in the same batch.
  mlcc::DeviceBuffer r(*dev, n * 4);
  void* rargs[] = {r.get(), bufs[steps % 2]};
  int64_t rscalars[] = {n};
  dev->launch(1, rargs, rscalars);
  dev->copy_to_host(out.data(), r.get(), n * 4);
  for (int i = 0; i < n; ++i) {
    int src = i / 64 * 64 + 63 - i % 64;
    INFO("element " << i);
    REQUIRE(out[i] == hx[src] + steps * hb[src]);
  }
}

TEST_CASE("vulkan device: long batches span submits", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  dev->load_spirv_kernels(test_kernels());
  // More launches than one batch holds (4096), all with the two cached descriptor sets
  // (test_vulkan_descriptors.cc has launches that span descriptor pools).
  const int n = 64, steps = 5000;
  mlcc::DeviceBuffer p0(*dev, n * 4), p1(*dev, n * 4), b(*dev, n * 4);
  std::vector<int32_t> ones(n, 1), out(n);
  dev->memset(p0.get(), 0, n * 4);
  dev->copy_to_device(b.get(), ones.data(), n * 4);
  void* bufs[2] = {p0.get(), p1.get()};
  for (int k = 0; k < steps; ++k) {
    void* args[] = {bufs[(k + 1) % 2], bufs[k % 2], b.get()};
    int64_t scalars[] = {n, 1};
    dev->launch(0, args, scalars);
  }
  dev->copy_to_host(out.data(), bufs[steps % 2], n * 4);
  CHECK(out == std::vector<int32_t>(n, steps));
}

TEST_CASE("vulkan device: kernels that are not usable SPIR-V are refused", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  std::vector<mlcc::VulkanKernelSource> bad = test_kernels();
  bad[1].spirv = {1, 2, 3};
  CHECK_THROWS_WITH(
      dev->load_spirv_kernels(bad),
      Contains("kernel 'reverse64' is not usable SPIR-V") && Contains("magic number 0x07230203"));
  std::string text = kAxpy;
  text.replace(text.find("\"main\""), 6, "\"start\"");
  bad = test_kernels();
  bad[0].spirv = assemble(text);
  CHECK_THROWS_WITH(dev->load_spirv_kernels(bad),
                    Contains("kernel 'axpy'") && Contains("no OpEntryPoint GLCompute \"main\""));
  // A workgroup beyond the device's limits (lavapipe itself would accept it).
  text = kReverse64;
  text.replace(text.find("LocalSize 64 1 1"), 16, "LocalSize 64 1 4096");
  bad = test_kernels();
  bad[1].spirv = assemble(text);
  CHECK_THROWS_WITH(dev->load_spirv_kernels(bad),
                    Contains("kernel 'reverse64' has workgroup size (64, 1, 4096)") &&
                        Contains("allows at most"));
  // A failed load leaves the kernels loaded before in place.
  dev->load_spirv_kernels(test_kernels());
  CHECK_THROWS_WITH(dev->load_spirv_kernels(bad), Contains("reverse64"));
  mlcc::DeviceBuffer out(*dev, 64 * 4), in(*dev, 64 * 4);
  void* args[] = {out.get(), in.get()};
  int64_t scalars[] = {64};
  dev->launch(1, args, scalars);
  dev->synchronize();
}

TEST_CASE("vulkan device: kernels needing what the device lacks are refused", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  std::string device = dev->name();
  std::string fits = "--target \"vulkan -subgroup=" + std::to_string(dev->subgroup_size()) + "\"";
  // Subgroups larger than the device's (lavapipe: 8 lanes).
  for (uint32_t lanes : {32u, 64u}) {
    if (lanes <= dev->subgroup_size()) continue;
    std::vector<mlcc::VulkanKernelSource> k = test_kernels();
    k[0].subgroup_size = lanes;
    CHECK_THROWS_WITH(
        dev->load_spirv_kernels(k),
        Contains("vulkan device: kernel 'axpy' was compiled for subgroups of " +
                 std::to_string(lanes) + " lanes; " + device + " has subgroups of " +
                 std::to_string(dev->subgroup_size()) + " lanes: recompile it with " + fits));
  }
  std::vector<mlcc::VulkanKernelSource> ok = test_kernels();
  ok[0].subgroup_size = dev->subgroup_size();
  CHECK_NOTHROW(dev->load_spirv_kernels(ok));

  // A capability the device does not support, and one the runtime does not know.
  std::string cap = missing_capability(*dev);
  if (cap.empty()) {
    WARN("SKIPPED: " << device << " supports every capability tried");
  } else {
    std::vector<mlcc::VulkanKernelSource> k = test_kernels();
    k[1].spirv = assemble(declaring(kReverse64, cap));
    CHECK_THROWS_WITH(
        dev->load_spirv_kernels(k),
        Contains("vulkan device: kernel 'reverse64' declares SPIR-V capability " + cap +
                 ", which needs ") &&
            Contains("; " + device + " does not support it: no target option avoids it") &&
            Contains("`mlcc devices` lists what each device supports"));
  }
  std::vector<mlcc::VulkanKernelSource> k = test_kernels();
  k[0].spirv = with_capability(k[0].spirv, 4999);
  CHECK_THROWS_WITH(dev->load_spirv_kernels(k),
                    Contains("kernel 'axpy' declares SPIR-V capability 4999, which this runtime "
                             "does not know how to enable on Vulkan; expected only Shader, "
                             "Float16"));

  // A SPIR-V version past what the device reads.
  k = test_kernels();
  k[0].spirv[1] = 0x00010700;
  CHECK_THROWS_WITH(dev->load_spirv_kernels(k),
                    Contains("kernel 'axpy' is SPIR-V 1.7; " + device + " reads SPIR-V up to 1.") &&
                        Contains("or run it on a device with a newer Vulkan"));

  // More workgroup memory than the device has.
  uint32_t limit = dev->info().max_shared_memory;
  k = test_kernels();
  k[1].info.shared_bytes = int64_t{limit} + 4;
  CHECK_THROWS_WITH(
      dev->load_spirv_kernels(k),
      Contains("vulkan device: kernel 'reverse64' uses " + std::to_string(limit + 4) +
               " bytes of workgroup memory (manifest \"shared_bytes\"); " + device +
               " allows at most " + std::to_string(limit) +
               " bytes per workgroup (maxComputeSharedMemorySize): recompile with --target "
               "\"vulkan -shared-memory=" +
               std::to_string(limit) + "\""));
  k[1].info.shared_bytes = limit;
  CHECK_NOTHROW(dev->load_spirv_kernels(k));
}

TEST_CASE("vulkan device: libraries needing what the device lacks are refused",
          "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  std::string device = dev->name();
  std::string lanes = std::to_string(dev->subgroup_size());
  mlcc::testing::TempDir dir("mlcc-vulkan-features");
  std::vector<std::vector<uint32_t>> modules = {assemble(kAxpy), assemble(kReverse64)};
  nlohmann::json kernels = nlohmann::json::parse(kTestKernelsJson);
  // Libraries compiled for subgroups of 32 and 64 lanes (lavapipe has 8).
  for (int sub : {32, 64}) {
    if (static_cast<uint32_t>(sub) <= dev->subgroup_size()) continue;
    std::string s = std::to_string(sub);
    std::string path = build_vulkan_library(dir, "sub" + s, kernels, modules, true, sub);
    auto lib = mlcc::Library::load(path);
    CHECK(lib->manifest().vulkan.subgroup_size == sub);
    CHECK_THROWS_WITH(
        dev->load_kernels(*lib),
        Contains("library '" + path + "' was compiled for subgroups of " + s +
                 " lanes (target \"vulkan -subgroup=" + s + " -f16=1\"); " + device +
                 " has subgroups of " + lanes +
                 " lanes: recompile with --target \"vulkan -subgroup=" + lanes + " -f16=1\""));
  }
  // The device's own subgroup size loads.
  std::string same = build_vulkan_library(dir, "same", kernels, modules, true,
                                          static_cast<int>(dev->subgroup_size()));
  auto same_lib = mlcc::Library::load(same);
  CHECK_NOTHROW(dev->load_kernels(*same_lib));

  // A kernel whose module declares a capability the device lacks: library and kernel named.
  std::string cap = missing_capability(*dev);
  if (!cap.empty()) {
    std::string path = build_vulkan_library(
        dir, "cap", kernels, {assemble(kAxpy), assemble(declaring(kReverse64, cap))});
    auto lib = mlcc::Library::load(path);
    CHECK_THROWS_WITH(dev->load_kernels(*lib),
                      Contains("library '" + path +
                               "': vulkan device: kernel 'reverse64' declares SPIR-V capability " +
                               cap + ", which needs ") &&
                          Contains(device + " does not support it"));
  }
  // A kernel with more workgroup memory ("shared_bytes") than the device has.
  nlohmann::json big = kernels;
  big[1]["shared_bytes"] = dev->info().max_shared_memory * 2;
  std::string path = build_vulkan_library(dir, "shared", big, modules);
  auto lib = mlcc::Library::load(path);
  CHECK(lib->manifest().kernels[1].shared_bytes == dev->info().max_shared_memory * 2);
  CHECK_THROWS_WITH(dev->load_kernels(*lib),
                    Contains("library '" + path + "': vulkan device: kernel 'reverse64' uses") &&
                        Contains("maxComputeSharedMemorySize") &&
                        Contains("--target \"vulkan -subgroup=1 -f16=1 -shared-memory=" +
                                 std::to_string(dev->info().max_shared_memory) + "\""));
}

TEST_CASE("vulkan device: libraries for other targets are refused", "[runtime][vulkan]") {
  auto dev = open_or_skip();
  if (!dev) return;
  auto lib = mlcc::Library::load(mlcc::test::toy_library("mlcc_toy_cpu"));
  CHECK_THROWS_WITH(dev->load_kernels(*lib), Contains("cannot run on device vulkan:0"));
}

TEST_CASE("vulkan device: a vulkan library's SPIR-V loads and runs", "[runtime][vulkan]") {
  mlcc::testing::TempDir dir("mlcc-vulkan");
  std::vector<std::vector<uint32_t>> modules = {assemble(kAxpy), assemble(kReverse64)};
  nlohmann::json kernels = nlohmann::json::parse(kTestKernelsJson);
  std::string path = build_vulkan_library(dir, "good", kernels, modules);
  auto lib = mlcc::Library::load(path);
  REQUIRE(lib->spirv().size() == 2);
  CHECK(lib->spirv()[1].size() == modules[1].size());
  CHECK(lib->manifest().kernels[0].grid[0].str() == "(($0 + 63) / 64)");

  // Libraries the loader refuses: a module count that differs from the manifest's, no
  // mlcc_library_spirv, and a kernel without a grid.
  std::string one = build_vulkan_library(dir, "one", kernels, {modules[0]});
  CHECK_THROWS_WITH(mlcc::Library::load(one),
                    Contains("mlcc_library_spirv holds 1 SPIR-V modules") &&
                        Contains("one per manifest kernel (2)"));
  std::string none = build_vulkan_library(dir, "none", kernels, modules, false);
  CHECK_THROWS_WITH(mlcc::Library::load(none),
                    Contains("targets vulkan but does not export mlcc_library_spirv"));
  nlohmann::json no_grid = kernels;
  no_grid[1].erase("grid");
  std::string ng = build_vulkan_library(dir, "no_grid", no_grid, modules);
  CHECK_THROWS_WITH(mlcc::Library::load(ng),
                    Contains("kernels[1].grid") && Contains("three launch extents (vulkan"));

  auto dev = open_or_skip();
  if (!dev) return;
  dev->load_kernels(*lib);
  const int n = 128;
  mlcc::DeviceBuffer y(*dev, n * 4), a(*dev, n * 4), r(*dev, n * 4);
  std::vector<int32_t> ha(n), out(n);
  std::iota(ha.begin(), ha.end(), 1);
  dev->copy_to_device(a.get(), ha.data(), n * 4);
  void* args[] = {y.get(), a.get(), a.get()};
  int64_t scalars[] = {n, -2};
  dev->launch(0, args, scalars);  // y = a - 2a = -a
  void* rargs[] = {r.get(), y.get()};
  int64_t rscalars[] = {n};
  dev->launch(1, rargs, rscalars);
  dev->copy_to_host(out.data(), r.get(), n * 4);
  for (int i = 0; i < n; ++i) {
    INFO("element " << i);
    REQUIRE(out[i] == -ha[i / 64 * 64 + 63 - i % 64]);
  }
}

#endif  // MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS

#if !MLCC_WITH_VULKAN
#include <catch2/catch.hpp>

#include "runtime/device.h"

TEST_CASE("vulkan device: a build without Vulkan says so", "[runtime][vulkan]") {
  CHECK_THROWS_WITH(mlcc::open_device("vulkan:1"), Catch::Contains("cannot open device vulkan:1") &&
                                                       Catch::Contains("built without Vulkan") &&
                                                       Catch::Contains("libvulkan-dev"));
}
#endif  // !MLCC_WITH_VULKAN
