// The CUDA device API: memory, PTX modules, kernel launches and timing over the CUDA
// driver API. The driver (libcuda.so.1) is reached through dlopen, so the runtime builds
// and runs without CUDA and fails with a clear message only when a CUDA device is asked
// for. Kernels come as PTX (LLVM NVPTX output) and are JIT-compiled by the driver at load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/devices/caching_allocator.h"
#include "runtime/devices/gpu_launch.h"

namespace mlcc {

struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int compute_major = 0;  // compute capability, e.g. 9.0 for sm_90
  int compute_minor = 0;
  int sm_count = 0;
  int warp_size = 0;
  int max_threads_per_block = 0;
  int64_t l2_bytes = 0;
  int64_t shared_memory_per_block = 0;        // without opting in (48 KiB)
  int64_t shared_memory_per_block_optin = 0;  // the most a kernel may ask for
  int64_t total_memory = 0;
  int driver_version = 0;  // e.g. 13000 for CUDA 13.0
};

class CudaDevice;
struct CudaDriver;

// A PTX module loaded on a device; unloaded when destroyed. Must not outlive its device.
class CudaModule {
 public:
  CudaModule() = default;
  CudaModule(CudaModule&& other) noexcept;
  CudaModule& operator=(CudaModule&& other) noexcept;
  ~CudaModule();
  bool loaded() const { return handle_ != nullptr; }

 private:
  friend class CudaDevice;
  CudaModule(CudaDevice* device, void* handle) : device_(device), handle_(handle) {}
  void reset();

  CudaDevice* device_ = nullptr;
  void* handle_ = nullptr;  // CUmodule
};

// A kernel of a loaded module (a CUfunction); valid while the module is loaded. The name
// is kept for error messages.
struct CudaFunction {
  void* handle = nullptr;
  std::string name;
};

class CudaDevice {
 public:
  // Opens device `ordinal` through its primary context. The driver library is driver_lib
  // when given, else $MLCC_CUDA_DRIVER_LIB when set, else libcuda.so.1 (then libcuda.so).
  // Throws mlcc::Error when the driver is missing, cannot initialise, or has no such device.
  static std::unique_ptr<CudaDevice> open(int ordinal = 0, const std::string& driver_lib = "");
  // How many CUDA devices the driver sees; throws like open() when there is no driver.
  static int device_count(const std::string& driver_lib = "");

  ~CudaDevice();
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  const CudaDeviceInfo& info() const { return info_; }

  // Device memory through a caching allocator (caching_allocator.h): cuMemAlloc runs only
  // when no freed block of the rounded size is cached. alloc(0) returns a valid small block.
  void* alloc(size_t bytes) { return allocator_.alloc(bytes); }
  // nullptr is ignored; other pointers must come from alloc()
  void free(void* ptr) { allocator_.free(ptr); }
  void release_cached() { allocator_.release_cached(); }
  size_t cached_bytes() const { return allocator_.cached_bytes(); }
  size_t allocated_bytes() const { return allocator_.allocated_bytes(); }  // rounded sizes

  // Copies and memset are ordered with kernels launched on this device; copies to the host
  // return once the data is there.
  void copy_to_device(void* dst, const void* src, size_t bytes);
  void copy_to_host(void* dst, const void* src, size_t bytes);
  void copy_device_to_device(void* dst, const void* src, size_t bytes);
  void memset(void* dst, uint8_t value, size_t bytes);

  // JIT-compiles PTX text; on failure the error includes the driver's JIT log.
  CudaModule load_module(const std::string& ptx);
  CudaFunction get_function(const CudaModule& module, const std::string& name);
  // kernel_params as for cuLaunchKernel: one pointer to each argument's value. Above 48 KiB
  // of dynamic shared memory the kernel's limit is raised first.
  void launch(const CudaFunction& fn, Dim3 grid, Dim3 block, uint32_t dynamic_shared_bytes,
              void** kernel_params);
  void synchronize();

  // Timing events recorded on the device's stream (a CUevent each).
  void* create_event();
  void destroy_event(void* event);
  void record_event(void* event);
  // Waits for `end`, then returns the milliseconds between the two recordings.
  float elapsed_ms(void* start, void* end);

  void* stream() const { return stream_; }  // the CUstream all work goes to

  // A graph of kernel launches, each node depending on the one before (CUgraph, its nodes
  // and the instantiated CUgraphExec), launched on the device's stream. Nodes take their
  // parameters as launch() does; the values are copied when a node is added or updated.
  struct GraphNode {
    const CudaFunction* fn;
    Dim3 grid, block;
    void** params;
  };
  struct Graph {
    void* graph = nullptr;
    void* exec = nullptr;
    std::vector<void*> nodes;
  };
  bool graphs_supported() const;  // false for a driver without the graph API
  Graph build_graph(const std::vector<GraphNode>& nodes);
  void update_graph_node(Graph& g, size_t index, const GraphNode& n);  // same function
  void launch_graph(const Graph& g);
  void destroy_graph(Graph& g) noexcept;

 private:
  friend class CudaModule;
  CudaDevice(std::unique_ptr<CudaDriver> driver, int ordinal);
  // Makes this device's context current on the calling thread when it is not already.
  void make_current();
  void unload_module(void* module) noexcept;
  void* raw_alloc(size_t bytes);  // cuMemAlloc; nullptr on out-of-memory
  void raw_free(void* ptr);
  [[noreturn]] void out_of_memory(size_t bytes, size_t rounded, size_t live_bytes);

  std::unique_ptr<CudaDriver> driver_;
  uint64_t serial_;  // distinguishes devices in the per-thread current-context cache
  int cu_device_ = 0;
  void* context_ = nullptr;  // CUcontext (primary)
  void* stream_ = nullptr;   // CUstream
  CudaDeviceInfo info_;

  CachingAllocator allocator_;

  std::mutex smem_mu_;
  std::unordered_map<void*, uint32_t> smem_configured_;  // CUfunction -> limit set
};

// Times the device work issued between start() and stop() with a pair of events.
class CudaTimer {
 public:
  explicit CudaTimer(CudaDevice& device);
  ~CudaTimer();
  CudaTimer(const CudaTimer&) = delete;
  CudaTimer& operator=(const CudaTimer&) = delete;
  void start();
  float stop_ms();  // waits for the work, returns its duration

 private:
  CudaDevice& device_;
  void* start_;
  void* end_;
};

}  // namespace mlcc
