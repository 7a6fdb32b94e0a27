// Helpers shared by the Vulkan device's tests: device 0 or a skip where there is none,
// SPIR-V assembled from text with SPIRV-Tools (and validated), and two test kernels. Only
// for builds with Vulkan and SPIRV-Tools (MLCC_WITH_VULKAN && MLCC_TEST_HAVE_SPIRV_TOOLS).
#pragma once

#include <spirv-tools/libspirv.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/devices/vulkan_device.h"
#include "runtime/error.h"
#include "runtime/launch_expr.h"

namespace mlcc::test {

// Device 0, or nullptr (after saying so) where this machine has no Vulkan device.
inline std::unique_ptr<mlcc::VulkanDevice> open_or_skip() {
  try {
    if (mlcc::list_vulkan_devices().empty()) {
      WARN("SKIPPED: no Vulkan device");
      return nullptr;
    }
  } catch (const mlcc::Error& e) {
    WARN("SKIPPED: no Vulkan device (" << e.what() << ")");
    return nullptr;
  }
  return mlcc::open_vulkan_device(0);
}

inline std::vector<uint32_t> assemble(const std::string& text) {
  spv_context ctx = spvContextCreate(SPV_ENV_VULKAN_1_1);
  spv_binary bin = nullptr;
  spv_diagnostic diag = nullptr;
  spv_result_t r = spvTextToBinary(ctx, text.data(), text.size(), &bin, &diag);
  std::string error = diag != nullptr ? diag->error : "";
  spvDiagnosticDestroy(diag);
  INFO("spvTextToBinary: " << error);
  REQUIRE(r == SPV_SUCCESS);
  std::vector<uint32_t> words(bin->code, bin->code + bin->wordCount);
  spvBinaryDestroy(bin);
  diag = nullptr;
  r = spvValidateBinary(ctx, words.data(), words.size(), &diag);
  error = diag != nullptr ? diag->error : "";
  spvDiagnosticDestroy(diag);
  spvContextDestroy(ctx);
  INFO("spvValidateBinary: " << error);
  REQUIRE(r == SPV_SUCCESS);
  return words;
}

// y[i] = a[i] + b[i] * s for i < n; buffers (y, a, b), scalars (n, s); 64 threads a group.
inline constexpr const char* kAxpy = R"(
OpCapability Shader
OpMemoryModel Logical GLSL450
OpEntryPoint GLCompute %main "main" %gid
OpExecutionMode %main LocalSize 64 1 1
OpDecorate %gid BuiltIn GlobalInvocationId
OpDecorate %rt ArrayStride 4
OpMemberDecorate %buf 0 Offset 0
OpDecorate %buf Block
OpDecorate %y DescriptorSet 0
OpDecorate %y Binding 0
OpDecorate %a DescriptorSet 0
OpDecorate %a Binding 1
OpDecorate %b DescriptorSet 0
OpDecorate %b Binding 2
OpMemberDecorate %pc 0 Offset 0
OpMemberDecorate %pc 1 Offset 4
OpDecorate %pc Block
%void = OpTypeVoid
%fn = OpTypeFunction %void
%int = OpTypeInt 32 1
%uint = OpTypeInt 32 0
%bool = OpTypeBool
%v3uint = OpTypeVector %uint 3
%rt = OpTypeRuntimeArray %int
%buf = OpTypeStruct %rt
%buf_ptr = OpTypePointer StorageBuffer %buf
%int_sb = OpTypePointer StorageBuffer %int
%pc = OpTypeStruct %int %int
%pc_ptr = OpTypePointer PushConstant %pc
%int_pc = OpTypePointer PushConstant %int
%v3_in = OpTypePointer Input %v3uint
%c0 = OpConstant %int 0
%c1 = OpConstant %int 1
%y = OpVariable %buf_ptr StorageBuffer
%a = OpVariable %buf_ptr StorageBuffer
%b = OpVariable %buf_ptr StorageBuffer
%pcv = OpVariable %pc_ptr PushConstant
%gid = OpVariable %v3_in Input
%main = OpFunction %void None %fn
%entry = OpLabel
%g = OpLoad %v3uint %gid
%gx = OpCompositeExtract %uint %g 0
%i = OpBitcast %int %gx
%np = OpAccessChain %int_pc %pcv %c0
%n = OpLoad %int %np
%sp = OpAccessChain %int_pc %pcv %c1
%s = OpLoad %int %sp
%inb = OpSLessThan %bool %i %n
OpSelectionMerge %end None
OpBranchConditional %inb %body %end
%body = OpLabel
%ap = OpAccessChain %int_sb %a %c0 %i
%av = OpLoad %int %ap
%bp = OpAccessChain %int_sb %b %c0 %i
%bv = OpLoad %int %bp
%m = OpIMul %int %bv %s
%r = OpIAdd %int %av %m
%yp = OpAccessChain %int_sb %y %c0 %i
OpStore %yp %r
OpBranch %end
%end = OpLabel
OpReturn
OpFunctionEnd
)";

