// The HIP device over AMD's HIP runtime, loaded with dlopen. The few HIP types and enum
// values used are declared here rather than taken from hip_runtime_api.h, so the runtime
// builds on machines without ROCm and links nothing from it.
#include "runtime/devices/hip_device.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/error.h"

namespace mlcc {
namespace {

// HIP types: every handle (stream, module, function, event) is an opaque pointer.
using hipError_t = int;

// Enum values from hip_runtime_api.h (hipError_t, hipMemcpyKind), the same in HIP 5 and 6.
constexpr hipError_t kHipSuccess = 0;
constexpr hipError_t kHipErrorOutOfMemory = 2;
constexpr hipError_t kHipErrorNoDevice = 100;
constexpr hipError_t kHipErrorInvalidDevice = 101;
constexpr hipError_t kHipErrorInvalidImage = 200;
constexpr hipError_t kHipErrorNoBinaryForGpu = 209;
constexpr int kMemcpyHostToDevice = 1;
constexpr int kMemcpyDeviceToHost = 2;
constexpr int kMemcpyDeviceToDevice = 3;
// hipModuleLaunchKernel's `extra` keys (HIP_LAUNCH_PARAM_*).
void* const kLaunchParamBufferPointer = reinterpret_cast<void*>(1);
void* const kLaunchParamBufferSize = reinterpret_cast<void*>(2);
void* const kLaunchParamEnd = reinterpret_cast<void*>(3);

// hipDeviceProp_t is about 1.5 KiB in HIP 5 and 6 (its layout differs between them); the
// runtime writes at most that much into this buffer.
constexpr size_t kDevicePropBufferBytes = 8192;

constexpr const char* kInstallHint =
    "install ROCm's HIP runtime (Debian/Ubuntu: libamdhip64-5, or ROCm's own packages) or "
    "choose another device";

std::atomic<uint64_t> g_next_serial{1};
// The serial of the device this thread made current last, so most calls skip hipSetDevice.
thread_local uint64_t t_current_serial = 0;

}  // namespace

struct HipRuntime {
  void* lib = nullptr;
  std::string lib_name;

  hipError_t (*hipInit)(unsigned) = nullptr;
  hipError_t (*hipRuntimeGetVersion)(int*) = nullptr;
  const char* (*hipGetErrorName)(hipError_t) = nullptr;
  const char* (*hipGetErrorString)(hipError_t) = nullptr;
  hipError_t (*hipGetDeviceCount)(int*) = nullptr;
  hipError_t (*hipSetDevice)(int) = nullptr;
  hipError_t (*hipDeviceGetName)(char*, int, int) = nullptr;
  hipError_t (*hipGetDeviceProperties)(void*, int) = nullptr;
  hipError_t (*hipMemGetInfo)(size_t*, size_t*) = nullptr;
  hipError_t (*hipMalloc)(void**, size_t) = nullptr;
  hipError_t (*hipFree)(void*) = nullptr;
  hipError_t (*hipMemcpyAsync)(void*, const void*, size_t, int, void*) = nullptr;
  hipError_t (*hipMemsetAsync)(void*, int, size_t, void*) = nullptr;
  hipError_t (*hipStreamCreate)(void**) = nullptr;
  hipError_t (*hipStreamDestroy)(void*) = nullptr;
  hipError_t (*hipStreamSynchronize)(void*) = nullptr;
  hipError_t (*hipModuleLoadData)(void**, const void*) = nullptr;
  hipError_t (*hipModuleUnload)(void*) = nullptr;
  hipError_t (*hipModuleGetFunction)(void**, void*, const char*) = nullptr;
  hipError_t (*hipModuleLaunchKernel)(void*, unsigned, unsigned, unsigned, unsigned, unsigned,
                                      unsigned, unsigned, void*, void**, void**) = nullptr;
  hipError_t (*hipEventCreate)(void**) = nullptr;
  hipError_t (*hipEventDestroy)(void*) = nullptr;
  hipError_t (*hipEventRecord)(void*, void*) = nullptr;
  hipError_t (*hipEventSynchronize)(void*) = nullptr;
  hipError_t (*hipEventElapsedTime)(float*, void*, void*) = nullptr;

  // Looks up the first of `names` that the runtime exports (newest entry point first).
  template <typename Fn>
  void resolve(Fn& fn, std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (void* sym = dlsym(lib, name)) {
        fn = reinterpret_cast<Fn>(sym);
        return;
      }
    }
    throw Error(fmt::format("the HIP runtime {} lacks {}: it is not a HIP runtime mlcc can use; {}",
                            lib_name, *names.begin(), kInstallHint));
  }

