// What a Vulkan device offers kernels (runtime/devices/vulkan_device.h, VulkanDeviceInfo):
// the properties and feature structs queried through vkGetPhysical*2, the features to
// enable at device creation, and which SPIR-V capabilities a kernel may declare given them.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "runtime/devices/vulkan_device_impl.h"

namespace mlcc {
namespace {

const char* device_type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated gpu";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual gpu";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "cpu";
    default:
      return "other";
  }
}

// The subgroup operations the SPIR-V generator's shuffles use (GroupNonUniform,
// GroupNonUniformShuffle, GroupNonUniformShuffleRelative).
constexpr uint32_t kShuffleOps = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_SHUFFLE_BIT |
                                 VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT;

// The target option defaults (targets/target.cc vulkan_target, not linked into the runtime):
// target() spells out an option only where the device falls short of its default.
constexpr uint32_t kDefaultMaxThreads = 256;
constexpr uint32_t kDefaultSharedMemory = 32 * 1024;

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  for (const VkExtensionProperties& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

// The SPIR-V capabilities a kernel may declare, with what the device must have for each.
// Those the SPIR-V generator emits (codegen/spirv) come first; the others are their close
// kin. A capability missing here is refused: the runtime could not enable it.
const VulkanCapability kVulkanCapabilities[] = {
    {1, "Shader", "Vulkan", [](const VulkanDeviceInfo&) { return true; }, nullptr},
    {9, "Float16", "f16 arithmetic (shaderFloat16)",
     [](const VulkanDeviceInfo& d) { return d.shader_float16; }, "-f16=0"},
    {39, "Int8", "8-bit integers (shaderInt8)",
     [](const VulkanDeviceInfo& d) { return d.shader_int8; }, nullptr},
    {22, "Int16", "16-bit integers (shaderInt16)",
     [](const VulkanDeviceInfo& d) { return d.shader_int16; }, nullptr},
    {11, "Int64", "64-bit integers (shaderInt64)",
     [](const VulkanDeviceInfo& d) { return d.shader_int64; }, nullptr},
    {4433, "StorageBuffer16BitAccess", "16-bit storage buffers (storageBuffer16BitAccess)",
     [](const VulkanDeviceInfo& d) { return d.storage_buffer_16bit; }, "-storage16=0"},
    {4448, "StorageBuffer8BitAccess", "8-bit storage buffers (storageBuffer8BitAccess)",
     [](const VulkanDeviceInfo& d) { return d.storage_buffer_8bit; }, nullptr},
    {61, "GroupNonUniform", "subgroup operations in compute shaders (VK_SUBGROUP_FEATURE_BASIC)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_BASIC_BIT) != 0;
     },
     nullptr},
    {65, "GroupNonUniformShuffle", "subgroup shuffles (VK_SUBGROUP_FEATURE_SHUFFLE)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) != 0;
     },
     nullptr},
    {66, "GroupNonUniformShuffleRelative",
     "relative subgroup shuffles (VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT) != 0;
     },
     nullptr},
    {0, "Matrix", "Vulkan", [](const VulkanDeviceInfo&) { return true; }, nullptr},
    {10, "Float64", "64-bit floats (shaderFloat64)",
     [](const VulkanDeviceInfo& d) { return d.shader_float64; }, nullptr},
    {4434, "UniformAndStorageBuffer16BitAccess",
     "16-bit uniform buffers (uniformAndStorageBuffer16BitAccess)",
     [](const VulkanDeviceInfo& d) { return d.uniform_and_storage_buffer_16bit; }, nullptr},
    {4435, "StoragePushConstant16", "16-bit push constants (storagePushConstant16)",
     [](const VulkanDeviceInfo& d) { return d.storage_push_constant_16; }, nullptr},
    {4449, "UniformAndStorageBuffer8BitAccess",
     "8-bit uniform buffers (uniformAndStorageBuffer8BitAccess)",
     [](const VulkanDeviceInfo& d) { return d.uniform_and_storage_buffer_8bit; }, nullptr},
    {4450, "StoragePushConstant8", "8-bit push constants (storagePushConstant8)",
     [](const VulkanDeviceInfo& d) { return d.storage_push_constant_8; }, nullptr},
    {62, "GroupNonUniformVote", "subgroup votes (VK_SUBGROUP_FEATURE_VOTE)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_VOTE_BIT) != 0;
     },
     nullptr},
    {63, "GroupNonUniformArithmetic", "subgroup arithmetic (VK_SUBGROUP_FEATURE_ARITHMETIC)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0;
     },
     nullptr},
    {64, "GroupNonUniformBallot", "subgroup ballots (VK_SUBGROUP_FEATURE_BALLOT)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_BALLOT_BIT) != 0;
     },
     nullptr},
    {67, "GroupNonUniformClustered",
     "clustered subgroup operations (VK_SUBGROUP_FEATURE_CLUSTERED)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_CLUSTERED_BIT) != 0;
     },
     nullptr},
    {68, "GroupNonUniformQuad", "subgroup quad operations (VK_SUBGROUP_FEATURE_QUAD)",
     [](const VulkanDeviceInfo& d) {
       return (d.subgroup_operations & VK_SUBGROUP_FEATURE_QUAD_BIT) != 0;
     },
     nullptr},
};

}  // namespace

