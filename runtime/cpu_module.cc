// CPU kernel module loading over dlopen/dlsym.
#include "runtime/cpu_module.h"

#include <dlfcn.h>

#include <cstdint>

#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace mlcc {
namespace {

std::string last_dl_error() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown error";
}

}  // namespace

std::unique_ptr<CpuModule> CpuModule::load(const std::string& so_path) {
  void* handle = dlopen(so_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr)
    throw Error("cannot load CPU kernel module '" + so_path + "': " + last_dl_error());
  // From here on the module owns the handle, so every error path below dlcloses it.
  std::unique_ptr<CpuModule> module(new CpuModule(handle, so_path));

  auto* version = static_cast<const int32_t*>(module->find_symbol(MLCC_KERNEL_ABI_VERSION_SYMBOL));
  if (version == nullptr)
    throw Error("'" + so_path + "' is not an mlcc kernel module: it does not export " +
                MLCC_KERNEL_ABI_VERSION_SYMBOL);
  if (*version != MLCC_KERNEL_ABI_VERSION)
    throw Error("'" + so_path + "' was built for mlcc kernel ABI version " +
                std::to_string(*version) + ", but this runtime needs version " +
                std::to_string(MLCC_KERNEL_ABI_VERSION) + "; recompile the model library");

  // Modules without parallel loops have no launcher slot; nothing to fill in then.
  if (auto* slot =
          static_cast<MlccParallelLaunch*>(module->find_symbol(MLCC_PARALLEL_LAUNCH_SYMBOL)))
    *slot = &mlcc_runtime_parallel_launch;
  return module;
}

CpuModule::~CpuModule() { dlclose(handle_); }

void* CpuModule::find_symbol(const std::string& name) const { return dlsym(handle_, name.c_str()); }

MlccKernelFn CpuModule::function(const std::string& name) const {
  void* sym = find_symbol(name);
  if (sym == nullptr)
    throw Error("CPU kernel module '" + path_ + "' has no kernel function '" + name + "'");
  return reinterpret_cast<MlccKernelFn>(sym);
}

}  // namespace mlcc
