// Kernels of the Vulkan device: SPIR-V modules checked and turned into compute pipelines
// (through one pipeline cache), and launches recorded into the current batch with their
// descriptor set (from the set cache), push constants and dispatch
// (runtime/devices/vulkan_device.h has the ABI).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <sstream>

#include "runtime/devices/vulkan_device_impl.h"
#include "runtime/library.h"

namespace mlcc {
namespace {

constexpr uint32_t kSpirvMagic = 0x07230203;
constexpr uint32_t kOpCapability = 17;
constexpr uint32_t kOpEntryPoint = 15;
constexpr uint32_t kExecutionModelGLCompute = 5;
constexpr uint32_t kOpExecutionMode = 16;
constexpr uint32_t kExecutionModeLocalSize = 17;
constexpr uint32_t kPoolSets = 1024, kPoolBuffersPerSet = 8;
// Cached descriptor sets at most: a decode step of Llama-2-7B needs a few hundred; the
// bound keeps pools from growing without end where views change from launch to launch.
constexpr size_t kMaxCachedSets = 8192;

// What a module asks of the device: its SPIR-V version, capabilities and workgroup size.
struct SpirvModuleInfo {
  uint32_t version = 0;  // 0x00010300 for SPIR-V 1.3
  std::vector<uint32_t> capabilities;
  std::array<uint32_t, 3> local_size = {0, 0, 0};  // {0, 0, 0} when given otherwise (LocalSizeId)
};

std::string spirv_version_name(uint32_t v) {
  return fmt::format("{}.{}", (v >> 16) & 0xff, (v >> 8) & 0xff);
}

// Throws unless `words` is a SPIR-V module with a GLCompute entry point "main": checked here
// because drivers without validation layers may crash on malformed modules.
SpirvModuleInfo check_spirv(const std::vector<uint32_t>& words, const std::string& kernel) {
  auto fail = [&](const std::string& why) {
    throw Error("vulkan device: kernel '" + kernel + "' is not usable SPIR-V: " + why);
  };
  if (words.size() < 5 || words[0] != kSpirvMagic)
    fail(
        fmt::format("{} words starting with {:#010x}; expected a module starting with the "
                    "magic number 0x07230203",
                    words.size(), words.empty() ? 0u : words[0]));
  SpirvModuleInfo info;
  info.version = words[1];
  // Entry points come before execution modes, so one pass finds both.
  bool found = false;
  uint32_t entry_id = 0;
  for (size_t i = 5; i < words.size();) {
    uint32_t count = words[i] >> 16, opcode = words[i] & 0xffff;
    if (count == 0 || i + count > words.size())
      fail(fmt::format("instruction at word {} has word count {}, past the module's {} words", i,
                       count, words.size()));
    if (opcode == kOpCapability && count == 2) info.capabilities.push_back(words[i + 1]);
    if (opcode == kOpEntryPoint && count >= 4 && words[i + 1] == kExecutionModelGLCompute &&
        !found) {
      const char* name = reinterpret_cast<const char*>(&words[i + 3]);
      size_t max_len = (count - 3) * 4;
      if (strnlen(name, max_len) < max_len && std::strcmp(name, "main") == 0) {
        found = true;
        entry_id = words[i + 2];
      }
    }
    if (opcode == kOpExecutionMode && count == 6 && found && words[i + 1] == entry_id &&
        words[i + 2] == kExecutionModeLocalSize)
      info.local_size = {words[i + 3], words[i + 4], words[i + 5]};
    i += count;
  }
  if (!found)
    fail("it has no OpEntryPoint GLCompute \"main\"; expected the compute entry point \"main\"");
  return info;
}

// `target` with `option` ("-f16=0") in place of its own value of that key, or added: the
// --target to recompile with, keeping the rest of what the kernels were compiled for.
std::string with_option(const std::string& target, const std::string& option) {
  std::string key = option.substr(0, option.find('=') + 1);
  std::istringstream in(target.empty() ? "vulkan" : target);
  std::string out, tok;
  bool replaced = false;
  while (in >> tok) {
    if (tok.rfind(key, 0) == 0) {
      tok = option;
      replaced = true;
    }
    out += (out.empty() ? "" : " ") + tok;
  }
  return replaced ? out : out + " " + option;
}

}  // namespace

void VulkanDeviceImpl::load_kernels(const Library& lib) {
  check_library_runs_on(lib, *this);
  const Manifest& m = lib.manifest();
  // Shuffles assume subgroups of at least the compiled size: with fewer lanes they would
  // read lanes of another subgroup and give wrong results without any error.
  if (m.vulkan.subgroup_size > int64_t{info_.subgroup_size})
    throw Error(fmt::format(
        "library '{}' was compiled for subgroups of {} lanes (target \"{}\"); {} has subgroups "
        "of {} lanes: recompile with --target \"{}\"",
        lib.path(), m.vulkan.subgroup_size, m.target, name(), info_.subgroup_size,
        with_option(m.target, "-subgroup=" + std::to_string(info_.subgroup_size))));
  const auto& modules = lib.spirv();
  if (modules.size() != m.kernels.size())
    throw Error(
        fmt::format("library '{}' has {} SPIR-V modules in mlcc_library_spirv for {} "
                    "manifest kernels; expected one per kernel",
                    lib.path(), modules.size(), m.kernels.size()));
  std::vector<VulkanKernelSource> sources(m.kernels.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    sources[i].info = m.kernels[i];
    sources[i].spirv.assign(modules[i].begin(), modules[i].end());
    sources[i].subgroup_size = static_cast<uint32_t>(m.vulkan.subgroup_size);
  }
  try {
    load_sources(sources, m.target);
  } catch (const Error& e) {
    throw Error("library '" + lib.path() + "': " + e.what());
  }
}

void VulkanDeviceImpl::load_spirv_kernels(const std::vector<VulkanKernelSource>& sources) {
  load_sources(sources, "vulkan");
}

void VulkanDeviceImpl::load_sources(const std::vector<VulkanKernelSource>& sources,
                                    const std::string& target) {
  // Everything is checked before the first pipeline is made: a refusal costs no compiles.
  for (const VulkanKernelSource& src : sources) check_requirements(src, target);
  // Recorded launches name the old pipelines: run them before those go.
  submit_and_wait();
  std::vector<Kernel> loaded;
  try {
    for (const VulkanKernelSource& src : sources) loaded.push_back(create_kernel(src));
  } catch (...) {
    destroy_kernels(loaded);
    throw;
  }
  // Cached sets were made with the old kernels' set layouts, and their indices change.
  clear_set_cache();
  destroy_kernels(kernels_);
  kernels_ = std::move(loaded);
}

void VulkanDeviceImpl::check_requirements(const VulkanKernelSource& src,
                                          const std::string& target) const {
  const KernelInfo& k = src.info;
  SpirvModuleInfo mod = check_spirv(src.spirv, k.name);
  if (src.subgroup_size > info_.subgroup_size)
    throw Error(fmt::format(
        "vulkan device: kernel '{}' was compiled for subgroups of {} lanes; {} has subgroups of "
        "{} lanes: recompile it with --target \"{}\"",
        k.name, src.subgroup_size, name(), info_.subgroup_size,
        with_option(target, "-subgroup=" + std::to_string(info_.subgroup_size))));
  if (mod.version > info_.max_spirv_version)
    throw Error(fmt::format(
        "vulkan device: kernel '{}' is SPIR-V {}; {} reads SPIR-V up to {} (Vulkan {}.{}): "
        "compile it for SPIR-V {} or older, or run it on a device with a newer Vulkan",
        k.name, spirv_version_name(mod.version), name(),
        spirv_version_name(info_.max_spirv_version), VK_API_VERSION_MAJOR(info_.api_version),
        VK_API_VERSION_MINOR(info_.api_version), spirv_version_name(info_.max_spirv_version)));
  // A driver may crash, or fail without saying why, on a module using what it lacks.
  for (uint32_t id : mod.capabilities) {
    const VulkanCapability* cap = find_vulkan_capability(id);
    if (cap == nullptr)
      throw Error(fmt::format(
          "vulkan device: kernel '{}' declares SPIR-V capability {}, which this runtime does "
          "not know how to enable on Vulkan; expected only {}",
          k.name, id, known_vulkan_capabilities()));
    if (cap->supported(info_)) continue;
    std::string remedy =
        cap->fix != nullptr
            ? fmt::format("recompile with --target \"{}\"", with_option(target, cap->fix))
            : "no target option avoids it: run it on a device that has it (`mlcc devices` "
              "lists what each device supports)";
    throw Error(fmt::format(
        "vulkan device: kernel '{}' declares SPIR-V capability {}, which needs {}; {} does not "
        "support it: {}",
        k.name, cap->name, cap->needs, name(), remedy));
  }
  const VkPhysicalDeviceLimits& lim = props_.limits;
  if (k.shared_bytes > lim.maxComputeSharedMemorySize)
    throw Error(fmt::format(
        "vulkan device: kernel '{}' uses {} bytes of workgroup memory (manifest "
        "\"shared_bytes\"); {} allows at most {} bytes per workgroup "
        "(maxComputeSharedMemorySize): recompile with --target \"{}\"",
        k.name, k.shared_bytes, name(), lim.maxComputeSharedMemorySize,
        with_option(target, "-shared-memory=" + std::to_string(lim.maxComputeSharedMemorySize))));
  // Drivers need not check the workgroup size against their limits (lavapipe does not).
  const std::array<uint32_t, 3>& local = mod.local_size;
  uint64_t invocations = uint64_t{local[0]} * local[1] * local[2];
  for (int a = 0; a < 3; ++a)
    if (local[a] > lim.maxComputeWorkGroupSize[a] ||
        invocations > lim.maxComputeWorkGroupInvocations)
      throw Error(fmt::format(
          "vulkan device: kernel '{}' has workgroup size ({}, {}, {}); {} allows at most "
          "({}, {}, {}) and {} invocations per workgroup; compile the model for this device's "
          "limits (--target \"{}\")",
          k.name, local[0], local[1], local[2], name(), lim.maxComputeWorkGroupSize[0],
          lim.maxComputeWorkGroupSize[1], lim.maxComputeWorkGroupSize[2],
          lim.maxComputeWorkGroupInvocations,
          with_option(target, "-max-threads=" + std::to_string(std::min<uint32_t>(
                                                    lim.maxComputeWorkGroupInvocations, 1024)))));
  uint32_t push_bytes = 4 * static_cast<uint32_t>(k.num_scalars);
  if (push_bytes > lim.maxPushConstantsSize)
    throw Error(
        fmt::format("vulkan device: kernel '{}' has {} scalar parameters ({} bytes of "
                    "push constants); {} takes at most {} bytes",
                    k.name, k.num_scalars, push_bytes, name(), lim.maxPushConstantsSize));
  if (static_cast<uint32_t>(k.num_buffers) > lim.maxPerStageDescriptorStorageBuffers)
    throw Error(
        fmt::format("vulkan device: kernel '{}' has {} buffer parameters; {} binds at "
                    "most {} storage buffers per kernel",
                    k.name, k.num_buffers, name(), lim.maxPerStageDescriptorStorageBuffers));
}

VulkanDeviceImpl::Kernel VulkanDeviceImpl::create_kernel(const VulkanKernelSource& src) {
  const KernelInfo& k = src.info;
  uint32_t push_bytes = 4 * static_cast<uint32_t>(k.num_scalars);
  Kernel out;
  out.info = k;
  std::vector<Kernel> guard;  // destroys what was made if a later step throws
  try {
    VkShaderModuleCreateInfo minfo{};
    minfo.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
    minfo.codeSize = src.spirv.size() * 4;
    minfo.pCode = src.spirv.data();
    vk_check(api_.vkCreateShaderModule(device_, &minfo, nullptr, &out.module),
             "vkCreateShaderModule for kernel '" + k.name + "'");

    std::vector<VkDescriptorSetLayoutBinding> bindings(k.num_buffers);
    for (int i = 0; i < k.num_buffers; ++i) {
      bindings[i] = {};
      bindings[i].binding = static_cast<uint32_t>(i);
      bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      bindings[i].descriptorCount = 1;
      bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dinfo{};
    dinfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
    dinfo.bindingCount = static_cast<uint32_t>(bindings.size());
    dinfo.pBindings = bindings.data();
    vk_check(api_.vkCreateDescriptorSetLayout(device_, &dinfo, nullptr, &out.set_layout),
             "vkCreateDescriptorSetLayout for kernel '" + k.name + "'");

    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
    VkPipelineLayoutCreateInfo linfo{};
    linfo.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
    linfo.setLayoutCount = 1;
    linfo.pSetLayouts = &out.set_layout;
    linfo.pushConstantRangeCount = push_bytes > 0 ? 1 : 0;
    linfo.pPushConstantRanges = &range;
    vk_check(api_.vkCreatePipelineLayout(device_, &linfo, nullptr, &out.layout),
             "vkCreatePipelineLayout for kernel '" + k.name + "'");

    VkComputePipelineCreateInfo pinfo{};

    pinfo.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
    pinfo.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pinfo.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pinfo.stage.module = out.module;
    pinfo.stage.pName = "main";
    pinfo.layout = out.layout;
    VkResult r =
        api_.vkCreateComputePipelines(device_, pipeline_cache_, 1, &pinfo, nullptr, &out.pipeline);
    if (r != VK_SUCCESS)
      throw Error(
          fmt::format("vulkan device: {} rejected the SPIR-V of kernel '{}' "
                      "(vkCreateComputePipelines failed with {}); expected a valid "
                      "Vulkan 1.1 compute shader",
                      name(), k.name, vk_result_name(r)));
  } catch (...) {
    guard.push_back(out);
    destroy_kernels(guard);
    throw;
  }
  return out;
}

void VulkanDeviceImpl::destroy_kernels(std::vector<Kernel>& kernels) {
  for (Kernel& k : kernels) {
    if (k.pipeline) api_.vkDestroyPipeline(device_, k.pipeline, nullptr);
    if (k.layout) api_.vkDestroyPipelineLayout(device_, k.layout, nullptr);
    if (k.set_layout) api_.vkDestroyDescriptorSetLayout(device_, k.set_layout, nullptr);
    if (k.module) api_.vkDestroyShaderModule(device_, k.module, nullptr);
  }
  kernels.clear();
}

size_t VulkanDeviceImpl::SetKeyHash::operator()(const std::vector<uint64_t>& key) const {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t v : key) h = (h ^ v) * 0x100000001b3ull + (h >> 29);
  return static_cast<size_t>(h);
}

void VulkanDeviceImpl::clear_set_cache() {
  if (set_cache_.empty()) return;
  // Submitted commands may still bind the sets: they must finish first.
  submit_and_wait();
  for (VkDescriptorPool p : set_pools_)
    vk_check(api_.vkResetDescriptorPool(device_, p, 0), "vkResetDescriptorPool");
  set_pool_next_ = 0;
  set_cache_.clear();
}

VkDescriptorSet VulkanDeviceImpl::descriptor_set(uint64_t id, VkDescriptorSetLayout layout) {
  set_key_.clear();
  set_key_.push_back(id);
  for (const VkDescriptorBufferInfo& b : buffer_infos_) {
    set_key_.push_back(reinterpret_cast<uint64_t>(b.buffer));
    set_key_.push_back(b.offset);
    set_key_.push_back(b.range);
  }
  auto hit = set_cache_.find(set_key_);
  if (hit != set_cache_.end()) return hit->second;
  if (set_cache_.size() >= kMaxCachedSets) clear_set_cache();
  VkDescriptorSet set = allocate_set(layout);
  writes_.assign(buffer_infos_.size(), {});
  for (size_t i = 0; i < buffer_infos_.size(); ++i) {
    VkWriteDescriptorSet& w = writes_[i];
    w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    w.dstSet = set;
    w.dstBinding = static_cast<uint32_t>(i);
    w.descriptorCount = 1;
    w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    w.pBufferInfo = &buffer_infos_[i];
  }
  api_.vkUpdateDescriptorSets(device_, static_cast<uint32_t>(writes_.size()), writes_.data(), 0,
                              nullptr);
  set_cache_.emplace(set_key_, set);
  return set;
}

VkDescriptorSet VulkanDeviceImpl::allocate_set(VkDescriptorSetLayout layout) {
  for (;;) {
    const bool fresh = set_pool_next_ == set_pools_.size();
    if (fresh) {
      VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kPoolSets * kPoolBuffersPerSet};
      VkDescriptorPoolCreateInfo info{};
      info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
      info.maxSets = kPoolSets;
      info.poolSizeCount = 1;
      info.pPoolSizes = &size;
      VkDescriptorPool pool = VK_NULL_HANDLE;
      vk_check(api_.vkCreateDescriptorPool(device_, &info, nullptr, &pool),
               "vkCreateDescriptorPool");
      set_pools_.push_back(pool);
    }
    VkDescriptorSetAllocateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
    info.descriptorPool = set_pools_[set_pool_next_];
    info.descriptorSetCount = 1;
    info.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    VkResult r = api_.vkAllocateDescriptorSets(device_, &info, &set);
    if (r == VK_SUCCESS) return set;
    // An empty pool that cannot hold the set never will: fail rather than make pools forever.
    if (fresh || (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL))
      vk_check(r, "vkAllocateDescriptorSets");
    ++set_pool_next_;  // this pool is full until the cache is cleared: on to the next
  }
}

