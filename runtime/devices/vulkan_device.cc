// The Vulkan device (runtime/devices/vulkan_device.h): instance and device selection,
// fake-address memory with a caching allocator, staging copies, and kernels recorded into
// one command buffer per batch. Kernel loading and launching are in vulkan_kernels.cc,
// device-to-device copies by a compute shader in vulkan_copy.cc.
#include "runtime/devices/vulkan_device.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "runtime/devices/vulkan_device_impl.h"
#include "runtime/error.h"

namespace mlcc {
namespace {

constexpr uint64_t kAddressBase = uint64_t{1} << 40;  // far from null and from small ints
constexpr uint64_t kAddressGap = uint64_t{1} << 16;   // between ranges: catches overruns
constexpr uint64_t kStagingBytes = uint64_t{32} << 20;
// Commands in the first part of a batch submitted early, doubling per part up to the most.
constexpr uint64_t kFirstPartCommands = 8, kMaxPartCommands = 256;

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// Blocks are cached by size class: powers of two up to 64 MiB, then 16 MiB steps, so that a
// freed block serves any later request of the same class.
uint64_t size_class(uint64_t bytes) {
  if (bytes <= 256) return 256;
  if (bytes <= (uint64_t{64} << 20)) return std::bit_ceil(bytes);
  return round_up(bytes, uint64_t{16} << 20);
}

const char* kNoDriverHint =
    "install a Vulkan driver (e.g. mesa-vulkan-drivers, or the GPU vendor's) and check "
    "VK_ICD_FILENAMES / VK_DRIVER_FILES if set";

// An instance for Vulkan up to kVulkanApiVersion (1.1 loaders accept a newer version and
// the devices then offer min(theirs, it)), or VK_NULL_HANDLE when the loader finds no driver at
// all.
VkInstance create_instance(VulkanApi& api) {
  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "mlcc";
  app.pEngineName = "mlcc";
  app.apiVersion = kVulkanApiVersion;
  VkInstanceCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  info.pApplicationInfo = &app;
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r = api.vkCreateInstance(&info, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER) return VK_NULL_HANDLE;
  vk_check(r, "vkCreateInstance");
  api.load_instance(instance);
  return instance;
}

int compute_queue_family(const VulkanApi& api, VkPhysicalDevice pd) {
  uint32_t n = 0;
  api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> families(n);
  api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, families.data());
  for (uint32_t i = 0; i < n; ++i)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) return static_cast<int>(i);
  return -1;
}

// The physical devices mlcc can use (Vulkan 1.1, a compute queue), in the loader's order.
std::vector<VkPhysicalDevice> usable_devices(const VulkanApi& api, VkInstance instance) {
  uint32_t n = 0;
  vk_check(api.vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> all(n);
  VkResult r = api.vkEnumeratePhysicalDevices(instance, &n, all.data());
  if (r != VK_INCOMPLETE) vk_check(r, "vkEnumeratePhysicalDevices");
  all.resize(n);
  std::vector<VkPhysicalDevice> usable;
  for (VkPhysicalDevice pd : all) {
    VkPhysicalDeviceProperties p;
    api.vkGetPhysicalDeviceProperties(pd, &p);
    if (p.apiVersion >= VK_API_VERSION_1_1 && compute_queue_family(api, pd) >= 0)
      usable.push_back(pd);
  }
  return usable;
}

}  // namespace

