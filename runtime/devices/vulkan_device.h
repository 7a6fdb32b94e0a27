// The Vulkan device of the model runtime (issue 5): runs libraries compiled for the
// "vulkan" target kind, one SPIR-V compute module per kernel (library_format.h), on any
// Vulkan 1.1 driver; lavapipe (Mesa's CPU driver) in CI. Only built where vulkan.h exists
// (MLCC_WITH_VULKAN); the loader itself is found with dlopen at run time.
//
// Device pointers are fake addresses: each allocation owns a unique range of a private
// 64-bit address space, so that the VM's views (an allocation plus a byte offset) map back
// to (VkBuffer, offset) and bind as storage-buffer descriptors at that offset.
//
// Kernel ABI (the SPIR-V code generator's): entry point "main" (GLCompute); buffer
// parameter i is the storage buffer at set 0, binding i; the scalar parameters are 32-bit
// ints in one push-constant block at offsets 0, 4, 8, ...; the workgroup size is fixed in
// the module; KernelInfo::grid, evaluated over the scalars, gives vkCmdDispatch's counts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/library.h"

namespace mlcc {

// One kernel for load_spirv_kernels: its manifest entry and its SPIR-V words.
struct VulkanKernelSource {
  KernelInfo info;
  std::vector<uint32_t> spirv;
};

class VulkanDevice : public Device {
 public:
  // Makes these kernels launchable by their index, replacing those loaded before; what
  // load_kernels(lib) does with the library's manifest and mlcc_library_spirv. Throws
  // mlcc::Error naming the kernel when its words are not a SPIR-V module with a GLCompute
  // entry point "main", or the driver refuses it.
  virtual void load_spirv_kernels(const std::vector<VulkanKernelSource>& kernels) = 0;
  // The device's minStorageBufferOffsetAlignment: a view passed to launch() must start at a
  // multiple of it (alloc() returns blocks aligned to far more).
  virtual uint64_t storage_offset_alignment() const = 0;
  // Bytes held by freed blocks kept for reuse (the caching allocator).
  virtual uint64_t cached_bytes() const = 0;
};

// Opens physical device `index` of those with Vulkan 1.1 and a compute queue. Throws
// mlcc::Error when the loader or a device is missing, or the index is out of range (naming
// the devices there are).
std::unique_ptr<VulkanDevice> open_vulkan_device(int index);

// The names of the usable Vulkan devices, in the order "vulkan:N" counts them, e.g.
// "llvmpipe (LLVM 15.0.7, 256 bits) [cpu]". Empty when the loader finds no driver; throws
// mlcc::Error when the loader itself is missing.
std::vector<std::string> list_vulkan_devices();

}  // namespace mlcc
