// The numeric check every backend goes through: the standard kernels at test
// sizes, fresh random inputs, the interpreter running the unscheduled
// definition as the reference, and the scheduled kernel compiled for the CPU,
// run on a Vulkan device, or written into a CUDA or Vulkan bundle for the GPU
// machine. Used by the ctest suite, `mlcc demo` and tests/gpu.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "targets/target.h"
#include "tools/kernel_bundle.h"

namespace mlcc::check {

struct KernelCase {
  std::string name, shape;
  // The kernel scheduled for a target; with nullptr the unscheduled reference.
  std::function<ir::PrimFunc(const Target*)> build;
  // Overrides build(nullptr) as the reference (kernels written with the direct
  // builder).
  std::function<ir::PrimFunc()> reference;
  std::vector<int64_t> scalars;  // values of the function's scalar params, in order
  double tolerance = 1e-5;       // relative L2 error: 1e-5 in f32, 1e-2 with f16 storage
  // Adjusts the random arguments (in parameter order) where random bits are not
  // valid input: token ids, page tables, a cache both read and written.
  std::function<void(std::vector<std::vector<uint8_t>>& args, uint64_t seed)> prepare;

  ir::PrimFunc reference_func() const { return reference ? reference() : build(nullptr); }
};

// The kernels of the foundation issue at sizes the interpreter runs in well
// under a second: elementwise with broadcast, row sum and max, softmax,
// RMSNorm, tiled matmul, q4f16_1 GEMV.
std::vector<KernelCase> standard_cases();
// The model kernels of passes/legalize/llm_kernels.h at test sizes, one list
// per family (tools/cases_*.cc).
std::vector<KernelCase> linear_cases();
std::vector<KernelCase> elementwise_cases();
std::vector<KernelCase> attention_cases();

// Host arrays, one per buffer parameter of a PrimFunc, in parameter order.
using Arrays = std::vector<std::vector<uint8_t>>;

// Which buffer parameters the function writes.
std::vector<bool> written_buffers(const ir::PrimFunc& f);
// Fresh random inputs (uniform [-1, 1) for floats, random bits for integers)
// for the read buffers; written buffers are poisoned (all bits set: NaN for
// floats). case_arguments also applies the case's `prepare`.
Arrays random_arguments(const ir::PrimFunc& f, const std::vector<int64_t>& scalars, uint64_t seed);
Arrays case_arguments(const KernelCase& c, const ir::PrimFunc& f, uint64_t seed);
// Runs f in the interpreter on args (in place).
void interpret(const ir::PrimFunc& f, Arrays& args, const std::vector<int64_t>& scalars,
               int warp_size = 32);
// The largest relative L2 error over the written buffers (NaN if any output is
// NaN).
double output_error(const ir::PrimFunc& f, const Arrays& out, const Arrays& ref);

// Compiles f for the CPU (through passes/pipeline.h), runs it on args in place
// and returns the median time of `repeat` runs in milliseconds (the outputs are
// left in args).
double run_on_cpu(const ir::PrimFunc& f, const Target& target, Arrays& args,
                  const std::vector<int64_t>& scalars, int repeat = 1);

// Result of one case on the CPU: errors of the compiled CPU schedule and of the
// GPU schedule run through the interpreter, each against the reference.
struct CaseResult {
  std::string name, shape;
  double cpu_error = 0, gpu_schedule_error = 0, tolerance = 0;
  double cpu_ms = 0, interpreter_ms = 0;
  bool passed() const;
};
CaseResult check_case(const KernelCase& c, uint64_t seed, int repeat = 1);

// A case scheduled and lowered for a GPU target, with fresh inputs and the
// reference's outputs: what the Vulkan ctest and the bundles for the GPU machine
// run and compare.
struct GpuCase {
  ir::PrimFunc func;       // scheduled for the target and lowered for codegen
  ir::PrimFunc reference;  // the definition the outputs are checked against
  // Name, shape, tolerance, scalars and each argument's dtype and size (no files
  // yet); for a vulkan target also the kernel's name and launch shape.
  bundle::Kernel entry;
  Arrays inputs;    // written buffers poisoned unless the case's `prepare` filled them
  Arrays expected;  // after the reference ran on the inputs
  std::vector<bool> written;
  std::vector<uint32_t> spirv;  // the SPIR-V module, for a vulkan target
};
GpuCase gpu_case(const KernelCase& c, const Target& target, uint64_t seed);

}  // namespace mlcc::check
