// Tests of the CUDA device. Without a driver (CI) they check the errors a user sees; where
// libcuda.so.1 loads (the GPU machine) they also run memory, a PTX kernel and timing.
#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/devices/cuda_device.h"
#include "runtime/error.h"
#include "tests/runtime/runtime_test_util.h"

using mlcc::test::ScopedEnv;

namespace {

bool driver_present() {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  dlclose(lib);
  return true;
}

// out[i] = in[i] * 2 + 1 over n uint32 values; one thread per element.
const char* kScalePtx = R"(
.version 7.0
.target sm_52
.address_size 64
.visible .entry scale_u32(.param .u64 out, .param .u64 in, .param .u32 n) {
  .reg .pred %p;
  .reg .b32 %r<8>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [out];
  ld.param.u64 %rd2, [in];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p, %r5, %r1;
  @%p bra DONE;
  cvta.to.global.u64 %rd3, %rd1;
  cvta.to.global.u64 %rd4, %rd2;
  mul.wide.u32 %rd5, %r5, 4;
  add.s64 %rd6, %rd4, %rd5;
  ld.global.u32 %r6, [%rd6];
  mad.lo.s32 %r7, %r6, 2, 1;
  add.s64 %rd7, %rd3, %rd5;
  st.global.u32 [%rd7], %r7;
DONE:
  ret;
}

// Stores *in at byte `offset` of dynamic shared memory, reads it back into *out: checks
// that launches asking for more than 48 KiB get it.
.extern .shared .align 16 .b8 dsmem[];
.visible .entry smem_echo(.param .u64 out, .param .u64 in, .param .u32 offset) {
  .reg .b32 %r<4>;
  .reg .b64 %rd<5>;
  ld.param.u64 %rd1, [out];
  ld.param.u64 %rd2, [in];
  ld.param.u32 %r1, [offset];
  cvta.to.global.u64 %rd3, %rd1;
  cvta.to.global.u64 %rd4, %rd2;
  ld.global.u32 %r2, [%rd4];
  mov.u32 %r3, dsmem;
  add.u32 %r3, %r3, %r1;
  st.shared.u32 [%r3], %r2;
  bar.sync 0;
  ld.shared.u32 %r2, [%r3];
  st.global.u32 [%rd3], %r2;
  ret;
}
)";

}  // namespace

TEST_CASE("runtime cuda device: a missing driver library is named in the error",
          "[runtime][cuda]") {
  const std::string missing = "/nonexistent/mlcc-test/libcuda.so.1";
  REQUIRE_THROWS_AS(mlcc::CudaDevice::open(0, missing), mlcc::Error);
  REQUIRE_THROWS_WITH(mlcc::CudaDevice::open(0, missing),
                      Catch::Contains("CUDA driver not found") && Catch::Contains(missing) &&
                          Catch::Contains("install the NVIDIA driver"));
  {
    ScopedEnv env("MLCC_CUDA_DRIVER_LIB", missing.c_str());
    REQUIRE_THROWS_WITH(mlcc::CudaDevice::open(),
                        Catch::StartsWith("CUDA driver not found") && Catch::Contains(missing));
    REQUIRE_THROWS_WITH(mlcc::CudaDevice::device_count(), Catch::Contains(missing));
  }
}

