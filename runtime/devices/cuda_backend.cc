// The CUDA device of the model runtime: wraps CudaDevice (runtime/devices/cuda_device.h),
// JIT-loads the library's PTX module and launches its kernels with the grid and block the
// manifest's postfix extents give for each call's scalar arguments. Profiles time each
// launch between two events on the device's stream.
#include <fmt/format.h>

#include <cstddef>
#include <cstdlib>
#include <vector>

#include "runtime/device.h"
#include "runtime/devices/cuda_device.h"
#include "runtime/devices/gpu_launch.h"
#include "runtime/error.h"
#include "runtime/library.h"

namespace mlcc {
namespace {

// The sm number in "-arch=sm_90" of a cuda target string, or 0 when it names none.
int target_sm(const std::string& target) {
  size_t at = target.find("-arch=sm_");
  if (at == std::string::npos) return 0;
  return std::atoi(target.c_str() + at + 9);
}

class CudaBackend final : public GpuBackend<CudaDevice> {
 public:
  explicit CudaBackend(std::unique_ptr<CudaDevice> dev) : GpuBackend(std::move(dev)) {
    limits_.max_threads_per_block = dev_->info().max_threads_per_block;
  }

  std::string name() const override {
    const CudaDeviceInfo& i = dev_->info();
    return fmt::format("cuda:{} ({}, sm_{}{})", i.ordinal, i.name, i.compute_major,
                       i.compute_minor);
  }
  std::string kind() const override { return "cuda"; }

  void load_kernels(const Library& lib) override {
    check_library_runs_on(lib, *this);
    const Manifest& m = lib.manifest();
    const CudaDeviceInfo& info = dev_->info();
    // PTX JIT-compiles for the same or a newer architecture only; say so before the
    // driver answers with a bare CUDA_ERROR_NO_BINARY_FOR_GPU.
    int sm = target_sm(m.target);
    int have = info.compute_major * 10 + info.compute_minor;
    if (sm > have)
      throw Error(fmt::format(
          "library '{}' was compiled for sm_{} (target '{}'), but {} has compute capability "
          "{}.{}; compile the model with -arch=sm_{}",
          lib.path(), sm, m.target, name(), info.compute_major, info.compute_minor, have));
    if (lib.ptx().empty() && !m.kernels.empty())
      throw Error("library '" + lib.path() + "' has an empty mlcc_library_ptx");
    fns_.clear();
    kernels_ = m.kernels;
    module_ = CudaModule();
    if (m.kernels.empty()) return;
    module_ = dev_->load_module(lib.ptx());
    for (const KernelInfo& k : kernels_) fns_.push_back(dev_->get_function(module_, k.name));
  }

  void launch(size_t kernel, std::span<void* const> buffers,
              std::span<const int64_t> scalars) override {
    MLCC_CHECK(kernel < fns_.size(), "cuda device: kernel index out of range");
    const KernelInfo& k = kernels_[kernel];
    LaunchDims dims = eval_launch_dims(k, scalars, limits_, "cuda device");
    // cuLaunchKernel takes a pointer to each argument's value: the device pointers first,
    // then each scalar at the width of its PTX parameter.
    buffer_args_.assign(buffers.begin(), buffers.end());
    scalar32_.resize(scalars.size());
    scalar64_.assign(scalars.begin(), scalars.end());
    params_.clear();
    for (void*& b : buffer_args_) params_.push_back(&b);
    for (size_t s = 0; s < scalars.size(); ++s) {
      if (k.scalar_bits[s] == 64) {
        params_.push_back(&scalar64_[s]);
        continue;
      }
      scalar32_[s] = scalar_to_32_bits(scalars[s], s, k, "cuda device");
      params_.push_back(&scalar32_[s]);
    }
    run_launch(kernel,
               [&] { dev_->launch(fns_[kernel], dims.grid, dims.block, 0, params_.data()); });
  }

 private:
  // Destroyed before GpuBackend's members: the module goes before the device does.
  CudaModule module_;
  std::vector<CudaFunction> fns_;
  // Argument storage reused across launches: cuLaunchKernel reads it before returning.
  std::vector<void*> buffer_args_;
  std::vector<int32_t> scalar32_;
  std::vector<int64_t> scalar64_;
  std::vector<void*> params_;
};
}  // namespace

std::unique_ptr<Device> make_cuda_device(int ordinal) {
  try {
    return std::make_unique<CudaBackend>(CudaDevice::open(ordinal));
  } catch (const Error& e) {
    throw Error("cannot open device cuda:" + std::to_string(ordinal) + ": " + e.what());
  }
}

}  // namespace mlcc
