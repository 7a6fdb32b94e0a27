// What the CUDA and HIP backends (cuda_backend.cc, hip_backend.cc) do alike around a kernel
// launch: the grid and block from the manifest's launch expressions, checked against the
// device's limits; the range check of a scalar passed in a 32-bit parameter; and the
// per-launch event timing behind Device::begin_profile / end_profile; and GpuBackend, the
// Device methods both forward to their device class unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "runtime/device.h"
#include "runtime/devices/launch_graph.h"
#include "runtime/library.h"

namespace mlcc {

struct LaunchLimits {
  int64_t grid_max[3] = {(int64_t{1} << 31) - 1, 65535, 65535};  // CUDA's
  int64_t max_threads_per_block = 1024;                          // each block extent
  // When not 0, the most threads grid[a] * block[a] may come to along each axis.
  int64_t max_threads_per_axis = 0;
};

// Evaluates the kernel's grid and block over its scalar arguments. Throws mlcc::Error,
// starting with `who` ("cuda device"), naming the kernel, the expression and the scalars
// when an extent falls outside `limits`.
LaunchDims eval_launch_dims(const KernelInfo& k, std::span<const int64_t> scalars,
                            const LaunchLimits& limits, const std::string& who);

// Scalar argument `index` of kernel `k` for a 32-bit parameter. Floats travel as their bit
// pattern, so 32-bit slots accept unsigned values too: anything in [INT32_MIN, UINT32_MAX]
// passes, truncated to its low 32 bits; other values throw mlcc::Error starting with `who`.
int32_t scalar_to_32_bits(int64_t value, size_t index, const KernelInfo& k, const std::string& who);

// The events of one device's stream, as a profiler uses them.
struct GpuEvents {
  std::function<void*()> create;
  std::function<void(void*)> destroy;
  std::function<void(void*)> record;              // on the stream kernels are launched on
  std::function<float(void*, void*)> elapsed_ms;  // waits for the second
};

// Per-kernel GPU time for Device::begin_profile / end_profile: a pair of pooled events
// around each launch, read (a wait for the GPU) at end(), or every 4096 launches so that
// a long profile holds a bounded number of events. Destroy it before the device's
// context goes.
class LaunchProfiler {
 public:
  explicit LaunchProfiler(GpuEvents events) : events_(std::move(events)) {}
  ~LaunchProfiler();
  LaunchProfiler(const LaunchProfiler&) = delete;
  LaunchProfiler& operator=(const LaunchProfiler&) = delete;

  bool active() const { return active_; }
  // Starts a profile over `num_kernels` kernels, forgetting the launches of one under way.
  void begin(size_t num_kernels);
  // Waits for the timed launches; one entry per kernel launched since begin(), in kernel
  // order (none when not profiling).
  std::vector<KernelTiming> end();
  // Runs `launch` between two events counted for `kernel`.
  void launch_timed(size_t kernel, const std::function<void()>& launch);

 private:
  // A launch timed between two events, not read yet.
  struct Timed {
    size_t kernel;
    void* start;
    void* end;
  };
  void* take_event();  // from the pool, or a new one
  // Waits for the pending launches, adds their times to the totals, recycles their events.
  void read_timings();

  GpuEvents events_;
  bool active_ = false;
  std::vector<Timed> pending_;
  std::vector<void*> pool_;  // recorded and read: free for reuse
  std::vector<int64_t> launches_;
  std::vector<double> seconds_;
};

// What the CUDA and HIP backends share: memory and copies go straight to the device class
// Dev (CudaDevice, HipDevice), launches are timed while profiling. A backend loads its
// module and its kernels_ in load_kernels and launches through run_launch. Members of the
// derived class (its module) go before dev_, and profiler_ before dev_, as the device's
// context needs. A backend that replays decode steps as graphs sets graph_; copies and syncs
// in the middle of a step flush it.
template <class Dev>
class GpuBackend : public Device {
 public:
  explicit GpuBackend(std::unique_ptr<Dev> dev)
      : dev_(std::move(dev)),
        profiler_(GpuEvents{[d = dev_.get()] { return d->create_event(); },
                            [d = dev_.get()](void* e) { d->destroy_event(e); },
                            [d = dev_.get()](void* e) { d->record_event(e); },
                            [d = dev_.get()](void* a, void* b) { return d->elapsed_ms(a, b); }}) {}

  void* alloc(size_t bytes) override { return dev_->alloc(bytes); }
  void free(void* ptr) override { dev_->free(ptr); }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    flush_graph();
    dev_->copy_to_device(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    flush_graph();
    dev_->copy_to_host(dst, src, bytes);
  }
  void copy_device_to_device(void* dst, const void* src, size_t bytes) override {
    flush_graph();
    dev_->copy_device_to_device(dst, src, bytes);
  }
  void memset(void* dst, uint8_t value, size_t bytes) override {
    flush_graph();
    dev_->memset(dst, value, bytes);
  }
  void synchronize() override {
    flush_graph();
    dev_->synchronize();
  }

  // Launches are timed one by one while profiling, so no step is a graph then.
  void begin_graph() override {
    if (graph_ != nullptr && !profiler_.active()) graph_->begin();
  }
  void end_graph() override {
    if (graph_ != nullptr) graph_->end();
  }

  bool begin_profile() override {
    flush_graph();
    profiler_.begin(kernels_.size());
    return true;
  }
  std::vector<KernelTiming> end_profile() override { return profiler_.end(); }

 protected:
  // Runs `launch` (the launch of kernel `kernel`), between timing events while profiling.
  template <class F>
  void run_launch(size_t kernel, F&& launch) {
    if (profiler_.active())
      profiler_.launch_timed(kernel, launch);
    else
      launch();
  }

  void flush_graph() {
    if (graph_ != nullptr) graph_->flush();
  }

  std::unique_ptr<Dev> dev_;
  std::vector<KernelInfo> kernels_;  // of the loaded library
  LaunchLimits limits_;
  LaunchGraph* graph_ = nullptr;

 private:
  LaunchProfiler profiler_;
};

}  // namespace mlcc
