// Tests of the ROCm (HIP) device without an AMD GPU: the errors a user sees with no HIP
// runtime and with Debian's runtime but no /dev/kfd, the "rocm" library format, and the
// device's code paths (device properties, memory and its cache, code object loading,
// kernarg packing, timing) on the fake HIP runtime of fake_hip.cc.
#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/devices/hip_device.h"
#include "runtime/error.h"
#include "runtime/library.h"
#include "tests/runtime/fake_hip.h"
#include "tests/runtime/runtime_test_util.h"

using Catch::Contains;
using mlcc::test::ScopedEnv;
using nlohmann::json;

namespace {

std::string fake_hip() { return mlcc::test::toy_library("mlcc_fake_hip"); }

// The fake's record of its last launch and its live objects, read through its own exports
// (the library HipDevice loaded: dlopen hands back the same handle).
template <typename T, typename Fn>
T read_fake(const char* symbol) {
  void* h = dlopen(fake_hip().c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(h != nullptr);
  auto fn = reinterpret_cast<Fn>(dlsym(h, symbol));
  REQUIRE(fn != nullptr);
  T out;
  fn(&out);
  return out;  // the handle stays open: closing the last one would reset the fake
}
mlcc::test::FakeHipLaunch last_launch() {
  return read_fake<mlcc::test::FakeHipLaunch, mlcc::test::FakeHipLastLaunchFn>(
      "mlcc_fake_hip_last_launch");
}
mlcc::test::FakeHipCounters counters() {
  return read_fake<mlcc::test::FakeHipCounters, mlcc::test::FakeHipCountersFn>(
      "mlcc_fake_hip_counters");
}

// The fake HIP runtime for one scope, with one device of architecture `arch`.
struct FakeHip {
  explicit FakeHip(const char* arch = "gfx1100", const char* devices = "1")
      : lib("MLCC_HIP_LIBRARY", fake_hip().c_str()),
        arch_env("MLCC_FAKE_HIP_ARCH", arch),
        devices_env("MLCC_FAKE_HIP_DEVICES", devices) {}
  ScopedEnv lib, arch_env, devices_env;
};

template <typename Edit>
mlcc::Manifest parse_edited(Edit edit) {
  json j = mlcc::test::toy_manifest();
  j["target"] = "rocm -mcpu=gfx1100";
  j["target_kind"] = "rocm";
  j["rocm"] = {{"gfx", "gfx1100"}, {"wavefront_size", 32}};
  edit(j);
  return mlcc::parse_manifest(j.dump(), "toy.so");
}

template <typename T>
T read_at(const uint8_t* bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes + offset, sizeof(T));
  return v;
}

}  // namespace

TEST_CASE("rocm device: a missing HIP runtime is named with its package", "[runtime][hip]") {
  ScopedEnv env("MLCC_HIP_LIBRARY", "/nonexistent/libamdhip64.so");
  CHECK_THROWS_WITH(mlcc::open_device("rocm"),
                    Contains("cannot open device rocm:0") && Contains("HIP runtime not found") &&
                        Contains("/nonexistent/libamdhip64.so") && Contains("libamdhip64-5"));
  CHECK_THROWS_WITH(mlcc::HipDevice::device_count(), Contains("HIP runtime not found"));
}

TEST_CASE("rocm device: device names", "[runtime][hip]") {
  CHECK_THROWS_WITH(mlcc::open_device("rocm:x"),
                    Contains("unknown device 'rocm:x'") && Contains("rocm:0"));
  CHECK_THROWS_WITH(mlcc::open_device("metal"), Contains("\"rocm:N\""));
}