  std::string describe(hipError_t r, std::string_view call) const {
    const char* name = hipGetErrorName(r);
    const char* desc = hipGetErrorString(r);
    return fmt::format("HIP error {} (code {}) in {}: {}", name ? name : "hipErrorUnknown", r, call,
                       desc ? desc : "no description");
  }

  [[noreturn]] void fail(hipError_t r, std::string_view call, std::string_view detail = {}) const {
    std::string msg = describe(r, call);
    if (!detail.empty()) msg += fmt::format("; {}", detail);
    throw Error(msg);
  }

  void check(hipError_t r, std::string_view call) const {
    if (r != kHipSuccess) fail(r, call);
  }
};

namespace {

std::unique_ptr<HipRuntime> load_runtime() {
  std::vector<std::string> candidates;
  const char* env = std::getenv("MLCC_HIP_LIBRARY");
  if (env != nullptr && *env != '\0')
    candidates = {env};
  else
    candidates = {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"};
  void* lib = nullptr;
  std::string path, first_error;
  for (const std::string& c : candidates) {
    lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) {
      path = c;
      break;
    }
    const char* e = dlerror();
    if (first_error.empty()) first_error = e != nullptr ? e : "unknown error";
  }
  if (lib == nullptr) {
    std::string tried = candidates[0];
    for (size_t i = 1; i < candidates.size(); ++i)
      tried += (i + 1 == candidates.size() ? " or " : ", ") + candidates[i];
    throw Error(fmt::format("HIP runtime not found: could not load {} ({}); {}", tried, first_error,
                            kInstallHint));
  }

  // The library stays loaded for the life of the process: the runtime keeps process-wide
  // state (its threads, the HSA runtime) and is not meant to be unloaded.
  auto rt = std::make_unique<HipRuntime>();
  rt->lib = lib;
  rt->lib_name = path;
  rt->resolve(rt->hipGetErrorName, {"hipGetErrorName"});
  rt->resolve(rt->hipGetErrorString, {"hipGetErrorString"});
  rt->resolve(rt->hipInit, {"hipInit"});
  rt->resolve(rt->hipRuntimeGetVersion, {"hipRuntimeGetVersion"});
  rt->resolve(rt->hipGetDeviceCount, {"hipGetDeviceCount"});
  rt->resolve(rt->hipSetDevice, {"hipSetDevice"});
  rt->resolve(rt->hipDeviceGetName, {"hipDeviceGetName"});
  // HIP 6 renamed the entry point when hipDeviceProp_t changed; HIP 5 has only the old one.
  rt->resolve(rt->hipGetDeviceProperties,
              {"hipGetDevicePropertiesR0600", "hipGetDeviceProperties"});
  rt->resolve(rt->hipMemGetInfo, {"hipMemGetInfo"});
  rt->resolve(rt->hipMalloc, {"hipMalloc"});
  rt->resolve(rt->hipFree, {"hipFree"});
  rt->resolve(rt->hipMemcpyAsync, {"hipMemcpyAsync"});
  rt->resolve(rt->hipMemsetAsync, {"hipMemsetAsync"});
  rt->resolve(rt->hipStreamCreate, {"hipStreamCreate"});
  rt->resolve(rt->hipStreamDestroy, {"hipStreamDestroy"});
  rt->resolve(rt->hipStreamSynchronize, {"hipStreamSynchronize"});
  rt->resolve(rt->hipModuleLoadData, {"hipModuleLoadData"});
  rt->resolve(rt->hipModuleUnload, {"hipModuleUnload"});
  rt->resolve(rt->hipModuleGetFunction, {"hipModuleGetFunction"});
  rt->resolve(rt->hipModuleLaunchKernel, {"hipModuleLaunchKernel"});
  rt->resolve(rt->hipEventCreate, {"hipEventCreate"});
  rt->resolve(rt->hipEventDestroy, {"hipEventDestroy"});
  rt->resolve(rt->hipEventRecord, {"hipEventRecord"});
  rt->resolve(rt->hipEventSynchronize, {"hipEventSynchronize"});
  rt->resolve(rt->hipEventElapsedTime, {"hipEventElapsedTime"});
  return rt;
}

// The runtime, initialised, with the number of devices it sees. Without an AMD GPU (no
// /dev/kfd) Debian's HIP 5.2 answers hipInit with hipErrorInvalidDevice and
// hipGetDeviceCount with hipErrorNoDevice: both mean zero devices, with `why` saying so.
struct Probe {
  std::unique_ptr<HipRuntime> rt;
  int count = 0;
  std::string why;  // when count is 0
};

Probe probe() {
  Probe p;
  p.rt = load_runtime();
  const HipRuntime& rt = *p.rt;
  hipError_t r = rt.hipInit(0);
  if (r == kHipErrorNoDevice || r == kHipErrorInvalidDevice) {
    p.why = rt.describe(r, "hipInit");
    return p;
  }
  if (r != kHipSuccess)
    throw Error(fmt::format("the HIP runtime ({}) could not initialise: {}", rt.lib_name,
                            rt.describe(r, "hipInit")));
  r = rt.hipGetDeviceCount(&p.count);
  if (r == kHipErrorNoDevice) {
    p.count = 0;
    p.why = rt.describe(r, "hipGetDeviceCount");
    return p;
  }
  rt.check(r, "hipGetDeviceCount");
  if (p.count == 0) p.why = "hipGetDeviceCount found 0 devices";
  return p;
}

bool is_hex_digit(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

// hipDeviceProp_t changed layout between HIP 5 and HIP 6 (hipGetDevicePropertiesR0600),
// and may again, so no offset of gcnArchName is assumed. Both layouts start with the
// 256-byte `name`; gcnArchName comes later, a NUL-terminated "gfx" followed by hex digits
// and optional ":feature" parts (e.g. "gfx90a:sramecc+:xnack-"). The first such string
// after `name` is it: no field before it holds text that looks like that.
std::string find_gcn_arch_name(std::span<const uint8_t> props) {
  constexpr size_t kNameBytes = 256;
  for (size_t at = kNameBytes; at + 4 < props.size(); ++at) {
    if (props[at] != 'g' || props[at + 1] != 'f' || props[at + 2] != 'x') continue;
    size_t end = at + 3;
    while (end < props.size() && is_hex_digit(props[end])) ++end;
    if (end == at + 3 || end >= props.size()) continue;
    if (props[end] == ':') {
      while (end < props.size() && props[end] != 0 &&
             (std::isalnum(props[end]) || props[end] == ':' || props[end] == '+' ||
              props[end] == '-' || props[end] == '_'))
        ++end;
    }
    if (end < props.size() && props[end] == 0)
      return std::string(reinterpret_cast<const char*>(props.data() + at), end - at);
  }
  return "";
}

int HipDevice::device_count() { return probe().count; }

std::unique_ptr<HipDevice> HipDevice::open(int ordinal) {
  Probe p = probe();
  if (p.count == 0) {
    bool kfd = access("/dev/kfd", F_OK) == 0;
    throw Error(fmt::format(
        "no AMD GPU found: the HIP runtime ({}) sees no device ({}); ROCm needs a supported "
        "AMD GPU and the amdgpu kernel driver's /dev/kfd{}",
        p.rt->lib_name, p.why,
        kfd ? ", which exists: check that this user may open it (groups render and video)"
            : ", which does not exist here"));
  }
  if (ordinal < 0 || ordinal >= p.count)
    throw Error(fmt::format(
        "ROCm device {} does not exist: the HIP runtime sees {} device{}; choose an ordinal "
        "from 0 to {}",
        ordinal, p.count, p.count == 1 ? "" : "s", p.count - 1));
  return std::unique_ptr<HipDevice>(new HipDevice(std::move(p.rt), ordinal));
}

HipDevice::HipDevice(std::unique_ptr<HipRuntime> runtime, int ordinal)
    : rt_(std::move(runtime)),
      serial_(g_next_serial.fetch_add(1)),
      allocator_(
          fmt::format("ROCm device {}", ordinal), [this](size_t n) { return raw_alloc(n); },
          [this](void* p) { raw_free(p); },
          [this](size_t n, size_t rounded, size_t live) { out_of_memory(n, rounded, live); }) {
  const HipRuntime& rt = *rt_;
  info_.ordinal = ordinal;
  info_.library = rt.lib_name;
  make_current();
  rt.check(rt.hipStreamCreate(&stream_), "hipStreamCreate");
  try {
    char name[256] = {};
    rt.check(rt.hipDeviceGetName(name, sizeof(name) - 1, ordinal), "hipDeviceGetName");
    info_.name = name;
    std::vector<uint8_t> props(kDevicePropBufferBytes, 0);
    rt.check(rt.hipGetDeviceProperties(props.data(), ordinal), "hipGetDeviceProperties");
    info_.gcn_arch_name = find_gcn_arch_name(props);
    if (info_.gcn_arch_name.empty())
      throw Error(fmt::format(
          "cannot tell the architecture of ROCm device {} ({}): the properties the HIP runtime "
          "{} returned hold no gcnArchName (\"gfx...\"); this HIP version is not one mlcc "
          "knows",
          ordinal, info_.name, rt.lib_name));
    info_.gfx = info_.gcn_arch_name.substr(0, info_.gcn_arch_name.find(':'));
    size_t free_bytes = 0, total_bytes = 0;
    rt.check(rt.hipMemGetInfo(&free_bytes, &total_bytes), "hipMemGetInfo");
    info_.total_memory = static_cast<int64_t>(total_bytes);
    rt.check(rt.hipRuntimeGetVersion(&info_.runtime_version), "hipRuntimeGetVersion");
  } catch (...) {
    rt.hipStreamDestroy(stream_);
    if (t_current_serial == serial_) t_current_serial = 0;
    throw;
  }
}

HipDevice::~HipDevice() {
  const HipRuntime& rt = *rt_;
  // Errors here (say, a fault left by a failed kernel) cannot be reported from a destructor.
  try {
    make_current();
  } catch (const Error&) {
  }
  rt.hipStreamSynchronize(stream_);
  allocator_.drop_all([&](void* p) { rt.hipFree(p); });
  rt.hipStreamDestroy(stream_);
  if (t_current_serial == serial_) t_current_serial = 0;
}

void HipDevice::make_current() {
  if (t_current_serial == serial_) return;
  rt_->check(rt_->hipSetDevice(info_.ordinal), "hipSetDevice");
  t_current_serial = serial_;
}

// ---- memory ----

void* HipDevice::raw_alloc(size_t bytes) {
  make_current();
  void* p = nullptr;
  hipError_t r = rt_->hipMalloc(&p, bytes);
  if (r == kHipErrorOutOfMemory) return nullptr;
  rt_->check(r, "hipMalloc");
  return p;
}

void HipDevice::raw_free(void* ptr) {
  make_current();
  rt_->check(rt_->hipFree(ptr), "hipFree");
}

void HipDevice::out_of_memory(size_t bytes, size_t rounded, size_t live_bytes) {
  std::string free_info;
  size_t free_bytes = 0, total_bytes = 0;
  if (rt_->hipMemGetInfo(&free_bytes, &total_bytes) == kHipSuccess)
    free_info = fmt::format("; the runtime reports {} of {} bytes free", free_bytes, total_bytes);
  throw Error(fmt::format(
      "HIP out of memory on ROCm device {} ({}): cannot allocate {} bytes ({} after rounding); "
      "mlcc holds {} bytes in live allocations{}",
      info_.ordinal, info_.name, bytes, rounded, live_bytes, free_info));
}

void HipDevice::copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  rt_->check(rt_->hipMemcpyAsync(dst, src, bytes, kMemcpyHostToDevice, stream_),
             "hipMemcpyAsync (host to device)");
  // The source is pageable memory the caller may change or free as soon as this returns
  // (Device's contract), and HIP does not promise to have read it by then.
  rt_->check(rt_->hipStreamSynchronize(stream_), "hipStreamSynchronize");
}

void HipDevice::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  rt_->check(rt_->hipMemcpyAsync(dst, src, bytes, kMemcpyDeviceToHost, stream_),
             "hipMemcpyAsync (device to host)");
  rt_->check(rt_->hipStreamSynchronize(stream_), "hipStreamSynchronize");
}

