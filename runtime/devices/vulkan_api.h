// The Vulkan functions the Vulkan device uses, loaded at run time: the loader library is
// dlopen'ed (never linked) so that mlcc starts on machines without Vulkan and says why a
// Vulkan device cannot open. vulkan.h is used for its types only (VK_NO_PROTOTYPES).
#pragma once

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#include <string>

namespace mlcc {

// Global, instance-level and device-level entry points, one member each.
#define MLCC_VK_GLOBAL_FNS(X) \
  X(vkCreateInstance)         \
  X(vkEnumerateInstanceVersion)

#define MLCC_VK_INSTANCE_FNS(X)               \
  X(vkDestroyInstance)                        \
  X(vkEnumeratePhysicalDevices)               \
  X(vkGetPhysicalDeviceProperties)            \
  X(vkGetPhysicalDeviceProperties2)           \
  X(vkGetPhysicalDeviceFeatures2)             \
  X(vkEnumerateDeviceExtensionProperties)     \
  X(vkGetPhysicalDeviceQueueFamilyProperties) \
  X(vkGetPhysicalDeviceMemoryProperties)      \
  X(vkCreateDevice)                           \
  X(vkGetDeviceProcAddr)

#define MLCC_VK_DEVICE_FNS(X)      \
  X(vkDestroyDevice)               \
  X(vkGetDeviceQueue)              \
  X(vkDeviceWaitIdle)              \
  X(vkCreateBuffer)                \
  X(vkDestroyBuffer)               \
  X(vkGetBufferMemoryRequirements) \
  X(vkAllocateMemory)              \
  X(vkFreeMemory)                  \
  X(vkBindBufferMemory)            \
  X(vkMapMemory)                   \
  X(vkUnmapMemory)                 \
  X(vkCreateCommandPool)           \
  X(vkDestroyCommandPool)          \
  X(vkAllocateCommandBuffers)      \
  X(vkBeginCommandBuffer)          \
  X(vkEndCommandBuffer)            \
  X(vkResetCommandPool)            \
  X(vkQueueSubmit)                 \
  X(vkCreateFence)                 \
  X(vkDestroyFence)                \
  X(vkWaitForFences)               \
  X(vkResetFences)                 \
  X(vkCmdCopyBuffer)               \
  X(vkCmdFillBuffer)               \
  X(vkCmdPipelineBarrier)          \
  X(vkCmdBindPipeline)             \
  X(vkCmdBindDescriptorSets)       \
  X(vkCmdPushConstants)            \
  X(vkCmdDispatch)                 \
  X(vkCreateShaderModule)          \
  X(vkDestroyShaderModule)         \
  X(vkCreatePipelineCache)         \
  X(vkDestroyPipelineCache)        \
  X(vkCreateComputePipelines)      \
  X(vkDestroyPipeline)             \
  X(vkCreatePipelineLayout)        \
  X(vkDestroyPipelineLayout)       \
  X(vkCreateDescriptorSetLayout)   \
  X(vkDestroyDescriptorSetLayout)  \
  X(vkCreateDescriptorPool)        \
  X(vkDestroyDescriptorPool)       \
  X(vkResetDescriptorPool)         \
  X(vkAllocateDescriptorSets)      \
  X(vkUpdateDescriptorSets)        \
  X(vkCreateQueryPool)             \
  X(vkDestroyQueryPool)            \
  X(vkCmdResetQueryPool)           \
  X(vkCmdWriteTimestamp)           \
  X(vkGetQueryPoolResults)

struct VulkanApi {
#define MLCC_VK_MEMBER(name) PFN_##name name = nullptr;
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  MLCC_VK_GLOBAL_FNS(MLCC_VK_MEMBER)
  MLCC_VK_INSTANCE_FNS(MLCC_VK_MEMBER)
  MLCC_VK_DEVICE_FNS(MLCC_VK_MEMBER)
#undef MLCC_VK_MEMBER

  // dlopens the loader ($MLCC_VULKAN_LIBRARY, else libvulkan.so.1) and fills the global
  // entry points. Throws mlcc::Error naming the library and how to install it when it does
  // not load or lacks Vulkan 1.1. The library stays loaded for the process: unloading the
  // loader would unload drivers whose threads may still run.
  static VulkanApi load();
  // Fills the instance-level (then device-level) entry points; throws naming a missing one.
  void load_instance(VkInstance instance);
  void load_device(VkDevice device);
};

// "VK_ERROR_OUT_OF_DEVICE_MEMORY" for messages; the number for codes it does not know.
std::string vk_result_name(VkResult r);

// Throws mlcc::Error "vulkan device: <what> failed with <VkResult>" unless r is VK_SUCCESS.
void vk_check(VkResult r, const std::string& what);

}  // namespace mlcc