TEST_CASE("rocm device: the gcnArchName is found in any hipDeviceProp_t layout", "[runtime][hip]") {
  auto props = [](size_t offset, const char* arch) {
    std::vector<uint8_t> p(8192, 0);
    std::memcpy(p.data(), "gfx1100 in the name is not it", 29);
    std::memcpy(p.data() + 500, "gfx", 3);     // not followed by a hex digit
    std::memcpy(p.data() + 520, "gfx12z", 7);  // a letter past the digits
    std::memcpy(p.data() + offset, arch, std::strlen(arch) + 1);
    return p;
  };
  CHECK(mlcc::find_gcn_arch_name(props(396, "gfx1030")) == "gfx1030");
  CHECK(mlcc::find_gcn_arch_name(props(1160, "gfx90a:sramecc+:xnack-")) ==
        "gfx90a:sramecc+:xnack-");
  CHECK(mlcc::find_gcn_arch_name(props(1160, "gfx942:sramecc+:xnack-")) ==
        "gfx942:sramecc+:xnack-");
  CHECK(mlcc::find_gcn_arch_name(props(1160, "")).empty());
  std::vector<uint8_t> unterminated(300, 0);
  std::memcpy(unterminated.data() + 290, "gfx1100xyz", 10);
  CHECK(mlcc::find_gcn_arch_name(unterminated).empty());
}

TEST_CASE("rocm device: no AMD GPU is a clear error", "[runtime][hip]") {
  FakeHip fake("gfx1100", "0");
  CHECK(mlcc::HipDevice::device_count() == 0);
  CHECK_THROWS_WITH(mlcc::open_device("rocm"),
                    Contains("cannot open device rocm:0") && Contains("no AMD GPU found") &&
                        Contains("hipErrorInvalidDevice") && Contains("/dev/kfd"));
  ScopedEnv two("MLCC_FAKE_HIP_DEVICES", "2");
  CHECK(mlcc::HipDevice::device_count() == 2);
  CHECK_THROWS_WITH(mlcc::open_device("rocm:2"),
                    Contains("ROCm device 2 does not exist") && Contains("sees 2 devices"));
}

TEST_CASE("rocm device: name, kind and architecture", "[runtime][hip]") {
  FakeHip fake("gfx942:sramecc+:xnack-", "2");
  ScopedEnv name("MLCC_FAKE_HIP_NAME", "AMD Instinct MI300X");
  auto hip = mlcc::HipDevice::open(1);
  CHECK(hip->info().ordinal == 1);
  CHECK(hip->info().name == "AMD Instinct MI300X");
  CHECK(hip->info().gfx == "gfx942");
  CHECK(hip->info().gcn_arch_name == "gfx942:sramecc+:xnack-");
  CHECK(hip->info().total_memory == int64_t{24} << 30);
  CHECK(hip->info().runtime_version == 60232830);
  CHECK(hip->info().library == fake_hip());
  auto dev = mlcc::open_device("rocm");
  CHECK(dev->name() == "rocm:0 (AMD Instinct MI300X, gfx942)");
  CHECK(dev->kind() == "rocm");
}