void HipDevice::copy_device_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  rt_->check(rt_->hipMemcpyAsync(dst, src, bytes, kMemcpyDeviceToDevice, stream_),
             "hipMemcpyAsync (device to device)");
}

void HipDevice::memset(void* dst, uint8_t value, size_t bytes) {
  if (bytes == 0) return;
  make_current();
  rt_->check(rt_->hipMemsetAsync(dst, value, bytes, stream_), "hipMemsetAsync");
}

void HipDevice::synchronize() {
  make_current();
  hipError_t r = rt_->hipStreamSynchronize(stream_);
  if (r != kHipSuccess)
    rt_->fail(r, "hipStreamSynchronize",
              "work queued earlier failed (kernel faults surface at the next synchronisation)");
}

// ---- modules and kernels ----

HipModule HipDevice::load_module(std::span<const uint8_t> code_object, const std::string& what) {
  make_current();
  void* module = nullptr;
  hipError_t r = rt_->hipModuleLoadData(&module, code_object.data());
  if (r == kHipErrorNoBinaryForGpu)
    rt_->fail(r, "hipModuleLoadData",
              fmt::format("{} holds no code for {} ({}); compile it with --target \"rocm "
                          "-mcpu={}\"",
                          what, info_.gfx, info_.name, info_.gfx));
  if (r == kHipErrorInvalidImage)
    rt_->fail(r, "hipModuleLoadData",
              fmt::format("{} ({} bytes) is not a code object this HIP runtime ({}) can load", what,
                          code_object.size(), rt_->lib_name));
  if (r != kHipSuccess) rt_->fail(r, "hipModuleLoadData", fmt::format("loading {}", what));
  return HipModule(this, module);
}

