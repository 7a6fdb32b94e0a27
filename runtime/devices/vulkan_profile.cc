// Per-kernel GPU time on the Vulkan device (Device::begin_profile / end_profile): a
// timestamp query before and after each dispatch, read once its batch has finished, so that
// profiling adds no waits of its own. Ticks become seconds by the device's timestampPeriod.
#include <algorithm>

#include "runtime/devices/vulkan_device_impl.h"

namespace mlcc {
namespace {

// Two queries per launch; a batch holds at most kMaxBatchCommands launches.
constexpr uint32_t kQueries = 2 * 4096;

}  // namespace

bool VulkanDeviceImpl::begin_profile() {
  static_assert(kQueries >= 2 * kMaxBatchCommands, "a batch's launches need their queries");
  if (timestamp_bits_ == 0) return false;
  // The batch recorded so far is not part of the profile, and a profile started over must
  // not collect the queries of the last one.
  submit_and_wait();
  if (query_pool_ == VK_NULL_HANDLE) {
    VkQueryPoolCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = kQueries;
    vk_check(api_.vkCreateQueryPool(device_, &info, nullptr, &query_pool_),
             "vkCreateQueryPool (timestamps for profiling)");
  }
  profile_launches_.assign(kernels_.size(), 0);
  profile_seconds_.assign(kernels_.size(), 0.0);
  profiling_ = true;
  return true;
}

std::vector<KernelTiming> VulkanDeviceImpl::end_profile() {
  if (!profiling_) return {};
  submit_and_wait();  // the last batch's timestamps
  profiling_ = false;
  std::vector<KernelTiming> out;
  for (size_t k = 0; k < profile_launches_.size(); ++k)
    if (profile_launches_[k] > 0) out.push_back({k, profile_launches_[k], profile_seconds_[k]});
  return out;
}

void VulkanDeviceImpl::write_start_timestamp(size_t kernel) {
  auto query = static_cast<uint32_t>(2 * timed_kernels_.size());
  // Queries must be reset before they are written again; the batch's first timed launch
  // resets them all, in the same queue order as the writes that follow.
  if (query == 0) api_.vkCmdResetQueryPool(cmd_, query_pool_, 0, kQueries);
  // Bottom of pipe: written once every command before it (the barrier included) is done,
  // so the pair brackets this dispatch alone.
  api_.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool_, query);
  timed_kernels_.push_back(kernel);
}

void VulkanDeviceImpl::write_end_timestamp() {
  auto query = static_cast<uint32_t>(2 * timed_kernels_.size() - 1);
  api_.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool_, query);
}

void VulkanDeviceImpl::collect_timestamps() {
  auto count = static_cast<uint32_t>(2 * timed_kernels_.size());
  timestamps_.resize(count);
  VkResult r = api_.vkGetQueryPoolResults(device_, query_pool_, 0, count, count * sizeof(uint64_t),
                                          timestamps_.data(), sizeof(uint64_t),
                                          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (r != VK_SUCCESS) {
    timed_kernels_.clear();  // the next batch starts its queries afresh all the same
    vk_check(r, "vkGetQueryPoolResults (profiling timestamps)");
  }
  // Only the low timestampValidBits bits count; the difference of two is taken modulo them,
  // which also covers a counter that wrapped between the two.
  const uint64_t mask = timestamp_bits_ >= 64 ? ~uint64_t{0} : (uint64_t{1} << timestamp_bits_) - 1;
  const double seconds_per_tick = static_cast<double>(props_.limits.timestampPeriod) * 1e-9;
  for (size_t i = 0; i < timed_kernels_.size(); ++i) {
    size_t k = timed_kernels_[i];
    if (k >= profile_launches_.size()) {
      profile_launches_.resize(k + 1, 0);
      profile_seconds_.resize(k + 1, 0.0);
    }
    uint64_t ticks = (timestamps_[2 * i + 1] - timestamps_[2 * i]) & mask;
    ++profile_launches_[k];
    profile_seconds_[k] += static_cast<double>(ticks) * seconds_per_tick;
  }
  timed_kernels_.clear();
}

}  // namespace mlcc
