// Loading the Vulkan loader with dlopen and its entry points through vkGetInstanceProcAddr /
// vkGetDeviceProcAddr (runtime/devices/vulkan_api.h).
#include "runtime/devices/vulkan_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "runtime/error.h"

namespace mlcc {
namespace {

// The loaders opened so far, by path; never closed (see VulkanApi::load).
void* open_loader(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, void*> opened;
  std::lock_guard<std::mutex> lock(mu);
  auto it = opened.find(path);
  if (it != opened.end()) return it->second;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    throw Error("Vulkan loader not found: cannot load '" + path + "' (" +
                (e ? e : "unknown error") +
                "); install the Vulkan loader (Debian/Ubuntu: libvulkan1) and a driver "
                "(e.g. mesa-vulkan-drivers or the GPU vendor's), or point MLCC_VULKAN_LIBRARY at "
                "libvulkan.so.1");
  }
  opened.emplace(path, handle);
  return handle;
}

}  // namespace

VulkanApi VulkanApi::load() {
  const char* env = std::getenv("MLCC_VULKAN_LIBRARY");
  std::string path = env != nullptr && *env != '\0' ? env : "libvulkan.so.1";
  void* handle = open_loader(path);
  VulkanApi api;
  api.vkGetInstanceProcAddr =
      reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(handle, "vkGetInstanceProcAddr"));
  if (api.vkGetInstanceProcAddr == nullptr)
    throw Error("'" + path +
                "' is not a Vulkan loader: it does not export vkGetInstanceProcAddr; expected "
                "libvulkan.so.1");
#define MLCC_VK_LOAD(name) \
  api.name = reinterpret_cast<PFN_##name>(api.vkGetInstanceProcAddr(nullptr, #name));
  MLCC_VK_GLOBAL_FNS(MLCC_VK_LOAD)
#undef MLCC_VK_LOAD
  if (api.vkCreateInstance == nullptr)
    throw Error("Vulkan loader '" + path + "' does not provide vkCreateInstance");
  // vkEnumerateInstanceVersion is itself new in 1.1: a 1.0 loader lacks it.
  uint32_t version = VK_API_VERSION_1_0;
  if (api.vkEnumerateInstanceVersion != nullptr) api.vkEnumerateInstanceVersion(&version);
  if (version < VK_API_VERSION_1_1)
    throw Error("Vulkan loader '" + path + "' supports Vulkan " +
                std::to_string(VK_API_VERSION_MAJOR(version)) + "." +
                std::to_string(VK_API_VERSION_MINOR(version)) +
                "; mlcc needs Vulkan 1.1 or newer (update libvulkan1)");
  return api;
}

void VulkanApi::load_instance(VkInstance instance) {
#define MLCC_VK_LOAD(name)                                                     \
  name = reinterpret_cast<PFN_##name>(vkGetInstanceProcAddr(instance, #name)); \
  if (name == nullptr)                                                         \
    throw Error("Vulkan loader does not provide " #name "; expected a Vulkan 1.1 loader");
  MLCC_VK_INSTANCE_FNS(MLCC_VK_LOAD)
#undef MLCC_VK_LOAD
}

void VulkanApi::load_device(VkDevice device) {
#define MLCC_VK_LOAD(name)                                                 \
  name = reinterpret_cast<PFN_##name>(vkGetDeviceProcAddr(device, #name)); \
  if (name == nullptr)                                                     \
    throw Error("Vulkan driver does not provide " #name "; expected a Vulkan 1.1 driver");
  MLCC_VK_DEVICE_FNS(MLCC_VK_LOAD)
#undef MLCC_VK_LOAD
}

std::string vk_result_name(VkResult r) {
  switch (r) {
#define MLCC_VK_CASE(x) \
  case x:               \
    return #x;
    MLCC_VK_CASE(VK_SUCCESS)
    MLCC_VK_CASE(VK_NOT_READY)
    MLCC_VK_CASE(VK_TIMEOUT)
    MLCC_VK_CASE(VK_INCOMPLETE)
    MLCC_VK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    MLCC_VK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    MLCC_VK_CASE(VK_ERROR_INITIALIZATION_FAILED)
    MLCC_VK_CASE(VK_ERROR_DEVICE_LOST)
    MLCC_VK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    MLCC_VK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    MLCC_VK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    MLCC_VK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    MLCC_VK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    MLCC_VK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    MLCC_VK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    MLCC_VK_CASE(VK_ERROR_FRAGMENTED_POOL)
    MLCC_VK_CASE(VK_ERROR_UNKNOWN)
    MLCC_VK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    MLCC_VK_CASE(VK_ERROR_INVALID_SHADER_NV)
#undef MLCC_VK_CASE
    default:
      return "VkResult " + std::to_string(static_cast<int>(r));
  }
}

void vk_check(VkResult r, const std::string& what) {
  if (r != VK_SUCCESS) throw Error("vulkan device: " + what + " failed with " + vk_result_name(r));
}

}  // namespace mlcc