HipFunction HipDevice::get_function(const HipModule& module, const std::string& name) {
  if (!module.loaded() || module.device_ != this)
    throw Error(
        fmt::format("cannot look up HIP kernel '{}': the module is not loaded on ROCm device {}",
                    name, info_.ordinal));
  make_current();
  void* fn = nullptr;
  hipError_t r = rt_->hipModuleGetFunction(&fn, module.handle_, name.c_str());
  if (r != kHipSuccess)
    rt_->fail(r, "hipModuleGetFunction", fmt::format("the code object has no kernel '{}'", name));
  return HipFunction{fn, name};
}

void HipDevice::launch(const HipFunction& fn, Dim3 grid, Dim3 block, uint32_t dynamic_shared_bytes,
                       void* kernarg, size_t kernarg_bytes) {
  if (fn.handle == nullptr) throw Error("cannot launch a HIP kernel that was never looked up");
  make_current();
  size_t size = kernarg_bytes;
  void* extra[] = {kLaunchParamBufferPointer, kernarg, kLaunchParamBufferSize, &size,
                   kLaunchParamEnd};
  hipError_t r = rt_->hipModuleLaunchKernel(fn.handle, grid.x, grid.y, grid.z, block.x, block.y,
                                            block.z, dynamic_shared_bytes, stream_, nullptr, extra);
  if (r != kHipSuccess)
    rt_->fail(
        r, "hipModuleLaunchKernel",
        fmt::format("kernel '{}', grid ({}, {}, {}), block ({}, {}, {}), {} bytes of "
                    "kernel arguments",
                    fn.name, grid.x, grid.y, grid.z, block.x, block.y, block.z, kernarg_bytes));
}

