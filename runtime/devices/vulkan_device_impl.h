// Internal to the Vulkan device: the class behind open_vulkan_device, shared by
// vulkan_device.cc (instance, memory, copies, batches), vulkan_kernels.cc (requirement
// checks, pipelines, descriptors, dispatches), vulkan_copy.cc (device-to-device copies by
// a compute shader), vulkan_profile.cc (timestamps per launch) and vulkan_features.cc
// (what a device offers). Not for other code: use
// runtime/devices/vulkan_device.h.
#pragma once

#include <bit>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/devices/vulkan_api.h"
#include "runtime/devices/vulkan_device.h"
#include "runtime/error.h"

namespace mlcc {

// The feature structs of one physical device, chained for vkGetPhysicalDeviceFeatures2 and
// then passed to vkCreateDevice: after query_vulkan_device they hold what to enable (what
// the device supports of what kernels may need), with the extensions a Vulkan 1.1 device
// needs for them. Not copyable: the structs point at each other.
struct VulkanFeatureChain {
  VkPhysicalDeviceFeatures2 core{};
  VkPhysicalDevice16BitStorageFeatures storage16{};
  VkPhysicalDeviceShaderFloat16Int8Features float16_int8{};  // Vulkan 1.2 or the extension
  VkPhysicalDevice8BitStorageFeatures storage8{};            // Vulkan 1.2 or the extension
  std::vector<const char*> extensions;

  VulkanFeatureChain() = default;
  VulkanFeatureChain(const VulkanFeatureChain&) = delete;
  VulkanFeatureChain& operator=(const VulkanFeatureChain&) = delete;
};

// Everything mlcc needs to know of physical device `pd` (vulkan:`index`); fills `chain`
// with what to enable when it is given.
VulkanDeviceInfo query_vulkan_device(const VulkanApi& api, VkPhysicalDevice pd, int index,
                                     VulkanFeatureChain* chain = nullptr);

// A SPIR-V capability a kernel may declare: its OpCapability number and name, what the
// device must have for it (for messages), and the target option that compiles kernels
// without it (nullptr where there is none).
struct VulkanCapability {
  uint32_t id;
  const char* name;
  const char* needs;
  bool (*supported)(const VulkanDeviceInfo&);
  const char* fix;
};
// nullptr for a capability the runtime does not know (and so cannot enable).
const VulkanCapability* find_vulkan_capability(uint32_t id);
// "Shader, Float16, ..." for messages.
std::string known_vulkan_capabilities();

// The Vulkan version mlcc asks the instance for: the newest whose features it may use.
inline constexpr uint32_t kVulkanApiVersion = VK_API_VERSION_1_3;

class VulkanDeviceImpl final : public VulkanDevice {
 public:
  VulkanDeviceImpl() = default;
  ~VulkanDeviceImpl() override;
  // Opens the index-th usable device; the destructor cleans up after a throw halfway.
  void init(int index);

  std::string name() const override;
  std::string kind() const override { return "vulkan"; }
  void* alloc(size_t bytes) override;
  void free(void* ptr) override;
  void copy_to_device(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void copy_device_to_device(void* dst, const void* src, size_t bytes) override;
  void memset(void* dst, uint8_t value, size_t bytes) override;
  void synchronize() override;
  void load_kernels(const Library& lib) override;
  void launch(size_t kernel, std::span<void* const> buffers,
              std::span<const int64_t> scalars) override;
  void load_spirv_kernels(const std::vector<VulkanKernelSource>& kernels) override;
  bool begin_profile() override;
  std::vector<KernelTiming> end_profile() override;
  uint64_t storage_offset_alignment() const override {
    return props_.limits.minStorageBufferOffsetAlignment;
  }
  uint64_t cached_bytes() const override { return cached_bytes_; }
  const VulkanDeviceInfo& info() const override { return info_; }

 private:
  // A batch is submitted once it holds this many commands, bounding what one submit holds
  // (and the timestamp queries of its launches).
  static constexpr uint64_t kMaxBatchCommands = 4096;

  // A VkBuffer with its own memory; addr is the start of its fake address range.
  struct Block {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint64_t size = 0;
    uint64_t addr = 0;
  };
  // A device pointer resolved: its block and the byte offset into it.
  struct Span {
    const Block* block;
    uint64_t offset;
  };
  struct Kernel {
    KernelInfo info;
    VkShaderModule module = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
  };
  // Thrown by create_buffer when the driver is out of memory, so alloc() can retry.
  struct OutOfMemory : Error {
    using Error::Error;
  };

  int find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                       VkMemoryPropertyFlags preferred) const;
  Block create_buffer(uint64_t bytes, VkMemoryPropertyFlags required,
                      VkMemoryPropertyFlags preferred, const std::string& what);
  void destroy_block(Block& b);
  void release_cache();
  // Maps a device pointer (maybe inside an allocation) to its block; throws naming `what`
  // unless [ptr, ptr + bytes) lies inside one live allocation.
  Span resolve(const void* ptr, uint64_t bytes, const char* what) const;

  // Starts the batch's command buffer if needed and puts a barrier after the previous
  // command; call before recording each command.
  void begin_command();
  // Submits the batch (if any), waits for it, recycles its staging and command buffers, and
  // reads its timestamps when profiling.
  void submit_and_wait();

