// Loads a shared object of compiled CPU kernels (codegen/llvm's output), checks that it
// was built for this runtime's kernel ABI, hands it the thread pool, and looks kernels up.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "runtime/kernel_abi.h"

namespace mlcc {

class CpuModule {
 public:
  // dlopens so_path (RTLD_NOW | RTLD_LOCAL) and checks its mlcc_module_abi_version. Throws
  // mlcc::Error naming the file when it cannot be loaded, is not an mlcc kernel module, or
  // was built for another ABI version.
  static std::unique_ptr<CpuModule> load(const std::string& so_path);
  ~CpuModule();
  CpuModule(const CpuModule&) = delete;
  CpuModule& operator=(const CpuModule&) = delete;

  // The kernel entry `name`; throws mlcc::Error naming the module and the kernel when the
  // module has no such function.
  MlccKernelFn function(const std::string& name) const;
  // Any exported symbol, or nullptr when there is none.
  void* find_symbol(const std::string& name) const;
  const std::string& path() const { return path_; }

 private:
  CpuModule(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}

  void* handle_;
  std::string path_;
};

}  // namespace mlcc
