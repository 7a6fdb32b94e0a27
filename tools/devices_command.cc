// `mlcc devices`: the devices this machine can run models on, and for each GPU the --target
// to compile for it. The first thing to run on a new machine: it says what is missing (a
// CUDA driver, the HIP runtime, the Vulkan loader or a Vulkan driver) in one line each
// instead of failing.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "runtime/devices/cuda_device.h"
#include "runtime/devices/hip_device.h"
#include "runtime/error.h"
#include "tools/commands.h"
#if MLCC_WITH_VULKAN
#include "runtime/devices/vulkan_device.h"
#endif

namespace mlcc::tools {
namespace {

void list_cpu() {
  std::printf("cpu       the host CPU, %u threads\n", std::thread::hardware_concurrency());
  std::printf("          --target \"cpu\"\n");
}

void list_cuda() {
  int count = 0;
  try {
    count = CudaDevice::device_count();
  } catch (const Error& e) {
    std::printf("cuda      none: %s\n", e.what());
    return;
  }
  if (count == 0) std::printf("cuda      none: the CUDA driver sees no device\n");
  for (int i = 0; i < count; ++i) {
    try {
      // Opening is what gives the device's properties; it costs a context, not a kernel.
      auto dev = CudaDevice::open(i);
      const CudaDeviceInfo& d = dev->info();
      std::string id = "cuda:" + std::to_string(i);
      std::printf("%-9s %s, sm_%d%d, %d SMs, %.1f GiB, CUDA driver %d.%d\n", id.c_str(),
                  d.name.c_str(), d.compute_major, d.compute_minor, d.sm_count,
                  static_cast<double>(d.total_memory) / (1 << 30), d.driver_version / 1000,
                  d.driver_version % 1000 / 10);
      std::printf("          --target \"cuda -arch=sm_%d%d\"\n", d.compute_major, d.compute_minor);
    } catch (const Error& e) {
      std::printf("cuda:%-4d cannot be opened: %s\n", i, e.what());
    }
  }
}

void list_rocm() {
  int count = 0;
  try {
    count = HipDevice::device_count();
  } catch (const Error& e) {
    std::printf("rocm      none: %s\n", e.what());
    return;
  }
  if (count == 0)
    std::printf(
        "rocm      none: the HIP runtime sees no AMD GPU (no /dev/kfd, or no GPU it "
        "supports)\n");
  for (int i = 0; i < count; ++i) {
    try {
      auto dev = HipDevice::open(i);
      const HipDeviceInfo& d = dev->info();
      std::string id = "rocm:" + std::to_string(i);
      std::printf("%-9s %s, %s, %.1f GiB, HIP %d.%d\n", id.c_str(), d.name.c_str(),
                  d.gcn_arch_name.c_str(), static_cast<double>(d.total_memory) / (1 << 30),
                  d.runtime_version / 10000000, d.runtime_version / 100000 % 100);
      std::printf("          --target \"rocm -mcpu=%s\"\n", d.gfx.c_str());
    } catch (const Error& e) {
      std::printf("rocm:%-4d cannot be opened: %s\n", i, e.what());
    }
  }
}

void list_vulkan() {
#if MLCC_WITH_VULKAN
  std::vector<VulkanDeviceInfo> devices;
  try {
    devices = query_vulkan_devices();
  } catch (const Error& e) {
    std::printf("vulkan    none: %s\n", e.what());
    return;
  }
  if (devices.empty())
    std::printf(
        "vulkan    none: the Vulkan loader found no driver with Vulkan 1.1 and a compute "
        "queue; install one (e.g. mesa-vulkan-drivers, or the GPU vendor's) and check "
        "VK_ICD_FILENAMES / VK_DRIVER_FILES if set\n");
  for (const VulkanDeviceInfo& d : devices) {
    std::string id = "vulkan:" + std::to_string(d.index);
    std::printf("%-9s %s\n", id.c_str(), d.describe().c_str());
    std::printf("          %s\n", d.features().c_str());
    std::printf("          --target \"%s\"\n", d.target().c_str());
  }
#else
  std::printf(
      "vulkan    none: this mlcc was built without Vulkan (no vulkan/vulkan.h at build time)\n");
#endif
}

}  // namespace

Command add_devices_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "devices", "List the devices models can run on, with the --target that fits each");
  return {cmd, [] {
            list_cpu();
            list_cuda();
            list_rocm();
            list_vulkan();
            return 0;
          }};
}

}  // namespace mlcc::tools
