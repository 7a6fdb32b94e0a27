// A fake HIP runtime for the ROCm device's tests: the entry points runtime/devices/
// hip_device.cc uses, over host memory, configured by environment variables (fake_hip.h),
// so that the device's code paths run without an AMD GPU. It checks what a real runtime
// would refuse (copy kinds against its allocations, the `extra` launch layout, ELF code
// objects) and records the last launch and what is alive for the tests to read.
#include "tests/runtime/fake_hip.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

namespace {

using hipError_t = int;
constexpr hipError_t kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kNoDevice = 100,
                     kInvalidDevice = 101, kInvalidImage = 200, kNotFound = 500;

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoll(v, nullptr, 10) : fallback;
}

std::string env_string(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

int64_t device_count() { return env_int("MLCC_FAKE_HIP_DEVICES", 1); }

struct Module {
  std::map<std::string, std::string> functions;  // name -> itself (stable storage)
};
struct Event {
  std::chrono::steady_clock::time_point at;
};

struct State {
  std::mutex mu;
  std::map<uintptr_t, size_t> allocations;  // base -> bytes
  mlcc::test::FakeHipCounters counters;
  mlcc::test::FakeHipLaunch last;
};

State& state() {
  static State s;
  return s;
}

// Whether [p, p + n) lies inside one allocation.
bool in_device_memory(const void* p, size_t n) {
  auto& a = state().allocations;
  auto addr = reinterpret_cast<uintptr_t>(p);
  auto it = a.upper_bound(addr);
  if (it == a.begin()) return false;
  --it;
  return addr + n <= it->first + it->second;
}

// Writes a hipDeviceProp_t-like block: `name` first, then a decoy that only starts like an
// architecture, an int, and gcnArchName at `arch_offset` (the field moved between versions).
void write_props(uint8_t* props, int device, size_t arch_offset) {
  std::string name = env_string("MLCC_FAKE_HIP_NAME", "AMD Radeon RX 7900 XTX");
  std::string arch = env_string("MLCC_FAKE_HIP_ARCH", "gfx1100");
  std::memset(props, 0, arch_offset + 256);
  std::strncpy(reinterpret_cast<char*>(props), name.c_str(), 255);
  std::memcpy(props + 300, "gfxq", 5);
  int32_t gcn_arch = 1100 + device;
  std::memcpy(props + arch_offset - 4, &gcn_arch, 4);
  std::strncpy(reinterpret_cast<char*>(props + arch_offset), arch.c_str(), 255);
}

}  // namespace

