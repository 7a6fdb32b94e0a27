// The ROCm device of the model runtime: wraps HipDevice (runtime/devices/hip_device.h),
// loads the library's HSA code object once its gfx matches the device's, and launches its
// kernels with the grid and block the manifest's postfix extents give for each call's
// scalar arguments and their arguments packed into one kernarg buffer. Profiles time each
// launch between two events on the device's stream.
#include <fmt/format.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "runtime/device.h"
#include "runtime/devices/gpu_launch.h"
#include "runtime/devices/hip_device.h"
#include "runtime/error.h"
#include "runtime/library.h"

namespace mlcc {
namespace {

size_t align_up(size_t n, size_t alignment) { return (n + alignment - 1) / alignment * alignment; }

class HipBackend final : public GpuBackend<HipDevice> {
 public:
  explicit HipBackend(std::unique_ptr<HipDevice> dev) : GpuBackend(std::move(dev)) {
    // AMD GPUs run up to 1024 threads per block. hipModuleLaunchKernel takes the grid in
    // blocks but the runtime works in threads (grid × block along each axis), which must
    // fit 32 bits.
    limits_.grid_max[0] = limits_.grid_max[1] = limits_.grid_max[2] = INT32_MAX;
    limits_.max_threads_per_block = 1024;
    limits_.max_threads_per_axis = UINT32_MAX;
  }

  std::string name() const override {
    const HipDeviceInfo& i = dev_->info();
    return fmt::format("rocm:{} ({}, {})", i.ordinal, i.name, i.gfx);
  }
  std::string kind() const override { return "rocm"; }

  void load_kernels(const Library& lib) override {
    check_library_runs_on(lib, *this);
    const Manifest& m = lib.manifest();
    const HipDeviceInfo& info = dev_->info();
    // A code object runs only on the architecture it was compiled for; say which one
    // before the runtime answers with a bare hipErrorNoBinaryForGpu.
    if (m.rocm.gfx != info.gfx)
      throw Error(fmt::format(
          "library '{}' was compiled for {} (target '{}'), but {} is a {}; compile the model "
          "with --target \"rocm -mcpu={}\"",
          lib.path(), m.rocm.gfx, m.target, name(), info.gfx, info.gfx));
    fns_.clear();
    kernels_ = m.kernels;
    module_ = HipModule();
    if (m.kernels.empty()) return;
    module_ = dev_->load_module(lib.hsaco(), "library '" + lib.path() + "'");
    for (const KernelInfo& k : kernels_) fns_.push_back(dev_->get_function(module_, k.name));
  }

  void launch(size_t kernel, std::span<void* const> buffers,
              std::span<const int64_t> scalars) override {
    MLCC_CHECK(kernel < fns_.size(), "rocm device: kernel index out of range");
    const KernelInfo& k = kernels_[kernel];
    LaunchDims dims = eval_launch_dims(k, scalars, limits_, "rocm device");
    // The kernarg layout of library_format.h: pointers, then scalars at their widths, each
    // at its natural alignment; the padding is zero.
    kernarg_.clear();
    auto put = [&](const void* value, size_t bytes) {
      size_t at = align_up(kernarg_.size(), bytes);
      kernarg_.resize(at + bytes);
      std::memcpy(kernarg_.data() + at, value, bytes);
    };
    for (void* b : buffers) put(&b, sizeof(void*));
    for (size_t s = 0; s < scalars.size(); ++s) {
      if (k.scalar_bits[s] == 64) {
        put(&scalars[s], 8);
      } else {
        int32_t v = scalar_to_32_bits(scalars[s], s, k, "rocm device");
        put(&v, 4);
      }
    }
    kernarg_.resize(align_up(kernarg_.size(), 8));
    auto run = [&] {
      dev_->launch(fns_[kernel], dims.grid, dims.block, 0, kernarg_.data(), kernarg_.size());
    };
    run_launch(kernel, run);
  }

 private:
  // Destroyed before GpuBackend's members: the module goes before the device does.
  HipModule module_;
  std::vector<HipFunction> fns_;
  // Reused across launches: hipModuleLaunchKernel copies the arguments before returning.
  std::vector<uint8_t> kernarg_;
};

}  // namespace

std::unique_ptr<Device> make_rocm_device(int ordinal) {
  try {
    return std::make_unique<HipBackend>(HipDevice::open(ordinal));
  } catch (const Error& e) {
    throw Error("cannot open device rocm:" + std::to_string(ordinal) + ": " + e.what());
  }
}

}  // namespace mlcc