const VulkanCapability* find_vulkan_capability(uint32_t id) {
  for (const VulkanCapability& c : kVulkanCapabilities)
    if (c.id == id) return &c;
  return nullptr;
}

std::string known_vulkan_capabilities() {
  std::string out;
  for (const VulkanCapability& c : kVulkanCapabilities)
    out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

std::string spirv_capability_name(uint32_t capability) {
  const VulkanCapability* c = find_vulkan_capability(capability);
  return c != nullptr ? c->name : "capability " + std::to_string(capability);
}

bool VulkanDeviceInfo::supports_capability(uint32_t capability) const {
  const VulkanCapability* c = find_vulkan_capability(capability);
  return c != nullptr && c->supported(*this);
}

std::string VulkanDeviceInfo::describe() const { return fmt::format("{} [{}]", name, type); }

std::string VulkanDeviceInfo::features() const {
  auto yes = [](bool b) { return b ? "yes" : "no"; };
  std::string subgroup = std::to_string(subgroup_size);
  if ((subgroup_operations & kShuffleOps) != kShuffleOps) subgroup += " (no shuffles)";
  return fmt::format(
      "Vulkan {}.{}, subgroup {}, f16 {}, 16-bit storage {}, 8-bit storage {}, int64 {}, "
      "shared memory {} KiB, {} threads per workgroup",
      VK_API_VERSION_MAJOR(api_version), VK_API_VERSION_MINOR(api_version), subgroup,
      yes(shader_float16), yes(storage_buffer_16bit), yes(storage_buffer_8bit), yes(shader_int64),
      max_shared_memory / 1024, max_workgroup_invocations);
}

std::string VulkanDeviceInfo::target() const {
  // Without shuffles in compute shaders, kernels must not count on subgroups at all.
  uint32_t subgroup = (subgroup_operations & kShuffleOps) == kShuffleOps
                          ? std::min<uint32_t>(subgroup_size, 128)
                          : 1;
  std::string t = "vulkan -subgroup=" + std::to_string(std::max<uint32_t>(subgroup, 1));
  if (!shader_float16) t += " -f16=0";
  if (!storage_buffer_16bit) t += " -storage16=0";
  if (max_workgroup_invocations < kDefaultMaxThreads)
    t += " -max-threads=" + std::to_string(max_workgroup_invocations);
  if (max_shared_memory < kDefaultSharedMemory)
    t += " -shared-memory=" + std::to_string(max_shared_memory);
  return t;
}

VulkanDeviceInfo query_vulkan_device(const VulkanApi& api, VkPhysicalDevice pd, int index,
                                     VulkanFeatureChain* out) {
  VkPhysicalDeviceSubgroupProperties subgroup{};
  subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
  VkPhysicalDeviceProperties2 props2{};
  props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  props2.pNext = &subgroup;
  api.vkGetPhysicalDeviceProperties2(pd, &props2);
  const VkPhysicalDeviceProperties& p = props2.properties;

  VulkanDeviceInfo info;
  info.index = index;
  info.name = p.deviceName;
  info.type = device_type_name(p.deviceType);
  // Versions compare without their patch level: 1.3.230 offers all of 1.3.
  info.api_version = std::min(VK_MAKE_API_VERSION(0, VK_API_VERSION_MAJOR(p.apiVersion),
                                                  VK_API_VERSION_MINOR(p.apiVersion), 0),
                              kVulkanApiVersion);
  bool v12 = info.api_version >= VK_API_VERSION_1_2;
  info.max_spirv_version = info.api_version >= VK_API_VERSION_1_3 ? 0x00010600
                           : v12                                  ? 0x00010500
                                                                  : 0x00010300;
  if (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) {
    info.subgroup_size = subgroup.subgroupSize;
    info.subgroup_operations = subgroup.supportedOperations;
  } else {
    info.subgroup_size = 1;  // compute shaders get no subgroup operations: lanes alone
  }
  info.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  info.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;

  uint32_t n = 0;
  vk_check(api.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr),
           "vkEnumerateDeviceExtensionProperties");
  std::vector<VkExtensionProperties> exts(n);
  VkResult r = api.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
  if (r != VK_INCOMPLETE) vk_check(r, "vkEnumerateDeviceExtensionProperties");
  exts.resize(n);

  // Float16/Int8 and 8-bit storage are Vulkan 1.2 core; a 1.1 device has them only through
  // their extensions, whose structs may be chained only where the extension is there.
  VulkanFeatureChain local;
  VulkanFeatureChain& c = out != nullptr ? *out : local;
  c.core.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  c.storage16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
  c.float16_int8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
  c.storage8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES;
  c.core.pNext = &c.storage16;
  void** next = &c.storage16.pNext;
  *next = nullptr;
  bool f16_ext = !v12 && has_extension(exts, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  bool s8_ext = !v12 && has_extension(exts, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
  if (v12 || f16_ext) {
    *next = &c.float16_int8;
    next = &c.float16_int8.pNext;
    *next = nullptr;
  }
  if (v12 || s8_ext) {
    *next = &c.storage8;
    next = &c.storage8.pNext;
    *next = nullptr;
  }
  api.vkGetPhysicalDeviceFeatures2(pd, &c.core);

  const VkPhysicalDeviceFeatures& f = c.core.features;
  info.shader_int16 = f.shaderInt16;
  info.shader_int64 = f.shaderInt64;
  info.shader_float64 = f.shaderFloat64;
  info.storage_buffer_16bit = c.storage16.storageBuffer16BitAccess;
  info.uniform_and_storage_buffer_16bit = c.storage16.uniformAndStorageBuffer16BitAccess;
  info.storage_push_constant_16 = c.storage16.storagePushConstant16;
  info.shader_float16 = c.float16_int8.shaderFloat16;
  info.shader_int8 = c.float16_int8.shaderInt8;
  info.storage_buffer_8bit = c.storage8.storageBuffer8BitAccess;
  info.uniform_and_storage_buffer_8bit = c.storage8.uniformAndStorageBuffer8BitAccess;
  info.storage_push_constant_8 = c.storage8.storagePushConstant8;

  // Enable only the core features kernels may use: others, robustBufferAccess above all,
  // can slow every access down. The chained structs are enabled as reported.
  VkPhysicalDeviceFeatures enable{};
  enable.shaderInt16 = f.shaderInt16;
  enable.shaderInt64 = f.shaderInt64;
  enable.shaderFloat64 = f.shaderFloat64;
  c.core.features = enable;
  // vkCreateDevice takes an extension's struct only with the extension enabled: on a 1.1
  // device each goes in with its extension where the device has some of its features.
  bool use_f16 = v12 || (f16_ext && (info.shader_float16 || info.shader_int8));
  bool use_s8 =
      v12 || (s8_ext && (info.storage_buffer_8bit || info.uniform_and_storage_buffer_8bit ||
                         info.storage_push_constant_8));
  c.extensions.clear();
  if (!v12 && use_f16) c.extensions.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  if (!v12 && use_s8) c.extensions.push_back(VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
  next = &c.storage16.pNext;
  *next = nullptr;
  if (use_f16) {
    *next = &c.float16_int8;
    next = &c.float16_int8.pNext;
    *next = nullptr;
  }
  if (use_s8) *next = &c.storage8;
  return info;
}

}  // namespace mlcc