TEST_CASE("rocm device: memory round trip and the caching allocator", "[runtime][hip]") {
  FakeHip fake;
  mlcc::test::FakeHipCounters before = counters();
  {
    auto dev = mlcc::HipDevice::open(0);
    const size_t n = 100000;
    std::vector<uint8_t> host(n), back(n, 0);
    std::iota(host.begin(), host.end(), uint8_t{3});
    void* a = dev->alloc(n);
    void* b = dev->alloc(n);
    dev->copy_to_device(a, host.data(), n);
    dev->copy_device_to_device(b, a, n);
    dev->copy_to_host(back.data(), b, n);
    bool same = back == host;
    CHECK(same);
    dev->memset(b, 0x5a, n);
    dev->copy_to_host(back.data(), b, n);
    same = back == std::vector<uint8_t>(n, 0x5a);
    CHECK(same);

    // A freed block comes back for the same rounded size without a hipMalloc.
    int64_t mallocs = counters().mallocs;
    dev->free(b);
    CHECK(dev->cached_bytes() == mlcc::caching_allocator_round_size(n));
    void* c = dev->alloc(n - 1000);
    CHECK(c == b);
    CHECK(counters().mallocs == mallocs);
    dev->free(c);
    dev->release_cached();
    CHECK(dev->cached_bytes() == 0);
    CHECK(counters().frees == before.frees + 1);
    CHECK_THROWS_WITH(dev->free(c), Contains("was not allocated by ROCm device 0"));
    dev->free(nullptr);
    CHECK(dev->allocated_bytes() == mlcc::caching_allocator_round_size(n));
    dev->free(a);

    // Out of memory: the cache goes back to the runtime, then the allocation is retried.
    ScopedEnv limit("MLCC_FAKE_HIP_MEMORY", std::to_string(3 << 20).c_str());
    dev->release_cached();
    void* big = dev->alloc(2 << 20);
    dev->free(big);
    void* small = dev->alloc(512 << 10);
    void* mid = dev->alloc(900 << 10);  // 1 MiB after rounding: fits once `big` is released
    CHECK(mid != nullptr);
    CHECK(dev->cached_bytes() == 0);
    CHECK_THROWS_WITH(dev->alloc(4 << 20), Contains("HIP out of memory on ROCm device 0") &&
                                               Contains("cannot allocate 4194304 bytes") &&
                                               Contains("of 3145728 bytes free"));
    dev->free(small);
    // `mid` stays live: the device's destructor frees it.
  }
  mlcc::test::FakeHipCounters after = counters();
  CHECK(after.live_allocations == before.live_allocations);
  CHECK(after.live_streams == before.live_streams);
}

TEST_CASE("rocm library: the manifest's \"rocm\" object is required and checked",
          "[runtime][hip][library]") {
  mlcc::Manifest m = parse_edited([](json&) {});
  CHECK(m.rocm.gfx == "gfx1100");
  CHECK(m.rocm.wavefront_size == 32);
  CHECK(m.kernels[2].scalar_bits == std::vector<int>{32, 64, 32});
  CHECK_THROWS_WITH(parse_edited([](json& j) { j.erase("rocm"); }),
                    Contains("library 'toy.so': manifest field 'rocm' is missing") &&
                        Contains("(rocm libraries)"));
  for (json bad : {json("gfx"), json("sm_90"), json("GFX1100"), json(1100), json("gfx90a:xnack+"),
                   json("gfx11 00")}) {
    CAPTURE(bad.dump());
    CHECK_THROWS_WITH(parse_edited([&](json& j) { j["rocm"]["gfx"] = bad; }),
                      Contains("manifest field 'rocm.gfx' should be an AMDGPU architecture name "
                               "such as \"gfx1100\", got " +
                               bad.dump()));
  }
  for (json bad : {json(48), json("32"), json(32.5)}) {
    CAPTURE(bad.dump());
    CHECK_THROWS_WITH(parse_edited([&](json& j) { j["rocm"]["wavefront_size"] = bad; }),
                      Contains("'rocm.wavefront_size' should be 32 or 64, got " + bad.dump()));
  }
  CHECK_THROWS_WITH(parse_edited([](json& j) { j["kernels"][1].erase("block"); }),
                    Contains("'kernels[1].block' is missing; expected three launch extents "
                             "(rocm kernels)"));
  // Other targets need no "rocm" object.
  CHECK(mlcc::parse_manifest(mlcc::test::toy_manifest().dump(), "toy.so").rocm.gfx.empty());
}

TEST_CASE("rocm library: the HSA code object is exported and checked", "[runtime][hip][library]") {
  auto lib = mlcc::Library::load(mlcc::test::toy_library("mlcc_toy_rocm"));
  CHECK(lib->manifest().target_kind == "rocm");
  REQUIRE(lib->hsaco().size() == 64);
  const uint8_t elf_magic[4] = {0x7f, 'E', 'L', 'F'};
  CHECK(std::memcmp(lib->hsaco().data(), elf_magic, 4) == 0);
  CHECK(lib->ptx().empty());

  std::string none = mlcc::test::toy_library("mlcc_toy_rocm_no_hsaco");
  CHECK_THROWS_WITH(mlcc::Library::load(none), Contains("library '" + none +
                                                        "' targets rocm but does not export "
                                                        "mlcc_library_hsaco"));
  std::string bad = mlcc::test::toy_library("mlcc_toy_rocm_bad_hsaco");
  CHECK_THROWS_WITH(mlcc::Library::load(bad),
                    Contains("library '" + bad + "': mlcc_library_hsaco") &&
                        Contains("is not an HSA code object"));
}

