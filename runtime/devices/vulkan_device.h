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
//
// The device enables every feature kernels may need that it has (VulkanDeviceInfo), and
// refuses kernels needing more before any pipeline is made: a larger subgroup than its own,
// a SPIR-V capability or version it lacks, more workgroup memory or invocations. Each
// refusal names the kernel, the device and the --target to recompile with where one helps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/library.h"

namespace mlcc {

// What a Vulkan device offers kernels, queried once per device (vulkan_features.cc). The
// SPIR-V generator's kernels may need subgroups of a size (-subgroup), f16 arithmetic (-f16)
// and 16-bit storage buffers (-storage16); the device enables every such feature it has.
struct VulkanDeviceInfo {
  int index = 0;             // N of "vulkan:N"
  std::string name;          // "llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string type;          // "discrete gpu", "integrated gpu", "virtual gpu", "cpu", "other"
  uint32_t api_version = 0;  // what mlcc uses: the device's, at most Vulkan 1.3
  // Subgroups (Vulkan 1.1): the number of invocations in each, and the operations compute
  // shaders may use (VkSubgroupFeatureFlags; 0 where compute shaders get none).
  uint32_t subgroup_size = 0;
  uint32_t subgroup_operations = 0;
  bool shader_float16 = false, shader_float64 = false;
  bool shader_int8 = false, shader_int16 = false, shader_int64 = false;
  bool storage_buffer_16bit = false, uniform_and_storage_buffer_16bit = false,
       storage_push_constant_16 = false;
  bool storage_buffer_8bit = false, uniform_and_storage_buffer_8bit = false,
       storage_push_constant_8 = false;
  uint32_t max_shared_memory = 0;          // maxComputeSharedMemorySize, bytes
  uint32_t max_workgroup_invocations = 0;  // maxComputeWorkGroupInvocations
  uint32_t max_spirv_version = 0;          // e.g. 0x00010300 for SPIR-V 1.3 (Vulkan 1.1)

  // "llvmpipe (LLVM 15.0.6, 256 bits) [cpu]"
  std::string describe() const;
  // "Vulkan 1.3, subgroup 8, f16 yes, 16-bit storage yes, shared memory 32 KiB" for listings.
  std::string features() const;
  // The --target that fits the device: "vulkan -subgroup=8", with -f16=0, -storage16=0,
  // -max-threads and -shared-memory where the device lacks what the defaults assume.
  std::string target() const;
  // Whether a kernel may declare SPIR-V capability `capability` (OpCapability) here.
  bool supports_capability(uint32_t capability) const;
};

// "Float16" for SPIR-V capability 9; "capability N" for those the runtime does not know.
std::string spirv_capability_name(uint32_t capability);

// One kernel for load_spirv_kernels: its manifest entry, its SPIR-V words, and the subgroup
// size it was compiled for (target option -subgroup; 1 for kernels that assume none).
struct VulkanKernelSource {
  KernelInfo info;
  std::vector<uint32_t> spirv;
  uint32_t subgroup_size = 1;
};

class VulkanDevice : public Device {
 public:
  // Makes these kernels launchable by their index, replacing those loaded before; what
  // load_kernels(lib) does with the library's manifest and mlcc_library_spirv. Throws
  // mlcc::Error naming the kernel when its words are not a SPIR-V module with a GLCompute
  // entry point "main", when it needs what the device lacks (a larger subgroup, a SPIR-V
  // capability or version, more workgroup memory than info.shared_bytes may have, a larger
  // workgroup), or the driver refuses it.
  virtual void load_spirv_kernels(const std::vector<VulkanKernelSource>& kernels) = 0;
  // The device's minStorageBufferOffsetAlignment: a view passed to launch() must start at a
  // multiple of it (alloc() returns blocks aligned to far more).
  virtual uint64_t storage_offset_alignment() const = 0;
  // Bytes held by freed blocks kept for reuse (the caching allocator).
  virtual uint64_t cached_bytes() const = 0;
  // What the device offers; all of it is enabled.
  virtual const VulkanDeviceInfo& info() const = 0;
  uint32_t subgroup_size() const { return info().subgroup_size; }
  std::string features() const { return info().features(); }
};

// Opens physical device `index` of those with Vulkan 1.1 and a compute queue. Throws
// mlcc::Error when the loader or a device is missing, or the index is out of range (naming
// the devices there are).
std::unique_ptr<VulkanDevice> open_vulkan_device(int index);

// The usable Vulkan devices, in the order "vulkan:N" counts them, without opening them.
// Empty when the loader finds no driver; throws mlcc::Error when the loader itself is
// missing.
std::vector<VulkanDeviceInfo> query_vulkan_devices();

// Their describe() strings, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) [cpu]".
std::vector<std::string> list_vulkan_devices();

}  // namespace mlcc
