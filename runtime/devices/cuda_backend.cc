// The CUDA device of the model runtime: wraps CudaDevice (runtime/devices/cuda_device.h),
// JIT-loads the library's PTX module and launches its kernels with the grid and block the
// manifest's postfix extents give for each call's scalar arguments. Profiles time each
// launch between two events on the device's stream.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstddef>
#include <cstdlib>
#include <vector>

#include "runtime/device.h"
#include "runtime/devices/cuda_device.h"
#include "runtime/error.h"
#include "runtime/library.h"

namespace mlcc {
namespace {

// Launches timed at most before their events are read (a wait for the GPU) and recycled.
constexpr size_t kMaxPendingTimings = 4096;

// The sm number in "-arch=sm_90" of a cuda target string, or 0 when it names none.
int target_sm(const std::string& target) {
  size_t at = target.find("-arch=sm_");
  if (at == std::string::npos) return 0;
  return std::atoi(target.c_str() + at + 9);
}

class CudaBackend final : public Device {
 public:
  explicit CudaBackend(std::unique_ptr<CudaDevice> dev) : dev_(std::move(dev)) {}
  ~CudaBackend() override {
    // Events and the module must go before the device's context does.
    try {
      for (const Timed& t : pending_) {
        dev_->destroy_event(t.start);
        dev_->destroy_event(t.end);
      }
      for (void* e : events_) dev_->destroy_event(e);
    } catch (const Error&) {
      // A sticky error of the context: its release frees the events anyway.
    }
    module_ = CudaModule();
  }

  std::string name() const override {
    const CudaDeviceInfo& i = dev_->info();
    return fmt::format("cuda:{} ({}, sm_{}{})", i.ordinal, i.name, i.compute_major,
                       i.compute_minor);
  }
  std::string kind() const override { return "cuda"; }

  void* alloc(size_t bytes) override { return dev_->alloc(bytes); }
  void free(void* ptr) override { dev_->free(ptr); }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    dev_->copy_to_device(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    dev_->copy_to_host(dst, src, bytes);
  }
  void copy_device_to_device(void* dst, const void* src, size_t bytes) override {
    dev_->copy_device_to_device(dst, src, bytes);
  }
  void memset(void* dst, uint8_t value, size_t bytes) override { dev_->memset(dst, value, bytes); }
  void synchronize() override { dev_->synchronize(); }

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
    const CudaDeviceInfo& info = dev_->info();
    uint32_t grid[3], block[3];
    static const int64_t kGridMax[3] = {(int64_t{1} << 31) - 1, 65535, 65535};
    for (int a = 0; a < 3; ++a) {
      int64_t g = k.grid[a].eval(scalars), b = k.block[a].eval(scalars);
      if (g < 1 || g > kGridMax[a] || b < 1 || b > info.max_threads_per_block)
        throw Error(fmt::format(
            "cuda device: kernel '{}' gets launch extents grid[{}] = {} = {} and block[{}] = {} "
            "= {} for scalars ({}); expected a grid in [1, {}] and a block in [1, {}]",
            k.name, a, k.grid[a].str(), g, a, k.block[a].str(), b, fmt::join(scalars, ", "),
            kGridMax[a], info.max_threads_per_block));
      grid[a] = static_cast<uint32_t>(g);
      block[a] = static_cast<uint32_t>(b);
    }
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
      // Floats travel as their bit pattern, so 32-bit slots accept unsigned values too.
      if (scalars[s] < INT32_MIN || scalars[s] > UINT32_MAX)
        throw Error(
            fmt::format("cuda device: scalar argument {} of kernel '{}' is {}, which "
                        "does not fit its 32-bit parameter",
                        s, k.name, scalars[s]));
      scalar32_[s] = static_cast<int32_t>(static_cast<uint32_t>(scalars[s]));
      params_.push_back(&scalar32_[s]);
    }
    if (!profiling_) {
      dev_->launch(fns_[kernel], {grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}, 0,
                   params_.data());
      return;
    }
    if (pending_.size() >= kMaxPendingTimings) read_timings();
    Timed t{kernel, take_event(), nullptr};
    try {
      t.end = take_event();
      dev_->record_event(t.start);
      dev_->launch(fns_[kernel], {grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}, 0,
                   params_.data());
      dev_->record_event(t.end);
    } catch (...) {
      events_.push_back(t.start);
      if (t.end != nullptr) events_.push_back(t.end);
      throw;
    }
    pending_.push_back(t);
  }

  bool begin_profile() override {
    read_timings();  // a profile started over forgets the last one's launches
    launches_.assign(kernels_.size(), 0);
    seconds_.assign(kernels_.size(), 0.0);
    profiling_ = true;
    return true;
  }

  std::vector<KernelTiming> end_profile() override {
    if (!profiling_) return {};
    read_timings();
    profiling_ = false;
    std::vector<KernelTiming> out;
    for (size_t k = 0; k < launches_.size(); ++k)
      if (launches_[k] > 0) out.push_back({k, launches_[k], seconds_[k]});
    return out;
  }

 private:
  std::unique_ptr<CudaDevice> dev_;
  CudaModule module_;
  std::vector<CudaFunction> fns_;
  std::vector<KernelInfo> kernels_;

  // A launch timed between two events, not read yet.
  struct Timed {
    size_t kernel;
    void* start;
    void* end;
  };
  // An event from the pool, or a new one.
  void* take_event() {
    if (events_.empty()) return dev_->create_event();
    void* e = events_.back();
    events_.pop_back();
    return e;
  }
  // Waits for the pending launches, adds their times to the totals, recycles their events.
  void read_timings() {
    size_t i = 0;
    try {
      for (; i < pending_.size(); ++i) {
        const Timed& t = pending_[i];
        float ms = dev_->elapsed_ms(t.start, t.end);
        if (t.kernel >= launches_.size()) {
          launches_.resize(t.kernel + 1, 0);
          seconds_.resize(t.kernel + 1, 0.0);
        }
        ++launches_[t.kernel];
        seconds_[t.kernel] += static_cast<double>(ms) * 1e-3;
        events_.push_back(t.start);
        events_.push_back(t.end);
      }
    } catch (...) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(i));
      throw;
    }
    pending_.clear();
  }
  bool profiling_ = false;
  std::vector<Timed> pending_;
  std::vector<void*> events_;  // recorded and read: free for reuse
  std::vector<int64_t> launches_;
  std::vector<double> seconds_;
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