TEST_CASE("rocm device: a library runs only on its gfx", "[runtime][hip]") {
  auto lib = mlcc::Library::load(mlcc::test::toy_library("mlcc_toy_rocm"));
  {
    FakeHip fake("gfx942:sramecc+:xnack-");
    auto dev = mlcc::open_device("rocm");
    CHECK_THROWS_WITH(dev->load_kernels(*lib),
                      Contains("library '" + lib->path() + "' was compiled for gfx1100") &&
                          Contains("rocm:0 (AMD Radeon RX 7900 XTX, gfx942) is a gfx942") &&
                          Contains("--target \"rocm -mcpu=gfx942\""));
  }
  FakeHip fake("gfx1100");
  auto dev = mlcc::open_device("rocm");
  auto cpu_lib = mlcc::Library::load(mlcc::test::toy_library("mlcc_toy_cpu"));
  CHECK_THROWS_WITH(dev->load_kernels(*cpu_lib),
                    Contains("was compiled for target 'cpu'") && Contains("rocm:0"));
  {
    ScopedEnv err("MLCC_FAKE_HIP_LOAD_ERROR", "209");
    CHECK_THROWS_WITH(dev->load_kernels(*lib), Contains("hipErrorNoBinaryForGpu") &&
                                                   Contains("holds no code for gfx1100") &&
                                                   Contains(lib->path()));
  }
  {
    ScopedEnv err("MLCC_FAKE_HIP_LOAD_ERROR", "200");
    CHECK_THROWS_WITH(dev->load_kernels(*lib), Contains("hipErrorInvalidImage") &&
                                                   Contains("is not a code object") &&
                                                   Contains(lib->path()));
  }
  {
    ScopedEnv missing("MLCC_FAKE_HIP_MISSING_KERNEL", "toy_logits");
    CHECK_THROWS_WITH(dev->load_kernels(*lib),
                      Contains("hipModuleGetFunction") && Contains("has no kernel 'toy_logits'"));
  }
  dev->load_kernels(*lib);
  CHECK(counters().live_modules == 1);
  dev->load_kernels(*lib);  // again: the first module is unloaded
  CHECK(counters().live_modules == 1);
}

