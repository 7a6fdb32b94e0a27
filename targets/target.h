// A compilation target: its kind, architecture details and the limits and defaults that
// schedules and code generators read. Parsed from strings such as "cuda -arch=sm_90",
// "rocm -mcpu=gfx942", "cpu -mcpu=native", "cpu -mtriple=aarch64-linux-gnu" or
// "vulkan -subgroup=32 -f16=0".
#pragma once

#include <string>

namespace mlcc {

enum class TargetKind { kCpu, kCuda, kRocm, kVulkan, kMetal };

struct Target {
  TargetKind kind = TargetKind::kCpu;
  std::string triple;    // LLVM target triple ("x86_64-unknown-linux-gnu", "nvptx64-nvidia-cuda")
  std::string mcpu;      // LLVM CPU name ("skylake-avx512", "sm_90", "gfx1100"); "" = generic
  std::string features;  // LLVM feature string ("+avx512f,+f16c", "+ptx80")
  int warp_size = 1;     // threads per warp/subgroup; 1 on the CPU
  int max_threads_per_block = 1;
  int max_shared_memory = 0;  // bytes per block usable by default
  int vector_bits = 128;      // native SIMD width (CPU) or widest efficient load (GPU)
  int num_cores = 1;          // CPU: threads the parallel loops are split over by default
  // Vulkan device capabilities the SPIR-V generator may rely on (other kinds ignore them):
  // f16 arithmetic (Float16) and 16-bit storage buffers (StorageBuffer16BitAccess).
  bool f16_arithmetic = true;
  bool storage_16bit = true;

  bool is_gpu() const { return kind != TargetKind::kCpu; }
  // The canonical string, parseable again: "cuda -arch=sm_90".
  std::string str() const;

  // Parses a target string; throws mlcc::Error naming the unknown kind or option, and the
  // accepted values.
  static Target parse(const std::string& spec);
  // The machine this process runs on (triple, CPU name and features from LLVM's host
  // detection when the compiler is built in, else conservative x86-64 defaults).
  static Target host_cpu();
};

const char* target_kind_name(TargetKind k);

}  // namespace mlcc
