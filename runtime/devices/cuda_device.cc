// The CUDA device over the driver API, loaded with dlopen. The few driver types and enum
// values used are declared here rather than taken from cuda.h, so the runtime builds on
// machines without the CUDA toolkit and links nothing from it.
#include "runtime/devices/cuda_device.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "runtime/error.h"

namespace mlcc {
namespace {

// Driver API types: every handle is an opaque pointer, device memory a 64-bit address.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;

// Enum values from cuda.h (stable across driver versions).
constexpr CUresult kCudaSuccess = 0;
constexpr CUresult kCudaErrorOutOfMemory = 2;
constexpr int kAttrMaxThreadsPerBlock = 1;
constexpr int kAttrMaxSharedMemoryPerBlock = 8;
constexpr int kAttrWarpSize = 10;
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrL2CacheSize = 38;
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;
constexpr int kAttrMaxSharedMemoryPerBlockOptin = 97;
constexpr int kFuncAttrMaxDynamicSharedSizeBytes = 8;
constexpr int kJitInfoLogBuffer = 3;
constexpr int kJitInfoLogBufferSizeBytes = 4;
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSizeBytes = 6;
constexpr unsigned kStreamDefault = 0;  // blocking: ordered with the legacy stream's copies
constexpr unsigned kEventDefault = 0;

// Kernels may use this much dynamic shared memory without opting in.
constexpr uint32_t kDefaultSharedLimit = 48 * 1024;

// CUDA_KERNEL_NODE_PARAMS_v2 of cuda.h (CUDA 12 and later).
struct KernelNodeParams {
  void* func;
  unsigned grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes;
  void** kernel_params;
  void** extra;
  void* kern;
  void* ctx;
};

CUdeviceptr dptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

std::atomic<uint64_t> g_next_serial{1};
// The serial of the device whose context this thread made current last, so that most
// calls skip cuCtxSetCurrent.
thread_local uint64_t t_current_serial = 0;

}  // namespace

struct CudaDriver {
  void* lib = nullptr;
  std::string lib_name;

  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int*) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char**) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char**) = nullptr;
  CUresult (*cuDeviceGetCount)(int*) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
  CUresult (*cuDeviceGetName)(char*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(void**, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(void*) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemGetInfo)(size_t*, size_t*) = nullptr;  // optional
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t) = nullptr;
  CUresult (*cuModuleLoadDataEx)(void**, const void*, unsigned, int*, void**) = nullptr;
  CUresult (*cuModuleUnload)(void*) = nullptr;
  CUresult (*cuModuleGetFunction)(void**, void*, const char*) = nullptr;
  CUresult (*cuFuncSetAttribute)(void*, int, int) = nullptr;
  CUresult (*cuLaunchKernel)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, void*, void**, void**) = nullptr;
  CUresult (*cuStreamCreate)(void**, unsigned) = nullptr;
  CUresult (*cuStreamDestroy)(void*) = nullptr;
  CUresult (*cuEventCreate)(void**, unsigned) = nullptr;
  CUresult (*cuEventDestroy)(void*) = nullptr;
  CUresult (*cuEventRecord)(void*, void*) = nullptr;
  CUresult (*cuEventSynchronize)(void*) = nullptr;
  CUresult (*cuEventElapsedTime)(float*, void*, void*) = nullptr;
  // Graphs (optional: without them every launch is eager).
  CUresult (*cuGraphCreate)(void**, unsigned) = nullptr;
  CUresult (*cuGraphAddKernelNode)(void**, void*, void* const*, size_t,
                                   const KernelNodeParams*) = nullptr;
  CUresult (*cuGraphInstantiateWithFlags)(void**, void*, unsigned long long) = nullptr;
  CUresult (*cuGraphExecKernelNodeSetParams)(void*, void*, const KernelNodeParams*) = nullptr;
  CUresult (*cuGraphLaunch)(void*, void*) = nullptr;
  CUresult (*cuGraphExecDestroy)(void*) = nullptr;
  CUresult (*cuGraphDestroy)(void*) = nullptr;

  // Looks up the first of `names` that the driver exports (newest entry point first).
  template <typename Fn>
  void resolve(Fn& fn, std::initializer_list<const char*> names, bool required = true) {
    for (const char* name : names) {
      if (void* sym = dlsym(lib, name)) {
        fn = reinterpret_cast<Fn>(sym);
        return;
      }
    }
    if (required)
      throw Error(fmt::format(
          "CUDA driver {} lacks {}: it is too old for mlcc; install a newer NVIDIA driver",
          lib_name, *names.begin()));
  }

  std::string describe(CUresult r, std::string_view call) const {
    const char* name = nullptr;
    const char* desc = nullptr;
    if (cuGetErrorName(r, &name) != kCudaSuccess || name == nullptr)
      name = "CUDA_ERROR_UNKNOWN_CODE";
    if (cuGetErrorString(r, &desc) != kCudaSuccess || desc == nullptr) desc = "no description";
    return fmt::format("CUDA error {} (code {}) in {}: {}", name, r, call, desc);
  }

  [[noreturn]] void fail(CUresult r, std::string_view call, std::string_view detail = {}) const {
    std::string msg = describe(r, call);
    if (!detail.empty()) msg += fmt::format("; {}", detail);
    throw Error(msg);
  }

  void check(CUresult r, std::string_view call) const {
    if (r != kCudaSuccess) fail(r, call);
  }
};