TEST_CASE("runtime cuda device: opens where the driver is, explains where it is not",
          "[runtime][cuda]") {
  if (!driver_present()) {
    REQUIRE_THROWS_WITH(mlcc::CudaDevice::open(), Catch::Contains("CUDA driver not found") &&
                                                      Catch::Contains("libcuda.so.1"));
    return;
  }
  auto dev = mlcc::CudaDevice::open(0);
  const mlcc::CudaDeviceInfo& info = dev->info();
  INFO("device: " << info.name << " sm_" << info.compute_major << info.compute_minor);
  CHECK(!info.name.empty());
  CHECK(info.compute_major >= 5);
  CHECK(info.sm_count > 0);
  CHECK(info.warp_size == 32);
  CHECK(info.total_memory > 0);
  CHECK(info.l2_bytes > 0);
  CHECK(info.shared_memory_per_block_optin >= info.shared_memory_per_block);

  int count = mlcc::CudaDevice::device_count();
  REQUIRE_THROWS_WITH(mlcc::CudaDevice::open(count), Catch::Contains("CUDA_ERROR_INVALID_DEVICE") &&
                                                         Catch::Contains(std::to_string(count)));

  // Round trip through device memory, with a device-to-device copy and a memset.
  const size_t n = 1 << 20;
  std::vector<uint8_t> host(n), back(n, 0);
  std::iota(host.begin(), host.end(), uint8_t{7});
  void* a = dev->alloc(n);
  void* b = dev->alloc(n);
  dev->copy_to_device(a, host.data(), n);
  dev->copy_device_to_device(b, a, n);
  dev->copy_to_host(back.data(), b, n);
  // Compared into a bool: Catch would print a megabyte of vector on failure.
  bool same = back == host;
  CHECK(same);
  dev->memset(b, 0xab, n);
  dev->copy_to_host(back.data(), b, n);
  same = back == std::vector<uint8_t>(n, 0xab);
  CHECK(same);

  // A freed block is handed out again for the same size.
  dev->free(b);
  CHECK(dev->cached_bytes() > 0);
  void* c = dev->alloc(n);
  CHECK(c == b);
  dev->free(c);
  dev->release_cached();
  CHECK(dev->cached_bytes() == 0);
  REQUIRE_THROWS_AS(dev->free(c), mlcc::Error);

  // A PTX kernel, launched and timed.
  mlcc::CudaModule module = dev->load_module(kScalePtx);
  mlcc::CudaFunction fn = dev->get_function(module, "scale_u32");
  const uint32_t count_u32 = 1000;
  std::vector<uint32_t> in(count_u32), out(count_u32, 0);
  std::iota(in.begin(), in.end(), 0u);
  void* d_in = dev->alloc(count_u32 * 4);
  void* d_out = dev->alloc(count_u32 * 4);
  dev->copy_to_device(d_in, in.data(), count_u32 * 4);
  uint32_t n_param = count_u32;
  void* params[] = {&d_out, &d_in, &n_param};
  mlcc::CudaTimer timer(*dev);
  timer.start();
  dev->launch(fn, {(count_u32 + 127) / 128}, {128}, 0, params);
  float ms = timer.stop_ms();
  CHECK(ms >= 0.0f);
  dev->synchronize();
  dev->copy_to_host(out.data(), d_out, count_u32 * 4);
  for (uint32_t i = 0; i < count_u32; ++i) REQUIRE(out[i] == 2 * i + 1);

  const uint32_t smem_bytes = 100 * 1024;
  if (info.shared_memory_per_block_optin >= smem_bytes) {
    mlcc::CudaFunction echo = dev->get_function(module, "smem_echo");
    uint32_t offset = smem_bytes - 4;
    void* echo_params[] = {&d_out, &d_in, &offset};
    in[0] = 0xdeadbeef;
    dev->copy_to_device(d_in, in.data(), 4);
    for (int rep = 0; rep < 2; ++rep) dev->launch(echo, {1}, {32}, smem_bytes, echo_params);
    dev->copy_to_host(out.data(), d_out, 4);
    CHECK(out[0] == 0xdeadbeef);
  }
  REQUIRE_THROWS_WITH(dev->launch(fn, {1}, {32}, 1u << 30, params),
                      Catch::Contains("scale_u32") && Catch::Contains("dynamic shared memory"));

  dev->free(d_in);
  dev->free(d_out);
  dev->free(a);

  REQUIRE_THROWS_WITH(dev->get_function(module, "no_such_kernel"),
                      Catch::Contains("no_such_kernel") && Catch::Contains("CUDA_ERROR_"));
  REQUIRE_THROWS_WITH(dev->load_module(".version 7.0\n.target sm_52\n.address_size 64\nbogus;\n"),
                      Catch::Contains("cuModuleLoadDataEx") && Catch::Contains("PTX JIT log"));
}
