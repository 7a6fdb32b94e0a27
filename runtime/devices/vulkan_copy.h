// The Vulkan device's copy shader (vulkan_copy.cc): the SPIR-V words copy_device_to_device
// dispatches for aligned copies, declared here (without vulkan.h) so that the tests can
// validate them.
#pragma once

#include <cstdint>
#include <vector>

namespace mlcc {

// Invocations per workgroup of the copy shader, which copies 16-byte elements.
inline constexpr uint32_t kVulkanCopyGroupSize = 256;

// A SPIR-V 1.3 compute module, hand-assembled (the runtime has no compiler), doing
//   layout(local_size_x = 256) in;
//   layout(set = 0, binding = 0) readonly buffer S { uvec4 s[]; };
//   layout(set = 0, binding = 1) writeonly buffer D { uvec4 d[]; };
//   layout(push_constant) uniform P { uint count, src_first, dst_first; } p;
//   void main() {
//     for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256)
//       d[p.dst_first + i] = s[p.src_first + i];
//   }
std::vector<uint32_t> vulkan_copy_spirv();

}  // namespace mlcc