VulkanDeviceImpl::~VulkanDeviceImpl() {
  if (device_ != VK_NULL_HANDLE) {
    api_.vkDeviceWaitIdle(device_);
    destroy_kernels(kernels_);
    destroy_kernels(copy_kernel_);
    for (auto& [addr, b] : live_) destroy_block(*b);
    for (auto& [size, b] : cache_) destroy_block(*b);
    destroy_block(staging_);
    for (VkDescriptorPool p : set_pools_) api_.vkDestroyDescriptorPool(device_, p, nullptr);
    if (query_pool_) api_.vkDestroyQueryPool(device_, query_pool_, nullptr);
    if (pipeline_cache_) api_.vkDestroyPipelineCache(device_, pipeline_cache_, nullptr);
    for (Part& p : parts_)
      if (p.fence) api_.vkDestroyFence(device_, p.fence, nullptr);
    if (cmd_pool_) api_.vkDestroyCommandPool(device_, cmd_pool_, nullptr);
    api_.vkDestroyDevice(device_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) api_.vkDestroyInstance(instance_, nullptr);
}

void VulkanDeviceImpl::init(int index) {
  api_ = VulkanApi::load();
  instance_ = create_instance(api_);
  if (instance_ == VK_NULL_HANDLE)
    throw Error(std::string("no Vulkan device found: the Vulkan loader found no driver; ") +
                kNoDriverHint);
  std::vector<VkPhysicalDevice> devices = usable_devices(api_, instance_);
  if (devices.empty())
    throw Error(std::string("no Vulkan device found: no device supports Vulkan 1.1 with a "
                            "compute queue; ") +
                kNoDriverHint);
  if (index < 0 || static_cast<size_t>(index) >= devices.size()) {
    std::string names;
    for (size_t i = 0; i < devices.size(); ++i)
      names += fmt::format("{}vulkan:{} {}", i ? ", " : "", i,
                           query_vulkan_device(api_, devices[i], static_cast<int>(i)).describe());
    throw Error(fmt::format("there is no Vulkan device {}: expected an index below {} ({})", index,
                            devices.size(), names));
  }
  index_ = index;
  phys_ = devices[index];
  api_.vkGetPhysicalDeviceProperties(phys_, &props_);
  // Every feature kernels may need that the device has is enabled: kernels are checked
  // against info_ when they load (vulkan_kernels.cc), not here.
  VulkanFeatureChain features;
  info_ = query_vulkan_device(api_, phys_, index, &features);
  api_.vkGetPhysicalDeviceMemoryProperties(phys_, &mem_props_);
  queue_family_ = static_cast<uint32_t>(compute_queue_family(api_, phys_));
  uint32_t family_count = 0;
  api_.vkGetPhysicalDeviceQueueFamilyProperties(phys_, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  api_.vkGetPhysicalDeviceQueueFamilyProperties(phys_, &family_count, families.data());
  // 0 where the queue cannot write timestamps: then begin_profile says so.
  timestamp_bits_ = families[queue_family_].timestampValidBits;

  float priority = 1.0f;
  VkDeviceQueueCreateInfo q{};
  q.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  q.queueFamilyIndex = queue_family_;
  q.queueCount = 1;
  q.pQueuePriorities = &priority;
  VkDeviceCreateInfo dinfo{};
  dinfo.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  dinfo.queueCreateInfoCount = 1;
  dinfo.pQueueCreateInfos = &q;
  dinfo.pNext = &features.core;
  dinfo.enabledExtensionCount = static_cast<uint32_t>(features.extensions.size());
  dinfo.ppEnabledExtensionNames = features.extensions.data();
  vk_check(api_.vkCreateDevice(phys_, &dinfo, nullptr, &device_), "vkCreateDevice");
  try {
    api_.load_device(device_);
  } catch (...) {
    // The destructor needs the whole table: destroy the device with what there is.
    auto destroy =
        reinterpret_cast<PFN_vkDestroyDevice>(api_.vkGetDeviceProcAddr(device_, "vkDestroyDevice"));
    if (destroy != nullptr) destroy(device_, nullptr);
    device_ = VK_NULL_HANDLE;
    throw;
  }
  api_.vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  VkCommandPoolCreateInfo pinfo{};
  pinfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
  pinfo.queueFamilyIndex = queue_family_;
  vk_check(api_.vkCreateCommandPool(device_, &pinfo, nullptr, &cmd_pool_), "vkCreateCommandPool");
  VkPipelineCacheCreateInfo pcinfo{};
  pcinfo.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
  vk_check(api_.vkCreatePipelineCache(device_, &pcinfo, nullptr, &pipeline_cache_),
           "vkCreatePipelineCache");

  // Staging: host-visible and coherent (no flushes); cached where offered, for readbacks.
  staging_ = create_buffer(
      kStagingBytes, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
      VK_MEMORY_PROPERTY_HOST_CACHED_BIT, "the staging buffer");
  vk_check(api_.vkMapMemory(device_, staging_.memory, 0, VK_WHOLE_SIZE, 0, &staging_map_),
           "vkMapMemory (staging buffer)");
  next_addr_ = kAddressBase;
}

std::string VulkanDeviceImpl::name() const {
  return fmt::format("vulkan:{} ({})", index_, props_.deviceName);
}

int VulkanDeviceImpl::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                                       VkMemoryPropertyFlags preferred) const {
  int fallback = -1;
  for (uint32_t i = 0; i < mem_props_.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    VkMemoryPropertyFlags f = mem_props_.memoryTypes[i].propertyFlags;
    if ((f & required) != required) continue;
    if ((f & preferred) == preferred) return static_cast<int>(i);
    if (fallback < 0) fallback = static_cast<int>(i);
  }
  return fallback;
}

VulkanDeviceImpl::Block VulkanDeviceImpl::create_buffer(uint64_t bytes,
                                                        VkMemoryPropertyFlags required,
                                                        VkMemoryPropertyFlags preferred,
                                                        const std::string& what) {
  Block b;
  b.size = bytes;
  VkBufferCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  info.size = bytes;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  vk_check(api_.vkCreateBuffer(device_, &info, nullptr, &b.buffer), "vkCreateBuffer for " + what);
  VkMemoryRequirements req;
  api_.vkGetBufferMemoryRequirements(device_, b.buffer, &req);
  int type = find_memory_type(req.memoryTypeBits, required, preferred);
  if (type < 0) {
    destroy_block(b);
    throw Error("vulkan device: " + name() + " has no memory type for " + what +
                "; expected one with the properties " + std::to_string(required));
  }
  VkMemoryAllocateInfo ainfo{};
  ainfo.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  ainfo.allocationSize = req.size;
  ainfo.memoryTypeIndex = static_cast<uint32_t>(type);
  VkResult r = api_.vkAllocateMemory(device_, &ainfo, nullptr, &b.memory);
  if (r == VK_SUCCESS) r = api_.vkBindBufferMemory(device_, b.buffer, b.memory, 0);
  if (r != VK_SUCCESS) {
    destroy_block(b);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      throw OutOfMemory(
          fmt::format("vulkan device: out of memory allocating {} bytes for {} on "
                      "{} ({} bytes in use, {} cached)",
                      bytes, what, name(), live_bytes_, cached_bytes_));
    vk_check(r, "allocating memory for " + what);
  }
  return b;
}

void VulkanDeviceImpl::destroy_block(Block& b) {
  if (b.buffer) api_.vkDestroyBuffer(device_, b.buffer, nullptr);
  if (b.memory) api_.vkFreeMemory(device_, b.memory, nullptr);
  b.buffer = VK_NULL_HANDLE;
  b.memory = VK_NULL_HANDLE;
}

void* VulkanDeviceImpl::alloc(size_t bytes) {
  uint64_t size = size_class(bytes);
  std::unique_ptr<Block> block;
  auto cached = cache_.find(size);
  if (cached != cache_.end()) {
    block = std::move(cached->second);
    cache_.erase(cached);
    cached_bytes_ -= size;
  } else {
    const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    try {
      block = std::make_unique<Block>(create_buffer(size, 0, local, "a device buffer"));
    } catch (const OutOfMemory&) {
      // Blocks of other size classes may be what stands in the way: give them back, retry.
      release_cache();
      block = std::make_unique<Block>(create_buffer(size, 0, local, "a device buffer"));
    }
    block->addr = next_addr_;
    next_addr_ += round_up(size, kAddressGap) + kAddressGap;
  }
  live_bytes_ += size;
  void* ptr = reinterpret_cast<void*>(block->addr);
  live_.emplace(block->addr, std::move(block));
  return ptr;
}

void VulkanDeviceImpl::free(void* ptr) {
  if (ptr == nullptr) return;
  auto it = live_.find(reinterpret_cast<uint64_t>(ptr));
  if (it == live_.end())
    throw Error(
        fmt::format("vulkan device: free({}) of a pointer alloc() did not return (or "
                    "freed already); expected the start of a live allocation",
                    ptr));
  // Work already recorded may still use the block; later work reusing it is ordered after
  // that work in the same queue, so it goes back to the cache at once.
  live_bytes_ -= it->second->size;
  cached_bytes_ += it->second->size;
  cache_.emplace(it->second->size, std::move(it->second));
  live_.erase(it);
}

void VulkanDeviceImpl::release_cache() {
  if (cache_.empty()) return;
  submit_and_wait();
  // Cached descriptor sets may name these VkBuffers, whose handles a new buffer may reuse.
  clear_set_cache();
  for (auto& [size, b] : cache_) destroy_block(*b);
  cache_.clear();
  cached_bytes_ = 0;
}

VulkanDeviceImpl::Span VulkanDeviceImpl::resolve(const void* ptr, uint64_t bytes,
                                                 const char* what) const {
  uint64_t p = reinterpret_cast<uint64_t>(ptr);
  auto it = live_.upper_bound(p);
  if (it != live_.begin()) {
    --it;
    const Block& b = *it->second;
    uint64_t offset = p - b.addr;
    if (offset < b.size || (offset == b.size && bytes == 0)) {
      if (bytes > b.size - offset)
        throw Error(
            fmt::format("vulkan device: {} of {} bytes at {} runs past the end of its "
                        "allocation ({} bytes from that pointer); expected a range "
                        "inside one allocation",
                        what, bytes, ptr, b.size - offset));
      return {&b, offset};
    }
  }
  throw Error(
      fmt::format("vulkan device: {}: {} is not inside a live allocation of {}; "
                  "expected a pointer from its alloc() or an offset into one",
                  what, ptr, name()));
}

void VulkanDeviceImpl::begin_command() {
  if (!recording_) {
    recording_ = true;
    commands_ = 0;
    part_ = 0;
    flush_at_ = kFirstPartCommands;
  }
  if (cmd_ == VK_NULL_HANDLE) {
    if (part_ == parts_.size()) {
      Part p;
      VkCommandBufferAllocateInfo cinfo{};
      cinfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
      cinfo.commandPool = cmd_pool_;
      cinfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      cinfo.commandBufferCount = 1;
      vk_check(api_.vkAllocateCommandBuffers(device_, &cinfo, &p.cmd), "vkAllocateCommandBuffers");
      VkFenceCreateInfo finfo{};
      finfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
      vk_check(api_.vkCreateFence(device_, &finfo, nullptr, &p.fence), "vkCreateFence");
      parts_.push_back(p);
    }
    cmd_ = parts_[part_].cmd;
    VkCommandBufferBeginInfo info{};
    info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(api_.vkBeginCommandBuffer(cmd_, &info), "vkBeginCommandBuffer");
    part_commands_ = 0;
  }
  if (commands_ > 0) {
    // Every command may read what the one before wrote: one global barrier between them
    // covers kernels, copies and fills alike, also across parts (submission order).
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    VkPipelineStageFlags stages =
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    api_.vkCmdPipelineBarrier(cmd_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
  }
  ++commands_;
  ++part_commands_;
}

void VulkanDeviceImpl::submit_part(VkFence fence) {
  vk_check(api_.vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  VkSubmitInfo submit{};
  submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &cmd_;
  vk_check(api_.vkQueueSubmit(queue_, 1, &submit, fence), "vkQueueSubmit");
  cmd_ = VK_NULL_HANDLE;
  ++part_;
}

void VulkanDeviceImpl::flush_part() {
  if (cmd_ == VK_NULL_HANDLE || part_commands_ < flush_at_) return;
  submit_part(parts_[part_].fence);
  // Small parts first get the GPU going; larger ones later keep submits few.
  flush_at_ = std::min(flush_at_ * 2, kMaxPartCommands);
}

void VulkanDeviceImpl::submit_and_wait() {
  if (!recording_) return;
  recording_ = false;
  if (cmd_ != VK_NULL_HANDLE) {
    // Make the batch's writes (copies into staging above all) visible to the host.
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    api_.vkCmdPipelineBarrier(cmd_,
                              VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                              VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    submit_part(parts_[part_].fence);
  }
  std::vector<VkFence> fences;
  for (size_t i = 0; i < part_; ++i) fences.push_back(parts_[i].fence);
  vk_check(api_.vkWaitForFences(device_, static_cast<uint32_t>(fences.size()), fences.data(),
                                VK_TRUE, UINT64_MAX),
           "waiting for the batch of " + std::to_string(commands_) + " commands");
  vk_check(api_.vkResetFences(device_, static_cast<uint32_t>(fences.size()), fences.data()),
           "vkResetFences");
  vk_check(api_.vkResetCommandPool(device_, cmd_pool_, 0), "vkResetCommandPool");
  if (!timed_kernels_.empty()) collect_timestamps();
  staging_used_ = 0;
  commands_ = 0;
  part_ = 0;
}

void VulkanDeviceImpl::copy_to_device(void* dst, const void* src, size_t bytes) {
  Span d = resolve(dst, bytes, "copy_to_device destination");
  const auto* from = static_cast<const uint8_t*>(src);
  uint64_t done = 0;
  while (done < bytes) {
    uint64_t want = std::min<uint64_t>(bytes - done, kStagingBytes);
    if (kStagingBytes - staging_used_ < want) submit_and_wait();
    uint64_t chunk = std::min<uint64_t>(bytes - done, kStagingBytes - staging_used_);
    std::memcpy(static_cast<uint8_t*>(staging_map_) + staging_used_, from + done, chunk);
    begin_command();
    VkBufferCopy region{staging_used_, d.offset + done, chunk};
    api_.vkCmdCopyBuffer(cmd_, staging_.buffer, d.block->buffer, 1, &region);
    // Keep later staging copies 16-byte aligned, which some drivers copy faster.
    staging_used_ = std::min(kStagingBytes, round_up(staging_used_ + chunk, 16));
    done += chunk;
  }
}

void VulkanDeviceImpl::copy_to_host(void* dst, const void* src, size_t bytes) {
  Span s = resolve(src, bytes, "copy_to_host source");
  auto* to = static_cast<uint8_t*>(dst);
  uint64_t done = 0;
  while (done < bytes) {
    uint64_t want = std::min<uint64_t>(bytes - done, kStagingBytes);
    if (kStagingBytes - staging_used_ < want) submit_and_wait();
    uint64_t at = staging_used_;
    uint64_t chunk = std::min<uint64_t>(bytes - done, kStagingBytes - at);
    begin_command();
    VkBufferCopy region{s.offset + done, at, chunk};
    api_.vkCmdCopyBuffer(cmd_, s.block->buffer, staging_.buffer, 1, &region);
    submit_and_wait();
    std::memcpy(to + done, static_cast<const uint8_t*>(staging_map_) + at, chunk);
    done += chunk;
  }
  if (bytes == 0) submit_and_wait();  // still a synchronization point
}

void VulkanDeviceImpl::copy_device_to_device(void* dst, const void* src, size_t bytes) {
  Span d = resolve(dst, bytes, "copy_device_to_device destination");
  Span s = resolve(src, bytes, "copy_device_to_device source");
  if (bytes == 0) return;
  if (d.block == s.block && d.offset < s.offset + bytes && s.offset < d.offset + bytes)
    throw Error(
        fmt::format("vulkan device: copy_device_to_device of {} bytes from {} to {}: the "
                    "ranges overlap; expected disjoint ranges",
                    bytes, src, dst));
  // A shader where the copy allows it (vulkan_copy.cc says why), else the copy command.
  if (copy_by_shader(d, s, bytes)) return;
  begin_command();
  VkBufferCopy region{s.offset, d.offset, bytes};
  api_.vkCmdCopyBuffer(cmd_, s.block->buffer, d.block->buffer, 1, &region);
}

void VulkanDeviceImpl::memset(void* dst, uint8_t value, size_t bytes) {
  Span d = resolve(dst, bytes, "memset destination");
  // vkCmdFillBuffer writes whole aligned words; the odd bytes at either end go by copy.
  uint64_t begin = d.offset, end = d.offset + bytes;
  uint64_t mid_begin = std::min(end, round_up(begin, 4));
  uint64_t mid_end = std::max(mid_begin, end / 4 * 4);
  uint8_t edge[4];
  std::memset(edge, value, sizeof(edge));
  auto* base = static_cast<uint8_t*>(dst) - d.offset;
  if (mid_begin > begin) copy_to_device(base + begin, edge, mid_begin - begin);
  if (mid_end > mid_begin) {
    begin_command();
    api_.vkCmdFillBuffer(cmd_, d.block->buffer, mid_begin, mid_end - mid_begin,
                         uint32_t{value} * 0x01010101u);
  }
  if (end > mid_end) copy_to_device(base + mid_end, edge, end - mid_end);
}

void VulkanDeviceImpl::synchronize() { submit_and_wait(); }

std::unique_ptr<VulkanDevice> open_vulkan_device(int index) {
  auto dev = std::make_unique<VulkanDeviceImpl>();
  dev->init(index);
  return dev;
}

std::unique_ptr<Device> make_vulkan_device(int index) {
  try {
    return open_vulkan_device(index);
  } catch (const Error& e) {
    throw Error("cannot open device vulkan:" + std::to_string(index) + ": " + e.what());
  }
}

std::vector<VulkanDeviceInfo> query_vulkan_devices() {
  VulkanApi api = VulkanApi::load();
  VkInstance instance = create_instance(api);
  if (instance == VK_NULL_HANDLE) return {};
  std::vector<VulkanDeviceInfo> infos;
  try {
    std::vector<VkPhysicalDevice> devices = usable_devices(api, instance);
    for (size_t i = 0; i < devices.size(); ++i)
      infos.push_back(query_vulkan_device(api, devices[i], static_cast<int>(i)));
  } catch (...) {
    api.vkDestroyInstance(instance, nullptr);
    throw;
  }
  api.vkDestroyInstance(instance, nullptr);
  return infos;
}

std::vector<std::string> list_vulkan_devices() {
  std::vector<std::string> names;
  for (const VulkanDeviceInfo& d : query_vulkan_devices()) names.push_back(d.describe());
  return names;
}

}  // namespace mlcc
