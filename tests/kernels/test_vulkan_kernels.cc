// The numeric kernel checks on Vulkan: every case of the four families (tools/kernel_check.h)
// scheduled for a vulkan target, compiled to SPIR-V, run on Vulkan device 0 (lavapipe, Mesa's
// CPU driver, in CI) and compared with the interpreter's reference. No device is a failure,
// not a skip: CI installs mesa-vulkan-drivers, and a silent skip would hide a broken setup.
// Empty where mlcc is built without the Vulkan device.
#if MLCC_WITH_VULKAN

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/devices/vulkan_device.h"
#include "runtime/error.h"
#include "tools/kernel_bundle.h"
#include "tools/kernel_check.h"

using namespace mlcc;

namespace {

// Device 0, opened once for the whole run (creating a device costs lavapipe ~0.1 s); null
// after a failure that names why.
VulkanDevice* vulkan_device() {
  static std::unique_ptr<VulkanDevice> dev;
  static std::string error;
  if (dev == nullptr && error.empty()) {
    try {
      if (list_vulkan_devices().empty())
        error = "the Vulkan loader finds no device";
      else
        dev = open_vulkan_device(0);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  if (dev == nullptr)
    FAIL("no Vulkan device: " << error
                              << " (install a driver: mesa-vulkan-drivers provides lavapipe)");
  return dev.get();
}

// Runs the cases on Vulkan for the target `spec`, one section per case.
void check_on_vulkan(const std::vector<check::KernelCase>& cases, const std::string& spec) {
  VulkanDevice* dev = vulkan_device();
  Target target = Target::parse(spec);
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (const check::KernelCase& c : cases) {
    DYNAMIC_SECTION(spec << ": " << c.name) {
      INFO(c.name << " " << c.shape << " for \"" << spec << "\", seed " << seed);
      check::GpuCase g = check::gpu_case(c, target, seed);
      dev->load_spirv_kernels({{bundle::kernel_info(g.entry), g.spirv}});
      check::Arrays out = bundle::run_once(*dev, 0, g.inputs, c.scalars);
      double error = check::output_error(g.reference, out, g.expected);
      INFO("error " << error << ", tolerance " << c.tolerance);
      CHECK(error < c.tolerance);  // false for NaN too
    }
  }
}

// The default target (16-bit arithmetic and storage), and f16 in f32 registers and packed
// u32 words (-f16=0 -storage16=0), the path of devices without 16-bit support. lavapipe
// compiles each pipeline with LLVM when first dispatched, up to ~30 s for the largest
// attention and linear kernels (~0.2 MB of SPIR-V): those two families run the second
// target only on request ([vulkan-packed]), which keeps this file near 100 s of CPU time.
const char* const kDefault = "vulkan";
const char* const kPacked = "vulkan -f16=0 -storage16=0";

}  // namespace

TEST_CASE("vulkan kernels: standard cases", "[kernels][vulkan]") {
  for (const char* spec : {kDefault, kPacked}) check_on_vulkan(check::standard_cases(), spec);
}

TEST_CASE("vulkan kernels: elementwise cases", "[kernels][vulkan]") {
  for (const char* spec : {kDefault, kPacked}) check_on_vulkan(check::elementwise_cases(), spec);
}

TEST_CASE("vulkan kernels: linear cases", "[kernels][vulkan]") {
  check_on_vulkan(check::linear_cases(), kDefault);
}

TEST_CASE("vulkan kernels: attention cases", "[kernels][vulkan]") {
  check_on_vulkan(check::attention_cases(), kDefault);
}

TEST_CASE("vulkan kernels: linear cases, packed 16-bit", "[.][kernels][vulkan-packed]") {
  check_on_vulkan(check::linear_cases(), kPacked);
}

TEST_CASE("vulkan kernels: attention cases, packed 16-bit", "[.][kernels][vulkan-packed]") {
  check_on_vulkan(check::attention_cases(), kPacked);
}

#endif  // MLCC_WITH_VULKAN