// out[g * 64 + t] = in[g * 64 + 63 - t]: each group reverses its 64 values through
// workgroup memory, which needs the barrier. Buffers (out, in), scalar n (a multiple of 64).
inline constexpr const char* kReverse64 = R"(
OpCapability Shader
OpMemoryModel Logical GLSL450
OpEntryPoint GLCompute %main "main" %gid %lid
OpExecutionMode %main LocalSize 64 1 1
OpDecorate %gid BuiltIn GlobalInvocationId
OpDecorate %lid BuiltIn LocalInvocationId
OpDecorate %rt ArrayStride 4
OpMemberDecorate %buf 0 Offset 0
OpDecorate %buf Block
OpDecorate %out DescriptorSet 0
OpDecorate %out Binding 0
OpDecorate %in DescriptorSet 0
OpDecorate %in Binding 1
%void = OpTypeVoid
%fn = OpTypeFunction %void
%int = OpTypeInt 32 1
%uint = OpTypeInt 32 0
%v3uint = OpTypeVector %uint 3
%rt = OpTypeRuntimeArray %int
%buf = OpTypeStruct %rt
%buf_ptr = OpTypePointer StorageBuffer %buf
%int_sb = OpTypePointer StorageBuffer %int
%v3_in = OpTypePointer Input %v3uint
%u0 = OpConstant %uint 0
%u2 = OpConstant %uint 2
%u63 = OpConstant %uint 63
%u64 = OpConstant %uint 64
%u264 = OpConstant %uint 264
%arr = OpTypeArray %int %u64
%arr_wg = OpTypePointer Workgroup %arr
%int_wg = OpTypePointer Workgroup %int
%out = OpVariable %buf_ptr StorageBuffer
%in = OpVariable %buf_ptr StorageBuffer
%gid = OpVariable %v3_in Input
%lid = OpVariable %v3_in Input
%sh = OpVariable %arr_wg Workgroup
%main = OpFunction %void None %fn
%entry = OpLabel
%g = OpLoad %v3uint %gid
%gx = OpCompositeExtract %uint %g 0
%l = OpLoad %v3uint %lid
%lx = OpCompositeExtract %uint %l 0
%ip = OpAccessChain %int_sb %in %u0 %gx
%v = OpLoad %int %ip
%sp = OpAccessChain %int_wg %sh %lx
OpStore %sp %v
OpControlBarrier %u2 %u2 %u264
%ri = OpISub %uint %u63 %lx
%rp = OpAccessChain %int_wg %sh %ri
%rv = OpLoad %int %rp
%op = OpAccessChain %int_sb %out %u0 %gx
OpStore %op %rv
OpReturn
OpFunctionEnd
)";

inline mlcc::KernelInfo kernel_info(const std::string& name, int nb, int ns, const char* grid_x) {
  mlcc::KernelInfo k;
  k.name = name;
  k.num_buffers = nb;
  k.num_scalars = ns;
  k.grid[0] = mlcc::LaunchExpr::parse(nlohmann::json::parse(grid_x), ns, "test grid");
  k.scalar_bits.assign(ns, 32);
  return k;
}

// Kernel 0: axpy, grid ceil(n / 64); kernel 1: reverse64, grid n / 64.
inline std::vector<mlcc::VulkanKernelSource> test_kernels() {
  return {{kernel_info("axpy", 3, 2, R"(["$0", 63, "+", 64, "/"])"), assemble(kAxpy)},
          {kernel_info("reverse64", 2, 1, R"(["$0", 64, "/"])"), assemble(kReverse64)}};
}

inline uint8_t* at(void* p, size_t offset) { return static_cast<uint8_t*>(p) + offset; }

}  // namespace mlcc::test
