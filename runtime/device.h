// The device abstraction the VM and the model run on: memory, copies, and the kernels of
// one model library launched by their index in the manifest. One implementation per
// backend (runtime/devices/cpu_device.cc, cuda_backend.cc, hip_backend.cc, vulkan_*.cc);
// open_device picks one by name.
// A Device is used from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace mlcc {

class Library;

// GPU time of one kernel (its index in the manifest's "kernels") over a profile: how many
// times it was launched and the seconds those launches took on the device, summed.
struct KernelTiming {
  size_t kernel = 0;
  int64_t launches = 0;
  double seconds = 0;
};

class Device {
 public:
  virtual ~Device() = default;

  // "cpu", "cuda:0 (NVIDIA H100 80GB HBM3, sm_90)" or "rocm:0 (AMD Radeon RX 7900 XTX,
  // gfx1100)": for messages.
  virtual std::string name() const = 0;
  // The target kind whose libraries this device runs: "cpu", "cuda", "rocm" or "vulkan".
  virtual std::string kind() const = 0;

  // Device memory, aligned to at least 64 bytes (compiled kernels assume aligned buffers).
  // alloc(0) returns a valid block; free(nullptr) does nothing.
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* ptr) = 0;
  // Copies and memset are ordered with launched kernels; copy_to_host returns once the
  // data is on the host.
  virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_device_to_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void memset(void* dst, uint8_t value, size_t bytes) = 0;
  virtual void synchronize() = 0;

  // Makes the kernels of `lib` launchable by their index in the manifest's "kernels".
  // Throws mlcc::Error naming the library when it was compiled for another target kind or
  // a target this device cannot run. `lib` must outlive the device's use of its kernels.
  virtual void load_kernels(const Library& lib) = 0;
  // Launches kernel `kernel` with its buffer arguments (device pointers) and scalar
  // arguments. Counts are checked by the VM when it validates the bytecode.
  virtual void launch(size_t kernel, std::span<void* const> buffers,
                      std::span<const int64_t> scalars) = 0;

  // The launches between begin_graph and end_graph are one step of a sequence that repeats
  // (a decode step: the same kernels, only some arguments differ). A device may replay such
  // steps as one graph (CUDA graphs), updating the arguments that changed; the results are
  // the same as launching each kernel. Copies and syncs inside a step are allowed but cost
  // the replay of that step. By default nothing changes.
  virtual void begin_graph() {}
  virtual void end_graph() {}

  // Per-kernel GPU timing, to see where a decode step's time goes: between begin_profile
  // and end_profile every launch is timed on the device (timestamps or events around it,
  // which add a little time per launch). begin_profile returns false, timing nothing, where
  // the device cannot time kernels (the CPU device; a Vulkan queue without timestamps);
  // called again it starts over. end_profile waits for the launches and returns, in kernel
  // order, one entry per kernel launched since begin_profile (none when nothing ran).
  virtual bool begin_profile() { return false; }
  virtual std::vector<KernelTiming> end_profile() { return {}; }
};

// "cpu", "cuda" (device 0), "cuda:N", "rocm" (device 0), "rocm:N", "vulkan" (device 0) or
// "vulkan:N". Throws mlcc::Error for an unknown name and when the backend cannot start (e.g.
// "CUDA driver not found ...", "HIP runtime not found ...").
std::unique_ptr<Device> open_device(const std::string& name);

// The backends behind open_device.
std::unique_ptr<Device> make_cpu_device();
std::unique_ptr<Device> make_cuda_device(int ordinal);
// An AMD GPU through the HIP runtime (runtime/devices/hip_device.h).
std::unique_ptr<Device> make_rocm_device(int ordinal);
// Device `index` of list_vulkan_devices() (runtime/devices/vulkan_device.h); throws
// mlcc::Error where mlcc was built without Vulkan headers.
std::unique_ptr<Device> make_vulkan_device(int index);

// Throws mlcc::Error unless `lib` was compiled for the kind of device `dev` is.
void check_library_runs_on(const Library& lib, const Device& dev);

// A device allocation freed when it goes out of scope.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Device& dev, size_t bytes) : dev_(&dev), ptr_(dev.alloc(bytes)), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : dev_(o.dev_), ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      dev_ = o.dev_;
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { reset(); }

  void reset() {
    if (ptr_ != nullptr) dev_->free(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  Device* dev_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace mlcc