extern "C" {

// ---- what the tests read ----

void mlcc_fake_hip_last_launch(mlcc::test::FakeHipLaunch* out) {
  std::lock_guard<std::mutex> lock(state().mu);
  *out = state().last;
}

void mlcc_fake_hip_counters(mlcc::test::FakeHipCounters* out) {
  std::lock_guard<std::mutex> lock(state().mu);
  *out = state().counters;
}

// ---- the HIP entry points ----

const char* hipGetErrorName(hipError_t e) {
  switch (e) {
    case kSuccess:
      return "hipSuccess";
    case kInvalidValue:
      return "hipErrorInvalidValue";
    case kOutOfMemory:
      return "hipErrorOutOfMemory";
    case kNoDevice:
      return "hipErrorNoDevice";
    case kInvalidDevice:
      return "hipErrorInvalidDevice";
    case kInvalidImage:
      return "hipErrorInvalidImage";
    case 209:
      return "hipErrorNoBinaryForGpu";
    case kNotFound:
      return "hipErrorNotFound";
    default:
      return "hipErrorUnknown";
  }
}

const char* hipGetErrorString(hipError_t e) {
  switch (e) {
    case kNoDevice:
      return "no ROCm-capable device is detected";
    case kInvalidDevice:
      return "invalid device ordinal";
    case 209:
      return "no kernel image is available for execution on the device";
    default:
      return hipGetErrorName(e);
  }
}

hipError_t hipInit(unsigned flags) {
  if (flags != 0) return kInvalidValue;
  return device_count() == 0 ? kInvalidDevice : kSuccess;  // as HIP 5.2 without /dev/kfd
}

hipError_t hipRuntimeGetVersion(int* v) {
  *v = 60232830;  // HIP 6.2
  return kSuccess;
}

hipError_t hipGetDeviceCount(int* n) {
  *n = static_cast<int>(device_count());
  return *n == 0 ? kNoDevice : kSuccess;
}

hipError_t hipSetDevice(int d) { return d >= 0 && d < device_count() ? kSuccess : kInvalidDevice; }

hipError_t hipDeviceGetName(char* name, int len, int d) {
  if (d < 0 || d >= device_count()) return kInvalidDevice;
  std::string n = env_string("MLCC_FAKE_HIP_NAME", "AMD Radeon RX 7900 XTX");
  std::strncpy(name, n.c_str(), static_cast<size_t>(len));
  return kSuccess;
}

// HIP 6's entry point and HIP 5's, with gcnArchName at different offsets.
hipError_t hipGetDevicePropertiesR0600(void* props, int d) {
  if (d < 0 || d >= device_count()) return kInvalidDevice;
  write_props(static_cast<uint8_t*>(props), d, 1160);
  return kSuccess;
}

hipError_t hipGetDeviceProperties(void* props, int d) {
  if (d < 0 || d >= device_count()) return kInvalidDevice;
  write_props(static_cast<uint8_t*>(props), d, 396);
  return kSuccess;
}

hipError_t hipMemGetInfo(size_t* free_bytes, size_t* total) {
  std::lock_guard<std::mutex> lock(state().mu);
  *total = static_cast<size_t>(env_int("MLCC_FAKE_HIP_MEMORY", int64_t{24} << 30));
  *free_bytes = *total - static_cast<size_t>(state().counters.live_bytes);
  return kSuccess;
}

hipError_t hipMalloc(void** p, size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mu);
  State& s = state();
  int64_t limit = env_int("MLCC_FAKE_HIP_MEMORY", int64_t{24} << 30);
  if (s.counters.live_bytes + static_cast<int64_t>(bytes) > limit) return kOutOfMemory;
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  if (*p == nullptr) return kOutOfMemory;
  s.allocations[reinterpret_cast<uintptr_t>(*p)] = bytes;
  ++s.counters.mallocs;
  ++s.counters.live_allocations;
  s.counters.live_bytes += static_cast<int64_t>(bytes);
  return kSuccess;
}

hipError_t hipFree(void* p) {
  if (p == nullptr) return kSuccess;
  std::lock_guard<std::mutex> lock(state().mu);
  State& s = state();
  auto it = s.allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == s.allocations.end()) return kInvalidValue;
  ++s.counters.frees;
  --s.counters.live_allocations;
  s.counters.live_bytes -= static_cast<int64_t>(it->second);
  s.allocations.erase(it);
  std::free(p);
  return kSuccess;
}

hipError_t hipMemcpyAsync(void* dst, const void* src, size_t n, int kind, void* stream) {
  std::lock_guard<std::mutex> lock(state().mu);
  if (stream == nullptr) return kInvalidValue;  // the device always passes its stream
  bool dst_dev = in_device_memory(dst, n), src_dev = in_device_memory(src, n);
  bool ok = (kind == 1 && dst_dev && !src_dev) || (kind == 2 && !dst_dev && src_dev) ||
            (kind == 3 && dst_dev && src_dev);
  if (!ok) return kInvalidValue;
  std::memmove(dst, src, n);
  return kSuccess;
}

hipError_t hipMemsetAsync(void* dst, int value, size_t n, void* stream) {
  std::lock_guard<std::mutex> lock(state().mu);
  if (stream == nullptr || !in_device_memory(dst, n)) return kInvalidValue;
  std::memset(dst, value, n);
  return kSuccess;
}

hipError_t hipStreamCreate(void** stream) {
  std::lock_guard<std::mutex> lock(state().mu);
  *stream = new int(0);
  ++state().counters.live_streams;
  return kSuccess;
}