namespace {

std::unique_ptr<CudaDriver> load_driver(const std::string& requested) {
  std::string path = requested;
  if (path.empty()) {
    const char* env = std::getenv("MLCC_CUDA_DRIVER_LIB");
    if (env != nullptr) path = env;
  }
  void* lib = nullptr;
  if (!path.empty()) {
    lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  } else {
    path = "libcuda.so.1";
    lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    // Some installs (stub or development layouts) provide only the unversioned name.
    if (lib == nullptr) {
      const char* e = dlerror();
      std::string first_error = e != nullptr ? e : "unknown error";
      lib = dlopen("libcuda.so", RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr)
        throw Error(fmt::format(
            "CUDA driver not found: could not load {} ({}); install the NVIDIA driver or "
            "choose another device",
            path, first_error));
      path = "libcuda.so";
    }
  }
  if (lib == nullptr) {
    const char* e = dlerror();
    throw Error(
        fmt::format("CUDA driver not found: could not load {} ({}); install the NVIDIA driver or "
                    "choose another device",
                    path, e != nullptr ? e : "unknown error"));
  }

  // The library stays loaded for the life of the process: the driver keeps process-wide
  // state and does not support being unloaded.
  auto d = std::make_unique<CudaDriver>();
  d->lib = lib;
  d->lib_name = path;
  d->resolve(d->cuGetErrorName, {"cuGetErrorName"});
  d->resolve(d->cuGetErrorString, {"cuGetErrorString"});
  d->resolve(d->cuInit, {"cuInit"});
  d->resolve(d->cuDriverGetVersion, {"cuDriverGetVersion"});
  d->resolve(d->cuDeviceGetCount, {"cuDeviceGetCount"});
  d->resolve(d->cuDeviceGet, {"cuDeviceGet"});
  d->resolve(d->cuDeviceGetName, {"cuDeviceGetName"});
  d->resolve(d->cuDeviceGetAttribute, {"cuDeviceGetAttribute"});
  d->resolve(d->cuDeviceTotalMem, {"cuDeviceTotalMem_v2"});
  d->resolve(d->cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"});
  d->resolve(d->cuDevicePrimaryCtxRelease,
             {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"});
  d->resolve(d->cuCtxSetCurrent, {"cuCtxSetCurrent"});
  d->resolve(d->cuCtxSynchronize, {"cuCtxSynchronize"});
  d->resolve(d->cuMemAlloc, {"cuMemAlloc_v2"});
  d->resolve(d->cuMemFree, {"cuMemFree_v2"});
  d->resolve(d->cuMemGetInfo, {"cuMemGetInfo_v2"}, /*required=*/false);
  d->resolve(d->cuMemcpyHtoD, {"cuMemcpyHtoD_v2"});
  d->resolve(d->cuMemcpyDtoH, {"cuMemcpyDtoH_v2"});
  d->resolve(d->cuMemcpyDtoD, {"cuMemcpyDtoD_v2"});
  d->resolve(d->cuMemsetD8, {"cuMemsetD8_v2"});
  d->resolve(d->cuModuleLoadDataEx, {"cuModuleLoadDataEx"});
  d->resolve(d->cuModuleUnload, {"cuModuleUnload"});
  d->resolve(d->cuModuleGetFunction, {"cuModuleGetFunction"});
  d->resolve(d->cuFuncSetAttribute, {"cuFuncSetAttribute"});
  d->resolve(d->cuLaunchKernel, {"cuLaunchKernel"});
  d->resolve(d->cuStreamCreate, {"cuStreamCreate"});
  d->resolve(d->cuStreamDestroy, {"cuStreamDestroy_v2"});
  d->resolve(d->cuEventCreate, {"cuEventCreate"});
  d->resolve(d->cuEventDestroy, {"cuEventDestroy_v2"});
  d->resolve(d->cuEventRecord, {"cuEventRecord"});
  d->resolve(d->cuEventSynchronize, {"cuEventSynchronize"});
  d->resolve(d->cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"});
  d->resolve(d->cuGraphCreate, {"cuGraphCreate"}, false);
  d->resolve(d->cuGraphAddKernelNode, {"cuGraphAddKernelNode_v2"}, false);
  d->resolve(d->cuGraphInstantiateWithFlags, {"cuGraphInstantiateWithFlags"}, false);
  d->resolve(d->cuGraphExecKernelNodeSetParams, {"cuGraphExecKernelNodeSetParams_v2"}, false);
  d->resolve(d->cuGraphLaunch, {"cuGraphLaunch"}, false);
  d->resolve(d->cuGraphExecDestroy, {"cuGraphExecDestroy"}, false);
  d->resolve(d->cuGraphDestroy, {"cuGraphDestroy"}, false);

  CUresult r = d->cuInit(0);
  if (r != kCudaSuccess)
    throw Error(
        fmt::format("the CUDA driver ({}) could not initialise, so no CUDA device can be "
                    "used (0 devices): {}",
                    path, d->describe(r, "cuInit")));
  return d;
}

}  // namespace

int CudaDevice::device_count(const std::string& driver_lib) {
  auto driver = load_driver(driver_lib);
  int count = 0;
  driver->check(driver->cuDeviceGetCount(&count), "cuDeviceGetCount");
  return count;
}

std::unique_ptr<CudaDevice> CudaDevice::open(int ordinal, const std::string& driver_lib) {
  auto driver = load_driver(driver_lib);
  int count = 0;
  driver->check(driver->cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (ordinal < 0 || ordinal >= count)
    throw Error(
        fmt::format("CUDA device {} does not exist (CUDA_ERROR_INVALID_DEVICE): the driver sees {} "
                    "device{}{}",
                    ordinal, count, count == 1 ? "" : "s",
                    count > 0 ? fmt::format("; choose an ordinal from 0 to {}", count - 1) : ""));
  return std::unique_ptr<CudaDevice>(new CudaDevice(std::move(driver), ordinal));
}

CudaDevice::CudaDevice(std::unique_ptr<CudaDriver> driver, int ordinal)
    : driver_(std::move(driver)),
      serial_(g_next_serial.fetch_add(1)),
      allocator_(
          fmt::format("CUDA device {}", ordinal), [this](size_t n) { return raw_alloc(n); },
          [this](void* p) { raw_free(p); },
          [this](size_t n, size_t rounded, size_t live) { out_of_memory(n, rounded, live); }) {
  const CudaDriver& d = *driver_;
  d.check(d.cuDeviceGet(&cu_device_, ordinal), "cuDeviceGet");
  // The primary context is the one the CUDA runtime and other libraries share, so device
  // memory can pass between mlcc and, say, PyTorch in the same process.
  d.check(d.cuDevicePrimaryCtxRetain(&context_, cu_device_), "cuDevicePrimaryCtxRetain");
  try {
    make_current();
    d.check(d.cuStreamCreate(&stream_, kStreamDefault), "cuStreamCreate");

    auto attr = [&](int which) {
      int v = 0;
      d.check(d.cuDeviceGetAttribute(&v, which, cu_device_), "cuDeviceGetAttribute");
      return v;
    };
    info_.ordinal = ordinal;
    char name[256] = {};
    d.check(d.cuDeviceGetName(name, sizeof(name) - 1, cu_device_), "cuDeviceGetName");
    info_.name = name;
    info_.compute_major = attr(kAttrComputeCapabilityMajor);
    info_.compute_minor = attr(kAttrComputeCapabilityMinor);
    info_.sm_count = attr(kAttrMultiprocessorCount);
    info_.warp_size = attr(kAttrWarpSize);
    info_.max_threads_per_block = attr(kAttrMaxThreadsPerBlock);
    info_.l2_bytes = attr(kAttrL2CacheSize);
    info_.shared_memory_per_block = attr(kAttrMaxSharedMemoryPerBlock);
    info_.shared_memory_per_block_optin = attr(kAttrMaxSharedMemoryPerBlockOptin);
    size_t total = 0;
    d.check(d.cuDeviceTotalMem(&total, cu_device_), "cuDeviceTotalMem_v2");
    info_.total_memory = static_cast<int64_t>(total);
    d.check(d.cuDriverGetVersion(&info_.driver_version), "cuDriverGetVersion");
  } catch (...) {
    if (stream_ != nullptr) d.cuStreamDestroy(stream_);
    d.cuDevicePrimaryCtxRelease(cu_device_);
    if (t_current_serial == serial_) t_current_serial = 0;
    throw;
  }
}

CudaDevice::~CudaDevice() {
  const CudaDriver& d = *driver_;
  // Errors here (say, a sticky error left by a failed kernel) cannot be reported from a
  // destructor; the context release below frees whatever remains anyway.
  try {
    make_current();
  } catch (const Error&) {
  }
  d.cuCtxSynchronize();
  allocator_.drop_all([&](void* p) { d.cuMemFree(dptr(p)); });
  d.cuStreamDestroy(stream_);
  d.cuDevicePrimaryCtxRelease(cu_device_);
  if (t_current_serial == serial_) t_current_serial = 0;
}

void CudaDevice::make_current() {
  if (t_current_serial == serial_) return;
  driver_->check(driver_->cuCtxSetCurrent(context_), "cuCtxSetCurrent");
  t_current_serial = serial_;
}

// ---- memory ----

void* CudaDevice::raw_alloc(size_t bytes) {
  make_current();
  CUdeviceptr p = 0;
  CUresult r = driver_->cuMemAlloc(&p, bytes);
  if (r == kCudaErrorOutOfMemory) return nullptr;
  driver_->check(r, "cuMemAlloc_v2");
  return reinterpret_cast<void*>(static_cast<uintptr_t>(p));
}

void CudaDevice::raw_free(void* ptr) {
  make_current();
  driver_->check(driver_->cuMemFree(dptr(ptr)), "cuMemFree_v2");
}

void CudaDevice::out_of_memory(size_t bytes, size_t rounded, size_t live_bytes) {
  std::string free_info;
  size_t free_bytes = 0, total_bytes = 0;
  if (driver_->cuMemGetInfo != nullptr &&
      driver_->cuMemGetInfo(&free_bytes, &total_bytes) == kCudaSuccess)
    free_info = fmt::format("; the driver reports {} of {} bytes free", free_bytes, total_bytes);
  throw Error(fmt::format(
      "CUDA out of memory on device {} ({}): cannot allocate {} bytes ({} after rounding); "
      "mlcc holds {} bytes in live allocations{}",
      info_.ordinal, info_.name, bytes, rounded, live_bytes, free_info));
}

void CudaDevice::copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  driver_->check(driver_->cuMemcpyHtoD(dptr(dst), src, bytes), "cuMemcpyHtoD_v2");
}

void CudaDevice::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  driver_->check(driver_->cuMemcpyDtoH(dst, dptr(src), bytes), "cuMemcpyDtoH_v2");
}

void CudaDevice::copy_device_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  driver_->check(driver_->cuMemcpyDtoD(dptr(dst), dptr(src), bytes), "cuMemcpyDtoD_v2");
}

void CudaDevice::memset(void* dst, uint8_t value, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  driver_->check(driver_->cuMemsetD8(dptr(dst), value, bytes), "cuMemsetD8_v2");
}

// ---- modules and kernels ----

CudaModule CudaDevice::load_module(const std::string& ptx) {
  make_current();
  std::string error_log(16 * 1024, '\0');
  std::string info_log(16 * 1024, '\0');
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSizeBytes, kJitInfoLogBuffer,
                   kJitInfoLogBufferSizeBytes};
  // Sizes travel in the pointer-sized option slots; one byte is kept for the terminator.
  void* values[] = {error_log.data(), reinterpret_cast<void*>(error_log.size() - 1),
                    info_log.data(), reinterpret_cast<void*>(info_log.size() - 1)};
  void* module = nullptr;
  CUresult r = driver_->cuModuleLoadDataEx(&module, ptx.c_str(), 4, options, values);
  if (r != kCudaSuccess) {
    std::string log = error_log.c_str();
    if (log.empty()) log = info_log.c_str();
    driver_->fail(r, "cuModuleLoadDataEx",
                  log.empty() ? "the PTX JIT gave no log" : "PTX JIT log:\n" + log);
  }
  return CudaModule(this, module);
}

CudaFunction CudaDevice::get_function(const CudaModule& module, const std::string& name) {
  if (!module.loaded() || module.device_ != this)
    throw Error(
        fmt::format("cannot look up CUDA kernel '{}': the module is not loaded on "
                    "CUDA device {}",
                    name, info_.ordinal));
  make_current();
  void* fn = nullptr;
  CUresult r = driver_->cuModuleGetFunction(&fn, module.handle_, name.c_str());
  if (r != kCudaSuccess)
    driver_->fail(r, "cuModuleGetFunction", fmt::format("the module has no kernel '{}'", name));
  return CudaFunction{fn, name};
}

void CudaDevice::launch(const CudaFunction& fn, Dim3 grid, Dim3 block,
                        uint32_t dynamic_shared_bytes, void** kernel_params) {
  if (fn.handle == nullptr) throw Error("cannot launch a CUDA kernel that was never looked up");
  make_current();
  if (dynamic_shared_bytes > kDefaultSharedLimit) {
    if (dynamic_shared_bytes > info_.shared_memory_per_block_optin)
      throw Error(fmt::format(
          "CUDA kernel '{}' needs {} bytes of dynamic shared memory, but {} allows at most {} "
          "per block",
          fn.name, dynamic_shared_bytes, info_.name, info_.shared_memory_per_block_optin));
    std::lock_guard<std::mutex> lock(smem_mu_);
    uint32_t& configured = smem_configured_[fn.handle];
    if (configured < dynamic_shared_bytes) {
      CUresult r = driver_->cuFuncSetAttribute(fn.handle, kFuncAttrMaxDynamicSharedSizeBytes,
                                               static_cast<int>(dynamic_shared_bytes));
      if (r != kCudaSuccess)
        driver_->fail(r, "cuFuncSetAttribute",
                      fmt::format("raising kernel '{}' to {} bytes of dynamic shared memory",
                                  fn.name, dynamic_shared_bytes));
      configured = dynamic_shared_bytes;
    }
  }
  CUresult r = driver_->cuLaunchKernel(fn.handle, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                                       dynamic_shared_bytes, stream_, kernel_params, nullptr);
  if (r != kCudaSuccess)
    driver_->fail(r, "cuLaunchKernel",
                  fmt::format("kernel '{}', grid ({}, {}, {}), block ({}, {}, {}), {} bytes of "
                              "dynamic shared memory",
                              fn.name, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                              dynamic_shared_bytes));
}

void CudaDevice::synchronize() {
  make_current();
  CUresult r = driver_->cuCtxSynchronize();
  if (r != kCudaSuccess)
    driver_->fail(r, "cuCtxSynchronize",
                  "work queued earlier failed (kernel faults surface at the next "
                  "synchronisation)");
}

void CudaDevice::unload_module(void* module) noexcept {
  try {
    make_current();
  } catch (const Error&) {
  }
  driver_->cuModuleUnload(module);
  // A later module may reuse the handles of this one's functions.
  std::lock_guard<std::mutex> lock(smem_mu_);
  smem_configured_.clear();
}

// ---- events ----

void* CudaDevice::create_event() {
  make_current();
  void* e = nullptr;
  driver_->check(driver_->cuEventCreate(&e, kEventDefault), "cuEventCreate");
  return e;
}

void CudaDevice::destroy_event(void* event) {
  if (event == nullptr) return;
  make_current();
  driver_->check(driver_->cuEventDestroy(event), "cuEventDestroy_v2");
}

void CudaDevice::record_event(void* event) {
  make_current();
  driver_->check(driver_->cuEventRecord(event, stream_), "cuEventRecord");
}

float CudaDevice::elapsed_ms(void* start, void* end) {
  make_current();
  driver_->check(driver_->cuEventSynchronize(end), "cuEventSynchronize");
  float ms = 0;
  driver_->check(driver_->cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime");
  return ms;
}

// ---- graphs ----

namespace {
KernelNodeParams node_params(const CudaFunction& fn, Dim3 grid, Dim3 block, void** params) {
  return KernelNodeParams{fn.handle, grid.x, grid.y, grid.z,  block.x, block.y,
                          block.z,   0,      params, nullptr, nullptr, nullptr};
}
}  // namespace

bool CudaDevice::graphs_supported() const {
  const CudaDriver& d = *driver_;
  return d.cuGraphCreate && d.cuGraphAddKernelNode && d.cuGraphInstantiateWithFlags &&
         d.cuGraphExecKernelNodeSetParams && d.cuGraphLaunch && d.cuGraphExecDestroy &&
         d.cuGraphDestroy;
}

CudaDevice::Graph CudaDevice::build_graph(const std::vector<GraphNode>& nodes) {
  MLCC_CHECK(graphs_supported(), "the CUDA driver has no graph API");
  make_current();
  const CudaDriver& d = *driver_;
  Graph g;
  d.check(d.cuGraphCreate(&g.graph, 0), "cuGraphCreate");
  try {
    void* prev = nullptr;
    for (const GraphNode& n : nodes) {
      KernelNodeParams p = node_params(*n.fn, n.grid, n.block, n.params);
      void* node = nullptr;
      CUresult r = d.cuGraphAddKernelNode(&node, g.graph, &prev, prev ? 1 : 0, &p);
      if (r != kCudaSuccess)
        d.fail(r, "cuGraphAddKernelNode", fmt::format("kernel '{}'", n.fn->name));
      g.nodes.push_back(node);
      prev = node;
    }
    d.check(d.cuGraphInstantiateWithFlags(&g.exec, g.graph, 0), "cuGraphInstantiateWithFlags");
  } catch (...) {
    destroy_graph(g);
    throw;
  }
  return g;
}

void CudaDevice::update_graph_node(Graph& g, size_t index, const GraphNode& n) {
  make_current();
  KernelNodeParams p = node_params(*n.fn, n.grid, n.block, n.params);
  CUresult r = driver_->cuGraphExecKernelNodeSetParams(g.exec, g.nodes.at(index), &p);
  if (r != kCudaSuccess)
    driver_->fail(r, "cuGraphExecKernelNodeSetParams", fmt::format("kernel '{}'", n.fn->name));
}

void CudaDevice::launch_graph(const Graph& g) {
  make_current();
  driver_->check(driver_->cuGraphLaunch(g.exec, stream_), "cuGraphLaunch");
}

void CudaDevice::destroy_graph(Graph& g) noexcept {
  if (g.exec != nullptr) driver_->cuGraphExecDestroy(g.exec);
  if (g.graph != nullptr) driver_->cuGraphDestroy(g.graph);
  g = Graph();
}

// ---- CudaModule, CudaTimer ----

CudaModule::CudaModule(CudaModule&& other) noexcept
    : device_(std::exchange(other.device_, nullptr)),
      handle_(std::exchange(other.handle_, nullptr)) {}

CudaModule& CudaModule::operator=(CudaModule&& other) noexcept {
  if (this != &other) {
    reset();
    device_ = std::exchange(other.device_, nullptr);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

CudaModule::~CudaModule() { reset(); }

void CudaModule::reset() {
  if (handle_ != nullptr && device_ != nullptr) device_->unload_module(handle_);
  handle_ = nullptr;
  device_ = nullptr;
}

CudaTimer::CudaTimer(CudaDevice& device) : device_(device), start_(nullptr), end_(nullptr) {
  start_ = device_.create_event();
  try {
    end_ = device_.create_event();
  } catch (...) {
    device_.destroy_event(start_);
    throw;
  }
}

CudaTimer::~CudaTimer() {
  try {
    device_.destroy_event(start_);
    device_.destroy_event(end_);
  } catch (const Error&) {
  }
}

void CudaTimer::start() { device_.record_event(start_); }

float CudaTimer::stop_ms() {
  device_.record_event(end_);
  return device_.elapsed_ms(start_, end_);
}

}  // namespace mlcc
