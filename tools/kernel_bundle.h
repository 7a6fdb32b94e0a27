// A kernel bundle: the compiled kernels (one PTX module for CUDA, a SPIR-V module per
// kernel for Vulkan) plus, per kernel, its launch shape, argument files and expected
// outputs. The compiler side (with LLVM) writes it on the build machine; mlcc-cuda-run and
// mlcc-vulkan-run (runtime only) read it on a GPU machine that has no LLVM. Plain JSON +
// raw .bin files. Also the run-once-and-read-back step that every device check shares.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/library.h"

namespace mlcc::bundle {

struct Arg {
  std::string dtype;  // "f32", "f16", "u32", ...
  int64_t bytes = 0;
  std::string input;     // file with the initial contents; "" = poisoned (all bits set)
  std::string expected;  // file with the reference contents; "" = not checked
  bool rotate = false;   // benchmark: replicate so repeated launches miss the L2 cache
};

struct Kernel {
  std::string name;      // label shown in tables
  std::string function;  // PTX entry name (CUDA); the kernel's name (Vulkan)
  std::string spirv;     // file with the SPIR-V module (Vulkan; entry point "main")
  std::string shape;     // human-readable shape, e.g. "4096x4096"
  std::array<int64_t, 3> grid{1, 1, 1}, block{1, 1, 1};
  int64_t shared_bytes = 0;
  std::vector<Arg> args;                  // in parameter order
  std::vector<int64_t> scalars;           // i32/i64 scalar params after the buffers
  std::vector<std::string> scalar_types;  // "i32" or "i64" per scalar
  double tolerance = 1e-5;                // relative L2 error allowed
  bool bench = false;                     // time it (bytes_moved for GB/s)
  int64_t bytes_moved = 0;
};

struct Bundle {
  std::string target;                    // the target string the kernels were compiled for
  std::string ptx_file = "kernels.ptx";  // CUDA; "" for Vulkan
  std::vector<Kernel> kernels;
};

// Reads/writes DIR/bundle.json. Errors name the file and the field.
Bundle read_bundle(const std::string& dir);
void write_bundle(const std::string& dir, const Bundle& b);

std::vector<uint8_t> read_file(const std::string& path);
void write_file(const std::string& path, const void* data, size_t bytes);

// Relative L2 error ||out - ref|| / ||ref|| of two arrays of `dtype` (f32, f16, bf16, or
// integer types compared as exact values); NaN when any output element is NaN.
double relative_error(const std::string& dtype, const uint8_t* out, const uint8_t* ref,
                      size_t bytes);

using Arrays = std::vector<std::vector<uint8_t>>;

// The manifest entry of a bundle kernel (its launch dims as constants), as
// VulkanDevice::load_spirv_kernels takes it.
KernelInfo kernel_info(const Kernel& k);

// Runs kernel `index` of those loaded on `dev` once on device copies of `args` (host
// arrays in parameter order, poisoned ones included) with these scalars and returns the
// arrays' contents afterwards.
Arrays run_once(Device& dev, size_t index, const Arrays& args, const std::vector<int64_t>& scalars);

}  // namespace mlcc::bundle