void VulkanDeviceImpl::launch(size_t kernel, std::span<void* const> buffers,
                              std::span<const int64_t> scalars) {
  MLCC_CHECK(kernel < kernels_.size(), "vulkan device: kernel index out of range");
  const Kernel& k = kernels_[kernel];
  const KernelInfo& info = k.info;
  MLCC_CHECK(buffers.size() == static_cast<size_t>(info.num_buffers) &&
                 scalars.size() == static_cast<size_t>(info.num_scalars),
             "vulkan device: argument counts differ from kernel '" + info.name + "'");
  uint32_t grid[3];
  for (int a = 0; a < 3; ++a) {
    int64_t g = info.grid[a].eval(scalars);
    int64_t max = props_.limits.maxComputeWorkGroupCount[a];
    if (g < 1 || g > max)
      throw Error(
          fmt::format("vulkan device: kernel '{}' gets grid[{}] = {} = {} for scalars "
                      "({}); expected a workgroup count in [1, {}] on {}",
                      info.name, a, info.grid[a].str(), g, fmt::join(scalars, ", "), max, name()));
    grid[a] = static_cast<uint32_t>(g);
  }
  push_.resize(scalars.size());
  for (size_t s = 0; s < scalars.size(); ++s) {
    // Floats travel as their bit pattern, so the 32-bit slots accept unsigned values too.
    if (scalars[s] < INT32_MIN || scalars[s] > UINT32_MAX)
      throw Error(
          fmt::format("vulkan device: scalar argument {} of kernel '{}' is {}, which "
                      "does not fit its 32-bit push constant",
                      s, info.name, scalars[s]));
    push_[s] = static_cast<int32_t>(static_cast<uint32_t>(scalars[s]));
  }
  buffer_infos_.clear();
  uint64_t align = std::max<uint64_t>(1, props_.limits.minStorageBufferOffsetAlignment);
  for (size_t i = 0; i < buffers.size(); ++i) {
    Span b = resolve(buffers[i], 0, "a buffer argument of a launch");
    if (b.offset % align != 0)
      throw Error(
          fmt::format("vulkan device: buffer argument {} of kernel '{}' is a view at "
                      "byte offset {} into its allocation; {} binds storage buffers at "
                      "multiples of {} bytes only (minStorageBufferOffsetAlignment)",
                      i, info.name, b.offset, name(), align));
    if (b.offset == b.block->size)
      throw Error(
          fmt::format("vulkan device: buffer argument {} of kernel '{}' points at the "
                      "end of its allocation; expected a pointer inside it",
                      i, info.name));
    uint64_t range =
        std::min<uint64_t>(b.block->size - b.offset, props_.limits.maxStorageBufferRange);
    buffer_infos_.push_back({b.block->buffer, b.offset, range});
  }

  if (commands_ >= kMaxBatchCommands) submit_and_wait();
  // Before begin_command: a full cache waits for the batch, which ends it.
  VkDescriptorSet set = buffers.empty() ? VK_NULL_HANDLE : descriptor_set(kernel, k.set_layout);
  begin_command();
  if (profiling_) write_start_timestamp(kernel);
  api_.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipeline);
  if (set != VK_NULL_HANDLE)
    api_.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.layout, 0, 1, &set, 0,
                                 nullptr);
  if (!push_.empty())
    api_.vkCmdPushConstants(cmd_, k.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                            static_cast<uint32_t>(push_.size() * 4), push_.data());
  api_.vkCmdDispatch(cmd_, grid[0], grid[1], grid[2]);
  if (profiling_) write_end_timestamp();
  flush_part();
}

}  // namespace mlcc
