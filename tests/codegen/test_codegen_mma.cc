// mma_m16n8k16 in the code generators: NVPTX lowers it to llvm.nvvm.mma.m16n8k16.row.col.f32.f32
// (f16 inputs are named by D's and C's types; PTX mma.sync.aligned.m16n8k16.row.col.f32.f16.
// f16.f32, accepted by ptxas when the CUDA toolkit is installed); the CPU, AMDGPU and SPIR-V
// generators refuse it, naming the kernel.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "codegen/llvm/codegen.h"
#include "codegen/spirv/codegen_spirv.h"
#include "passes/pipeline.h"
#include "runtime/error.h"
#include "tests/mma_test_kernel.h"
#include "tests/temp_dir.h"

using namespace mlcc;
using namespace mlcc::ir;

TEST_CASE("mma codegen: NVPTX emits mma.sync for sm_80 and sm_90", "[codegen][nvptx][mma]") {
  for (const char* arch : {"sm_80", "sm_90"}) {
    INFO(arch);
    Target target = Target::parse(std::string("cuda -arch=") + arch);
    std::string ir = codegen::emit_llvm_ir({testing::mma_test_kernel(2)}, target);
    CHECK(ir.find("@llvm.nvvm.mma.m16n8k16.row.col.f32.f32(") != std::string::npos);
    std::string ptx;
    codegen::compile_cuda({testing::mma_test_kernel(2)}, target, &ptx);
    INFO(ptx);
    CHECK(ptx.find("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32") != std::string::npos);
    if (!std::filesystem::exists(MLCC_PTXAS)) {
      WARN("ptxas not found at " MLCC_PTXAS "; PTX not assembled");
      continue;
    }
    testing::TempDir dir;
    std::ofstream(dir.path + "/k.ptx") << ptx;
    std::string cmd = std::string(MLCC_PTXAS) + " -arch=" + arch + " " + dir.path + "/k.ptx -o " +
                      dir.path + "/k.cubin > " + dir.path + "/log 2>&1";
    int rc = std::system(cmd.c_str());
    std::ifstream in(dir.path + "/log");
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(log);
    CHECK(rc == 0);
  }
}

TEST_CASE("mma codegen: other targets refuse it, naming the kernel", "[codegen][mma]") {
  PrimFunc gpu = testing::mma_test_kernel(1, "tile_kernel");
  // (A macro: Catch's combined matchers hold references to their parts.)
#define NAMES_IT                                                                \
  Catch::Contains("kernel 'tile_kernel'") && Catch::Contains("mma_m16n8k16") && \
      Catch::Contains("sm_80")
  CHECK_THROWS_WITH(codegen::compile_rocm({gpu}, Target::parse("rocm -mcpu=gfx942")), NAMES_IT);
  Target vulkan = Target::parse("vulkan -subgroup=32");
  CHECK_THROWS_WITH(codegen::codegen_spirv(passes::lower_for_codegen(gpu, vulkan), vulkan),
                    NAMES_IT);
  // The CPU has no thread loops: the same call in a serial kernel.
  Buffer A = Buffer::make("A", DataType::f16(), {8});
  Buffer C = Buffer::make("C", DataType::f32(), {4});
  Stmt body =
      store(C, {ramp(0, 1, 4)}, mma_m16n8k16(A(ramp(0, 1, 8)), A(ramp(0, 1, 4)), C(ramp(0, 1, 4))));
  PrimFunc cpu = make_prim_func("tile_kernel", {A, C}, body);
  CHECK_THROWS_WITH(codegen::compile_cpu_object({cpu}, Target::host_cpu()), NAMES_IT);
#undef NAMES_IT
}
