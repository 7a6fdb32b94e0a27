// The CPU device: host memory aligned to 64 bytes and the library's own exported kernel
// functions, called through the kernel ABI (runtime/kernel_abi.h) on the calling thread
// (their parallel loops go to the thread pool). open_device lives here too because this
// backend is always built.
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/cpu_module.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/library.h"

namespace mlcc {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kHugePage = size_t{2} << 20;

class CpuDevice final : public Device {
 public:
  std::string name() const override { return "cpu"; }
  std::string kind() const override { return "cpu"; }

  void* alloc(size_t bytes) override {
    // Blocks of weights on transparent huge pages: decode streams every weight once per
    // token, and the hardware prefetchers stop at each 4 KiB page's end.
    const size_t align = bytes >= kHugePage ? kHugePage : kAlignment;
    // aligned_alloc wants a multiple of the alignment, and alloc(0) a real block.
    size_t rounded = std::max(align, (bytes + align - 1) / align * align);
    void* p = std::aligned_alloc(align, rounded);
    if (p == nullptr)
      throw Error("cpu device: out of host memory allocating " + std::to_string(bytes) + " bytes");
    if (align == kHugePage) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice: failure is fine
    return p;
  }
  void free(void* ptr) override { std::free(ptr); }

  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void copy_device_to_device(void* dst, const void* src, size_t bytes) override {
    std::memmove(dst, src, bytes);
  }
  void memset(void* dst, uint8_t value, size_t bytes) override { std::memset(dst, value, bytes); }
  void synchronize() override {}

  void load_kernels(const Library& lib) override {
    check_library_runs_on(lib, *this);
    // dlopen of the same path hands back the library's handle with one more reference;
    // CpuModule checks the kernel ABI version and gives the module the thread pool.
    module_ = CpuModule::load(lib.path());
    const auto& kernels = lib.manifest().kernels;
    fns_.clear();
    names_.clear();
    for (const KernelInfo& k : kernels) {
      fns_.push_back(module_->function(k.name));
      names_.push_back(k.name);
    }
  }

  void launch(size_t kernel, std::span<void* const> buffers,
              std::span<const int64_t> scalars) override {
    MLCC_CHECK(kernel < fns_.size(), "cpu device: kernel index out of range");
    static const int64_t kNoScalars[1] = {0};
    int32_t status = fns_[kernel](buffers.data(), scalars.empty() ? kNoScalars : scalars.data());
    if (status != 0)
      throw Error("cpu device: kernel '" + names_[kernel] + "' of '" + module_->path() +
                  "' failed with status " + std::to_string(status));
  }

 private:
  std::unique_ptr<CpuModule> module_;
  std::vector<MlccKernelFn> fns_;
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<Device> make_cpu_device() { return std::make_unique<CpuDevice>(); }

void check_library_runs_on(const Library& lib, const Device& dev) {
  const Manifest& m = lib.manifest();
  if (m.target_kind != dev.kind())
    throw Error("library '" + lib.path() + "' was compiled for target '" + m.target +
                "' and cannot run on device " + dev.name() + "; open it on a " + m.target_kind +
                " device or compile the model for " + dev.kind());
}

#if !MLCC_WITH_VULKAN
std::unique_ptr<Device> make_vulkan_device(int index) {
  throw Error("cannot open device vulkan:" + std::to_string(index) +
              ": this mlcc was built without Vulkan (no vulkan/vulkan.h at build time); rebuild "
              "it with the Vulkan headers (Debian/Ubuntu: libvulkan-dev) installed");
}
#endif

std::unique_ptr<Device> open_device(const std::string& name) {
  if (name == "cpu") return make_cpu_device();
  for (const std::string kind : {"cuda", "rocm", "vulkan"}) {
    auto make = kind == "cuda"   ? make_cuda_device
                : kind == "rocm" ? make_rocm_device
                                 : make_vulkan_device;
    if (name == kind) return make(0);
    if (name.rfind(kind + ":", 0) == 0) {
      std::string n = name.substr(kind.size() + 1);
      bool digits =
          !n.empty() && n.size() < 6 && n.find_first_not_of("0123456789") == std::string::npos;
      if (digits) return make(std::stoi(n));
      throw Error("unknown device '" + name + "': after \"" + kind +
                  ":\" give a device number, e.g. " + kind + ":0");
    }
  }
  throw Error("unknown device '" + name +
              "': expected \"cpu\", \"cuda\" or \"cuda:N\", \"rocm\" or \"rocm:N\", or "
              "\"vulkan\" or \"vulkan:N\"");
}

}  // namespace mlcc
