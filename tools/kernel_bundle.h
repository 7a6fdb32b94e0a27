// A kernel bundle: PTX plus, per kernel, its launch shape, argument files and expected
// outputs. The compiler side (with LLVM) writes it on the build machine; mlcc-cuda-run
// (runtime only) reads it on a GPU machine that has no LLVM. Plain JSON + raw .bin files.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mlcc::bundle {

struct Arg {
  std::string dtype;  // "f32", "f16", "u32", ...
  int64_t bytes = 0;
  std::string input;     // file with the initial contents; "" = poisoned output
  std::string expected;  // file with the reference contents; "" = not checked
  bool rotate = false;   // benchmark: replicate so repeated launches miss the L2 cache
};

struct Kernel {
  std::string name;      // label shown in tables
  std::string function;  // PTX entry name
  std::string shape;     // human-readable shape, e.g. "4096x4096"
  std::array<int64_t, 3> grid{1, 1, 1}, block{1, 1, 1};
  int64_t shared_bytes = 0;
  std::vector<Arg> args;                  // in PTX parameter order
  std::vector<int64_t> scalars;           // i32/i64 scalar params after the buffers
  std::vector<std::string> scalar_types;  // "i32" or "i64" per scalar
  double tolerance = 1e-5;                // relative L2 error allowed
  bool bench = false;                     // time it (bytes_moved for GB/s)
  int64_t bytes_moved = 0;
};

struct Bundle {
  std::string ptx_file = "kernels.ptx";
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

}  // namespace mlcc::bundle