TEST_CASE("rocm device: launches pack the kernarg buffer and take the manifest's extents",
          "[runtime][hip]") {
  FakeHip fake;
  auto lib = mlcc::Library::load(mlcc::test::toy_library("mlcc_toy_rocm"));
  mlcc::test::FakeHipCounters before = counters();
  {
    auto dev = mlcc::open_device("rocm");
    dev->load_kernels(*lib);
    mlcc::DeviceBuffer a(*dev, 64), b(*dev, 64), c(*dev, 64);
    void* bufs[] = {a.get(), b.get(), c.get()};

    // toy_kv_write: 3 buffers, scalars of 32, 64 and 32 bits; grid ceil(4 n / 64), block 64.
    const int64_t big = (int64_t{1} << 40) + 5;
    int64_t scalars[] = {40, big, -7};
    dev->launch(2, bufs, scalars);
    mlcc::test::FakeHipLaunch l = last_launch();
    CHECK(std::string(l.function) == "toy_kv_write");
    CHECK(l.grid[0] == 3);
    CHECK(l.grid[1] == 1);
    CHECK(l.grid[2] == 1);
    CHECK(l.block[0] == 64);
    CHECK(l.block[1] == 1);
    CHECK(l.block[2] == 1);
    CHECK(l.shared_bytes == 0);
    REQUIRE(l.kernarg_bytes == 48);
    for (int i = 0; i < 3; ++i) CHECK(read_at<void*>(l.kernarg, 8 * i) == bufs[i]);
    CHECK(read_at<int32_t>(l.kernarg, 24) == 40);
    CHECK(read_at<uint32_t>(l.kernarg, 28) == 0);  // padding to the i64's alignment
    CHECK(read_at<int64_t>(l.kernarg, 32) == big);
    CHECK(read_at<int32_t>(l.kernarg, 40) == -7);
    CHECK(read_at<uint32_t>(l.kernarg, 44) == 0);  // the size is rounded up to 8

    // toy_embed: 3 buffers and one 32-bit scalar, 28 bytes rounded up to 32.
    int64_t none[] = {0};
    CHECK_THROWS_WITH(dev->launch(0, bufs, none),
                      Contains("rocm device: kernel 'toy_embed' gets launch extents grid[0]") &&
                          Contains("expected a grid in [1, 2147483647] and a block in [1, 1024]"));
    int64_t seven[] = {7};
    dev->launch(0, bufs, seven);
    l = last_launch();
    CHECK(std::string(l.function) == "toy_embed");
    CHECK(l.grid[0] == 1);
    REQUIRE(l.kernarg_bytes == 32);
    CHECK(read_at<int32_t>(l.kernarg, 24) == 7);
    CHECK(read_at<uint32_t>(l.kernarg, 28) == 0);

    int64_t too_big[] = {1, 2, int64_t{1} << 32};
    CHECK_THROWS_WITH(dev->launch(2, bufs, too_big),
                      Contains("rocm device: scalar argument 2 of kernel 'toy_kv_write' is "
                               "4294967296, which does not fit its 32-bit parameter"));
    // A value that fits 32 bits only unsigned travels as its bit pattern.
    int64_t unsigned_max[] = {1, 2, UINT32_MAX};
    dev->launch(2, bufs, unsigned_max);
    CHECK(read_at<uint32_t>(last_launch().kernarg, 40) == UINT32_MAX);

    // Profiles count each kernel's launches, timed by events.
    REQUIRE(dev->begin_profile());
    for (int i = 0; i < 3; ++i) dev->launch(2, bufs, scalars);
    dev->launch(0, bufs, seven);
    std::vector<mlcc::KernelTiming> t = dev->end_profile();
    REQUIRE(t.size() == 2);
    CHECK(t[0].kernel == 0);
    CHECK(t[0].launches == 1);
    CHECK(t[1].kernel == 2);
    CHECK(t[1].launches == 3);
    CHECK(t[1].seconds >= 0);
    CHECK(dev->end_profile().empty());
    CHECK(counters().live_events == before.live_events + 8);  // pooled until the device goes
  }
  mlcc::test::FakeHipCounters after = counters();
  CHECK(after.live_events == before.live_events);
  CHECK(after.live_modules == before.live_modules);
  CHECK(after.live_allocations == before.live_allocations);
}

TEST_CASE("rocm device: Debian's HIP runtime without /dev/kfd says there is no AMD GPU",
          "[runtime][hip]") {
  // The handle stays open: HIP 5.2 loaded a second time after an unload aborts the process
  // in its initialisation (seen on the GPU machine), and the runtime never unloads it.
  void* h = dlopen("libamdhip64.so.5", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr || std::filesystem::exists("/dev/kfd")) {
    WARN("SKIPPED: needs libamdhip64.so.5 (Debian: libamdhip64-5) and no /dev/kfd");
    return;
  }
  ScopedEnv env("MLCC_HIP_LIBRARY", "libamdhip64.so.5");
  CHECK(mlcc::HipDevice::device_count() == 0);
  CHECK_THROWS_WITH(mlcc::open_device("rocm:0"),
                    Contains("cannot open device rocm:0") && Contains("no AMD GPU found") &&
                        Contains("libamdhip64.so.5") && Contains("/dev/kfd"));
}
