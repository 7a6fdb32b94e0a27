// Device-to-device copies on the Vulkan device by a compute shader. vkCmdCopyBuffer may run
// on a copy engine far slower than the shader cores (on the H100 about 380 GB/s against
// 2800 GB/s), so copies whose offsets and size are multiples of 16 bytes are dispatched as
// a tiny shader moving uvec4s; the rest stay with vkCmdCopyBuffer (vulkan_device.cc). The
// module is assembled here word by word: the runtime has no compiler (codegen/spirv is the
// compiler's), and SPIRV-Headers gives the enums.
#include "runtime/devices/vulkan_copy.h"

#include <algorithm>
#include <initializer_list>
#include <spirv/unified1/spirv.hpp11>

#include "runtime/devices/vulkan_device_impl.h"

namespace mlcc {
namespace {

// The module's result ids, in the order they are defined.
enum : uint32_t {
  kVoid = 1,
  kFnType,
  kUint,
  kUint3,
  kUint4,
  kBool,
  kArray,
  kBuf,
  kBufPtr,
  kElemPtr,
  kPush,
  kPushPtr,
  kUintPushPtr,
  kUint3InPtr,
  kC0,
  kC1,
  kC2,
  kCGroup,
  kSrc,
  kDst,
  kPc,
  kGid,
  kGroups,
  kMain,
  kEntry,
  kHeader,
  kBody,
  kContinue,
  kMerge,
  kG,
  kFirst,
  kN,
  kNx,
  kStride,
  kCountPtr,
  kCount,
  kSrcFirstPtr,
  kSrcFirst,
  kDstFirstPtr,
  kDstFirst,
  kI,
  kInRange,
  kSrcIndex,
  kDstIndex,
  kSrcElem,
  kValue,
  kDstElem,
  kNext,
  kBound
};

// Workgroups of a copy at most; larger copies loop in the shader. 4M invocations are many
// times what any GPU keeps resident, so each still streams at full speed, and fewer than
// the 65535 groups every Vulkan device can dispatch.
constexpr uint64_t kMaxCopyGroups = 16384;

template <typename E>
constexpr uint32_t u(E e) {
  return static_cast<uint32_t>(e);
}

}  // namespace

std::vector<uint32_t> vulkan_copy_spirv() {
  using spv::Op;
  using D = spv::Decoration;
  const uint32_t sb = u(spv::StorageClass::StorageBuffer);
  const uint32_t pc = u(spv::StorageClass::PushConstant);
  const uint32_t in = u(spv::StorageClass::Input);
  // SPIR-V 1.3 (Vulkan 1.1, which the device requires): StorageBuffer is core there.
  std::vector<uint32_t> w = {spv::MagicNumber, 0x00010300, 0, kBound, 0};
  auto op = [&w](Op o, std::initializer_list<uint32_t> operands) {
    w.push_back(static_cast<uint32_t>(operands.size() + 1) << spv::WordCountShift | u(o));
    w.insert(w.end(), operands);
  };
  // "main" as a literal string: its bytes little-endian, then a word of zeros.
  const uint32_t main_name =
      uint32_t{'m'} | uint32_t{'a'} << 8 | uint32_t{'i'} << 16 | uint32_t{'n'} << 24;

  op(Op::OpCapability, {u(spv::Capability::Shader)});
  op(Op::OpMemoryModel, {u(spv::AddressingModel::Logical), u(spv::MemoryModel::GLSL450)});
  op(Op::OpEntryPoint, {u(spv::ExecutionModel::GLCompute), kMain, main_name, 0, kGid, kGroups});
  op(Op::OpExecutionMode, {kMain, u(spv::ExecutionMode::LocalSize), kVulkanCopyGroupSize, 1, 1});

  op(Op::OpDecorate, {kGid, u(D::BuiltIn), u(spv::BuiltIn::GlobalInvocationId)});
  op(Op::OpDecorate, {kGroups, u(D::BuiltIn), u(spv::BuiltIn::NumWorkgroups)});
  op(Op::OpDecorate, {kArray, u(D::ArrayStride), 16});
  op(Op::OpMemberDecorate, {kBuf, 0, u(D::Offset), 0});
  op(Op::OpDecorate, {kBuf, u(D::Block)});
  op(Op::OpDecorate, {kSrc, u(D::DescriptorSet), 0});
  op(Op::OpDecorate, {kSrc, u(D::Binding), 0});
  op(Op::OpDecorate, {kSrc, u(D::NonWritable)});
  op(Op::OpDecorate, {kDst, u(D::DescriptorSet), 0});
  op(Op::OpDecorate, {kDst, u(D::Binding), 1});
  op(Op::OpDecorate, {kDst, u(D::NonReadable)});
  for (uint32_t m = 0; m < 3; ++m) op(Op::OpMemberDecorate, {kPush, m, u(D::Offset), 4 * m});
  op(Op::OpDecorate, {kPush, u(D::Block)});

  op(Op::OpTypeVoid, {kVoid});
  op(Op::OpTypeFunction, {kFnType, kVoid});
  op(Op::OpTypeInt, {kUint, 32, 0});
  op(Op::OpTypeVector, {kUint3, kUint, 3});
  op(Op::OpTypeVector, {kUint4, kUint, 4});
  op(Op::OpTypeBool, {kBool});
  op(Op::OpTypeRuntimeArray, {kArray, kUint4});
  op(Op::OpTypeStruct, {kBuf, kArray});
  op(Op::OpTypePointer, {kBufPtr, sb, kBuf});
  op(Op::OpTypePointer, {kElemPtr, sb, kUint4});
  op(Op::OpTypeStruct, {kPush, kUint, kUint, kUint});
  op(Op::OpTypePointer, {kPushPtr, pc, kPush});
  op(Op::OpTypePointer, {kUintPushPtr, pc, kUint});
  op(Op::OpTypePointer, {kUint3InPtr, in, kUint3});
  op(Op::OpConstant, {kUint, kC0, 0});
  op(Op::OpConstant, {kUint, kC1, 1});
  op(Op::OpConstant, {kUint, kC2, 2});
  op(Op::OpConstant, {kUint, kCGroup, kVulkanCopyGroupSize});
  op(Op::OpVariable, {kBufPtr, kSrc, sb});
  op(Op::OpVariable, {kBufPtr, kDst, sb});
  op(Op::OpVariable, {kPushPtr, kPc, pc});
  op(Op::OpVariable, {kUint3InPtr, kGid, in});
  op(Op::OpVariable, {kUint3InPtr, kGroups, in});

  op(Op::OpFunction, {kVoid, kMain, u(spv::FunctionControlMask::MaskNone), kFnType});
  op(Op::OpLabel, {kEntry});
  op(Op::OpLoad, {kUint3, kG, kGid});
  op(Op::OpCompositeExtract, {kUint, kFirst, kG, 0});
  op(Op::OpLoad, {kUint3, kN, kGroups});
  op(Op::OpCompositeExtract, {kUint, kNx, kN, 0});
  op(Op::OpIMul, {kUint, kStride, kNx, kCGroup});
  op(Op::OpAccessChain, {kUintPushPtr, kCountPtr, kPc, kC0});
  op(Op::OpLoad, {kUint, kCount, kCountPtr});
  op(Op::OpAccessChain, {kUintPushPtr, kSrcFirstPtr, kPc, kC1});
  op(Op::OpLoad, {kUint, kSrcFirst, kSrcFirstPtr});
  op(Op::OpAccessChain, {kUintPushPtr, kDstFirstPtr, kPc, kC2});
  op(Op::OpLoad, {kUint, kDstFirst, kDstFirstPtr});
  op(Op::OpBranch, {kHeader});
  // The loop: i from the invocation's index while i < count, by the whole grid's size.
  op(Op::OpLabel, {kHeader});
  op(Op::OpPhi, {kUint, kI, kFirst, kEntry, kNext, kContinue});
  op(Op::OpULessThan, {kBool, kInRange, kI, kCount});
  op(Op::OpLoopMerge, {kMerge, kContinue, u(spv::LoopControlMask::MaskNone)});
  op(Op::OpBranchConditional, {kInRange, kBody, kMerge});
  op(Op::OpLabel, {kBody});
  op(Op::OpIAdd, {kUint, kSrcIndex, kSrcFirst, kI});
  op(Op::OpIAdd, {kUint, kDstIndex, kDstFirst, kI});
  op(Op::OpAccessChain, {kElemPtr, kSrcElem, kSrc, kC0, kSrcIndex});
  op(Op::OpLoad, {kUint4, kValue, kSrcElem});
  op(Op::OpAccessChain, {kElemPtr, kDstElem, kDst, kC0, kDstIndex});
  op(Op::OpStore, {kDstElem, kValue});
  op(Op::OpBranch, {kContinue});
  op(Op::OpLabel, {kContinue});
  op(Op::OpIAdd, {kUint, kNext, kI, kStride});
  op(Op::OpBranch, {kHeader});
  op(Op::OpLabel, {kMerge});
  op(Op::OpReturn, {});
  op(Op::OpFunctionEnd, {});
  return w;
}

bool VulkanDeviceImpl::copy_by_shader(const Span& d, const Span& s, uint64_t bytes) {
  const VkPhysicalDeviceLimits& lim = props_.limits;
  if (bytes % 16 != 0 || d.offset % 16 != 0 || s.offset % 16 != 0) return false;
  // Vulkan promises only 128 invocations per workgroup; a device with fewer than the
  // shader's copies with vkCmdCopyBuffer.
  if (lim.maxComputeWorkGroupSize[0] < kVulkanCopyGroupSize ||
      lim.maxComputeWorkGroupInvocations < kVulkanCopyGroupSize)
    return false;
  if (copy_kernel_.empty()) {
    VulkanKernelSource src;
    src.info.name = "device-to-device copy";
    src.info.num_buffers = 2;
    src.info.num_scalars = 3;
    src.spirv = vulkan_copy_spirv();
    copy_kernel_.push_back(create_kernel(src));
  }
  const Kernel& k = copy_kernel_.front();

  // Bindings start at multiples of 256 bytes, the largest minStorageBufferOffsetAlignment
  // Vulkan allows, so that copies at nearby offsets share descriptor sets; the shader's
  // element offsets skip what lies before the data. A copy is split where a binding would
  // exceed maxStorageBufferRange (at least 128 MiB: lavapipe's).
  const uint64_t align = std::max<uint64_t>(256, lim.minStorageBufferOffsetAlignment);
  const uint64_t max_range = lim.maxStorageBufferRange;
  const uint64_t max_part = (max_range - align) / 16 * 16;
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t part = std::min(bytes - done, max_part);
    const uint64_t s_at = s.offset + done, d_at = d.offset + done;
    const uint64_t s_bind = s_at / align * align, d_bind = d_at / align * align;
    // Bound to the end of the block: copies of other sizes at these offsets share the set.
    buffer_infos_.clear();
    buffer_infos_.push_back({s.block->buffer, s_bind, std::min(s.block->size - s_bind, max_range)});
    buffer_infos_.push_back({d.block->buffer, d_bind, std::min(d.block->size - d_bind, max_range)});
    // Before begin_command: a full cache waits for the batch, which ends it.
    VkDescriptorSet set = descriptor_set(kCopySetKey, k.set_layout);
    begin_command();
    api_.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipeline);
    api_.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.layout, 0, 1, &set, 0,
                                 nullptr);
    const uint64_t elements = part / 16;  // below 2^28: maxStorageBufferRange is 32 bits
    const uint32_t push[3] = {static_cast<uint32_t>(elements),
                              static_cast<uint32_t>((s_at - s_bind) / 16),
                              static_cast<uint32_t>((d_at - d_bind) / 16)};
    api_.vkCmdPushConstants(cmd_, k.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push), push);
    const uint64_t groups = (elements + kVulkanCopyGroupSize - 1) / kVulkanCopyGroupSize;
    api_.vkCmdDispatch(cmd_, static_cast<uint32_t>(std::min(groups, kMaxCopyGroups)), 1, 1);
    flush_part();
    done += part;
  }
  return true;
}

}  // namespace mlcc