void HipDevice::unload_module(void* module) noexcept {
  try {
    make_current();
  } catch (const Error&) {
  }
  rt_->hipModuleUnload(module);
}

// ---- events ----

void* HipDevice::create_event() {
  make_current();
  void* e = nullptr;
  rt_->check(rt_->hipEventCreate(&e), "hipEventCreate");
  return e;
}

void HipDevice::destroy_event(void* event) {
  if (event == nullptr) return;
  make_current();
  rt_->check(rt_->hipEventDestroy(event), "hipEventDestroy");
}

void HipDevice::record_event(void* event) {
  make_current();
  rt_->check(rt_->hipEventRecord(event, stream_), "hipEventRecord");
}

float HipDevice::elapsed_ms(void* start, void* end) {
  make_current();
  rt_->check(rt_->hipEventSynchronize(end), "hipEventSynchronize");
  float ms = 0;
  rt_->check(rt_->hipEventElapsedTime(&ms, start, end), "hipEventElapsedTime");
  return ms;
}

// ---- HipModule ----

HipModule::HipModule(HipModule&& other) noexcept
    : device_(std::exchange(other.device_, nullptr)),
      handle_(std::exchange(other.handle_, nullptr)) {}

HipModule& HipModule::operator=(HipModule&& other) noexcept {
  if (this != &other) {
    reset();
    device_ = std::exchange(other.device_, nullptr);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

HipModule::~HipModule() { reset(); }

void HipModule::reset() {
  if (handle_ != nullptr && device_ != nullptr) device_->unload_module(handle_);
  handle_ = nullptr;
  device_ = nullptr;
}

}  // namespace mlcc