hipError_t hipStreamDestroy(void* stream) {
  std::lock_guard<std::mutex> lock(state().mu);
  delete static_cast<int*>(stream);
  --state().counters.live_streams;
  return kSuccess;
}

hipError_t hipStreamSynchronize(void* stream) { return stream == nullptr ? kInvalidValue : 0; }

hipError_t hipModuleLoadData(void** module, const void* image) {
  if (hipError_t e = static_cast<hipError_t>(env_int("MLCC_FAKE_HIP_LOAD_ERROR", 0))) return e;
  const uint8_t elf_magic[4] = {0x7f, 'E', 'L', 'F'};
  if (std::memcmp(image, elf_magic, 4) != 0) return kInvalidImage;
  std::lock_guard<std::mutex> lock(state().mu);
  *module = new Module;
  ++state().counters.live_modules;
  return kSuccess;
}

hipError_t hipModuleUnload(void* module) {
  std::lock_guard<std::mutex> lock(state().mu);
  delete static_cast<Module*>(module);
  --state().counters.live_modules;
  return kSuccess;
}

hipError_t hipModuleGetFunction(void** fn, void* module, const char* name) {
  if (name == env_string("MLCC_FAKE_HIP_MISSING_KERNEL", "")) return kNotFound;
  std::lock_guard<std::mutex> lock(state().mu);
  auto* m = static_cast<Module*>(module);
  auto it = m->functions.emplace(name, name).first;
  *fn = &it->second;
  return kSuccess;
}

hipError_t hipModuleLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                 unsigned by, unsigned bz, unsigned shared, void* stream,
                                 void** params, void** extra) {
  // Arguments come only as one buffer through `extra` (HIP_LAUNCH_PARAM_*: 1, 2, 3).
  if (fn == nullptr || stream == nullptr || params != nullptr || extra == nullptr ||
      extra[0] != reinterpret_cast<void*>(1) || extra[2] != reinterpret_cast<void*>(2) ||
      extra[4] != reinterpret_cast<void*>(3))
    return kInvalidValue;
  size_t bytes = *static_cast<size_t*>(extra[3]);
  std::lock_guard<std::mutex> lock(state().mu);
  mlcc::test::FakeHipLaunch& l = state().last;
  if (bytes > sizeof(l.kernarg)) return kInvalidValue;
  ++l.launches;
  std::strncpy(l.function, static_cast<std::string*>(fn)->c_str(), sizeof(l.function) - 1);
  unsigned dims[6] = {gx, gy, gz, bx, by, bz};
  std::copy(dims, dims + 3, std::begin(l.grid));
  std::copy(dims + 3, dims + 6, std::begin(l.block));
  l.shared_bytes = shared;
  l.kernarg_bytes = bytes;
  std::memset(l.kernarg, 0xee, sizeof(l.kernarg));
  std::memcpy(l.kernarg, extra[1], bytes);
  return kSuccess;
}

hipError_t hipEventCreate(void** event) {
  std::lock_guard<std::mutex> lock(state().mu);
  *event = new Event{std::chrono::steady_clock::now()};
  ++state().counters.live_events;
  return kSuccess;
}

hipError_t hipEventDestroy(void* event) {
  std::lock_guard<std::mutex> lock(state().mu);
  delete static_cast<Event*>(event);
  --state().counters.live_events;
  return kSuccess;
}

hipError_t hipEventRecord(void* event, void* stream) {
  if (stream == nullptr) return kInvalidValue;
  static_cast<Event*>(event)->at = std::chrono::steady_clock::now();
  return kSuccess;
}

hipError_t hipEventSynchronize(void*) { return kSuccess; }

hipError_t hipEventElapsedTime(float* ms, void* start, void* end) {
  auto d = static_cast<Event*>(end)->at - static_cast<Event*>(start)->at;
  *ms = std::chrono::duration<float, std::milli>(d).count();
  return kSuccess;
}

}  // extern "C"
