// Helpers of the code generation tests: temporary directories, 64-byte aligned host
// buffers, and building + loading CPU kernel libraries.
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "codegen/llvm/codegen.h"
#include "runtime/cpu_module.h"
#include "tests/temp_dir.h"

namespace mlcc::test {

using ::mlcc::testing::TempDir;

// Host memory aligned as the buffers' declared 64 bytes (the kernels rely on it).
template <typename T>
class AlignedBuf {
 public:
  explicit AlignedBuf(size_t n) : n_(n) {
    size_t bytes = (std::max<size_t>(n * sizeof(T), 1) + 63) / 64 * 64;
    data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
    std::memset(static_cast<void*>(data_), 0xCD, bytes);  // poison
  }
  ~AlignedBuf() { std::free(data_); }
  AlignedBuf(const AlignedBuf&) = delete;
  T& operator[](size_t i) { return data_[i]; }
  T* data() { return data_; }
  size_t size() const { return n_; }

 private:
  T* data_;
  size_t n_;
};

// Builds funcs into DIR/name.so and loads it with the runtime's loader.
inline std::unique_ptr<CpuModule> build_and_load(const std::vector<ir::PrimFunc>& funcs,
                                                 const TempDir& dir, const std::string& name,
                                                 const Target& target = Target::host_cpu()) {
  std::string so = dir.path + "/" + name + ".so";
  codegen::build_cpu_shared_library(funcs, target, so);
  return CpuModule::load(so);
}

inline int32_t run(MlccKernelFn fn, std::vector<void*> buffers, std::vector<int64_t> scalars) {
  return fn(buffers.data(), scalars.data());
}

}  // namespace mlcc::test
