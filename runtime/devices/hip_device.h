// The HIP device API: memory, HSA code objects, kernel launches and timing over AMD's HIP
// runtime (ROCm). The runtime (libamdhip64) is reached through dlopen, so mlcc builds and
// runs without ROCm and fails with a clear message only when a ROCm device is asked for.
// Kernels come as a code object already compiled for the device's gfx architecture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "runtime/devices/caching_allocator.h"
#include "runtime/devices/gpu_launch.h"

namespace mlcc {

struct HipDeviceInfo {
  int ordinal = 0;
  std::string name;           // "AMD Radeon RX 7900 XTX"
  std::string gfx;            // the architecture, "gfx1100", without target features
  std::string gcn_arch_name;  // as the runtime reports it, "gfx90a:sramecc+:xnack-"
  int64_t total_memory = 0;
  int runtime_version = 0;  // e.g. 50221153 for HIP 5.2
  std::string library;      // the runtime library that was loaded
};

class HipDevice;
struct HipRuntime;

// A code object loaded on a device; unloaded when destroyed. Must not outlive its device.
class HipModule {
 public:
  HipModule() = default;
  HipModule(HipModule&& other) noexcept;
  HipModule& operator=(HipModule&& other) noexcept;
  ~HipModule();
  bool loaded() const { return handle_ != nullptr; }

 private:
  friend class HipDevice;
  HipModule(HipDevice* device, void* handle) : device_(device), handle_(handle) {}
  void reset();

  HipDevice* device_ = nullptr;
  void* handle_ = nullptr;  // hipModule_t
};

// A kernel of a loaded module (a hipFunction_t); valid while the module is loaded.
struct HipFunction {
  void* handle = nullptr;
  std::string name;
};

class HipDevice {
 public:
  // Opens device `ordinal`. The runtime library is $MLCC_HIP_LIBRARY when set, else
  // libamdhip64.so.6, libamdhip64.so.5 or libamdhip64.so, the first that loads. Throws
  // mlcc::Error when the runtime is missing, sees no AMD GPU, or has no such device.
  static std::unique_ptr<HipDevice> open(int ordinal = 0);
  // How many devices the runtime sees (0 where it finds no AMD GPU, as without /dev/kfd);
  // throws like open() when there is no runtime.
  static int device_count();

  ~HipDevice();
  HipDevice(const HipDevice&) = delete;
  HipDevice& operator=(const HipDevice&) = delete;

  const HipDeviceInfo& info() const { return info_; }

  // Device memory through a caching allocator (caching_allocator.h): hipMalloc runs only
  // when no freed block of the rounded size is cached. alloc(0) returns a valid block.
  void* alloc(size_t bytes) { return allocator_.alloc(bytes); }
  void free(void* ptr) { allocator_.free(ptr); }  // nullptr is ignored
  void release_cached() { allocator_.release_cached(); }
  size_t cached_bytes() const { return allocator_.cached_bytes(); }
  size_t allocated_bytes() const { return allocator_.allocated_bytes(); }  // rounded sizes

  // All work goes to one stream, so copies and memset are ordered with kernels. Both
  // copies with the host return once the host memory may be reused or read.
  void copy_to_device(void* dst, const void* src, size_t bytes);
  void copy_to_host(void* dst, const void* src, size_t bytes);
  void copy_device_to_device(void* dst, const void* src, size_t bytes);
  void memset(void* dst, uint8_t value, size_t bytes);
  void synchronize();

  // Loads an HSA code object (an AMDGPU ELF). `what` names it in errors (the library).
  HipModule load_module(std::span<const uint8_t> code_object, const std::string& what);
  HipFunction get_function(const HipModule& module, const std::string& name);
  // Launches with the kernel's arguments packed into one kernarg buffer of `kernarg_bytes`
  // (hipModuleLaunchKernel's `extra`), which the runtime copies before returning.
  void launch(const HipFunction& fn, Dim3 grid, Dim3 block, uint32_t dynamic_shared_bytes,
              void* kernarg, size_t kernarg_bytes);

  // Timing events recorded on the device's stream (a hipEvent_t each).
  void* create_event();
  void destroy_event(void* event);
  void record_event(void* event);
  // Waits for `end`, then returns the milliseconds between the two recordings.
  float elapsed_ms(void* start, void* end);

 private:
  friend class HipModule;
  HipDevice(std::unique_ptr<HipRuntime> runtime, int ordinal);
  // Makes this device the calling thread's current HIP device when it is not already.
  void make_current();
  void unload_module(void* module) noexcept;
  void* raw_alloc(size_t bytes);  // hipMalloc; nullptr on out-of-memory
  void raw_free(void* ptr);
  [[noreturn]] void out_of_memory(size_t bytes, size_t rounded, size_t live_bytes);

  std::unique_ptr<HipRuntime> rt_;
  uint64_t serial_;         // distinguishes devices in the per-thread current-device cache
  void* stream_ = nullptr;  // hipStream_t
  HipDeviceInfo info_;
  CachingAllocator allocator_;
};

// The architecture in a hipDeviceProp_t of any HIP version, read from `props` as filled
// by hipGetDeviceProperties: the gcnArchName field ("gfx90a:sramecc+:xnack-"), or "" when
// none is found. Exposed for the tests.
std::string find_gcn_arch_name(std::span<const uint8_t> props);

}  // namespace mlcc