  // load_spirv_kernels for kernels compiled for `target` (the library's, or "vulkan"), which
  // error messages change to say what to recompile with.
  void load_sources(const std::vector<VulkanKernelSource>& sources, const std::string& target);
  // Throws unless the device has what the kernel needs: its subgroup size, SPIR-V version and
  // capabilities, workgroup memory and size, push constants and bindings.
  void check_requirements(const VulkanKernelSource& src, const std::string& target) const;
  // The pipeline of a kernel check_requirements accepted.
  Kernel create_kernel(const VulkanKernelSource& src);
  void destroy_kernels(std::vector<Kernel>& kernels);

  // Records the copy of `bytes` from s to d with the copy shader (vulkan_copy.cc), making
  // its pipeline at the first use; false (recording nothing) where the shader cannot do it:
  // an offset or the size not a multiple of 16 bytes, or workgroups smaller than its own.
  bool copy_by_shader(const Span& d, const Span& s, uint64_t bytes);

  // Descriptor sets are cached by (kernel, each buffer's VkBuffer, offset and range): a
  // decode step launches the same kernels on the same buffers every token, so after the
  // first token no launch allocates or writes a set. Cached sets live in pools of their own
  // that batches do not reset, and stay valid while the VkBuffers they name exist (a freed
  // block keeps its VkBuffer in the allocator's cache) and the kernels stay loaded.
  // The set of a launch with buffer_infos_ of the kernel keyed `id` (its index, or
  // kCopySetKey for the copy shader), of layout `layout`: the cached one, else a new one.
  VkDescriptorSet descriptor_set(uint64_t id, VkDescriptorSetLayout layout);
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
  // Waits for the GPU, then forgets every cached set: called before a VkBuffer they may
  // name is destroyed, when kernels are replaced, and when the cache is full.
  void clear_set_cache();
  // The copy shader's sets are cached too, under an id no kernel index reaches.
  static constexpr uint64_t kCopySetKey = ~uint64_t{0};
  struct SetKeyHash {
    size_t operator()(const std::vector<uint64_t>& key) const;
  };

  // Profiling (vulkan_profile.cc): while profiling_, each launch writes a timestamp before
  // its dispatch (after the barrier, so once the commands before it are done) and one after.
  // Before the dispatch; resets the query pool at the batch's first timed launch.
  void write_start_timestamp(size_t kernel);
  void write_end_timestamp();
  // After the batch's fences: adds its launches' times to the totals.
  void collect_timestamps();

  VulkanApi api_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice phys_ = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties props_{};
  VulkanDeviceInfo info_;
  VkPhysicalDeviceMemoryProperties mem_props_{};
  int index_ = 0;
  uint32_t queue_family_ = 0;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
  VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;

  // A batch goes to the GPU in parts: a part is submitted (without waiting) once it holds
  // flush_at_ commands, so that the GPU starts on a forward pass while the rest is being
  // recorded; submit_and_wait submits the last part and waits for all. parts_[part_] is
  // the one recording (cmd_), each with the fence of its submission.
  struct Part {
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
  };
  void flush_part();
  void submit_part(VkFence fence);
  std::vector<Part> parts_;
  size_t part_ = 0;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  uint64_t part_commands_ = 0, flush_at_ = 0;

  // The batch being recorded: commands so far and staging bytes its uploads use.
  bool recording_ = false;
  uint64_t commands_ = 0;
  Block staging_;
  void* staging_map_ = nullptr;
  uint64_t staging_used_ = 0;

  // The descriptor set cache: set_pools_[set_pool_next_] is the pool allocated from;
  // set_key_ is the key of the current launch, reused so that a hit allocates nothing.
  std::unordered_map<std::vector<uint64_t>, VkDescriptorSet, SetKeyHash> set_cache_;
  std::vector<uint64_t> set_key_;
  std::vector<VkDescriptorPool> set_pools_;
  size_t set_pool_next_ = 0;

  // Profiling: the queue's timestampValidBits (0: it cannot time), the query pool (two
  // queries per launch of a batch, made at the first begin_profile), the kernel of each
  // timed launch of the batch, and the totals per kernel index.
  bool profiling_ = false;
  uint32_t timestamp_bits_ = 0;
  VkQueryPool query_pool_ = VK_NULL_HANDLE;
  std::vector<size_t> timed_kernels_;
  std::vector<uint64_t> timestamps_;
  std::vector<int64_t> profile_launches_;
  std::vector<double> profile_seconds_;

  // Live allocations by start address; freed ones by size class, for reuse.
  std::map<uint64_t, std::unique_ptr<Block>> live_;
  std::multimap<uint64_t, std::unique_ptr<Block>> cache_;
  uint64_t next_addr_ = 0, live_bytes_ = 0, cached_bytes_ = 0;

  std::vector<Kernel> kernels_;
  // The copy shader's pipeline: empty until the first copy that uses it, then one.
  std::vector<Kernel> copy_kernel_;
  // Reused per launch.
  std::vector<VkDescriptorBufferInfo> buffer_infos_;
  std::vector<VkWriteDescriptorSet> writes_;
  std::vector<int32_t> push_;
};

}  // namespace mlcc
