// mlcc-vulkan-run: runs a Vulkan kernel bundle (tools/kernel_bundle.h, written by
// mlcc-make-bundle --vulkan) on a Vulkan device with the runtime alone (no LLVM: GPU
// machines have none), checks each kernel against the interpreter's expected outputs and
// prints a markdown table. Exits 1 when any kernel fails (or cannot be loaded).
//
//   mlcc-vulkan-run BUNDLE_DIR [--device N]
//   mlcc-vulkan-run --devices     lists the devices; exits 1 when there is none
//
// MLCC_VULKAN_LIBRARY names the loader (libvulkan.so.1) where the system has none.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/devices/vulkan_device.h"
#include "runtime/error.h"
#include "tools/kernel_bundle.h"

using namespace mlcc;

namespace {

struct Result {
  std::string error = "-", status = "FAIL", note;
};

std::vector<uint32_t> read_words(const std::string& path) {
  std::vector<uint8_t> bytes = bundle::read_file(path);
  if (bytes.size() % 4 != 0)
    throw Error("'" + path + "' has " + std::to_string(bytes.size()) +
                " bytes; a SPIR-V module is a whole number of 32-bit words");
  std::vector<uint32_t> words(bytes.size() / 4);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  return words;
}

Result run_kernel(VulkanDevice& dev, const std::string& dir, const bundle::Kernel& k) {
  Result r;
  try {
    if (k.spirv.empty()) throw Error("no SPIR-V module (a CUDA bundle?)");
    dev.load_spirv_kernels({{bundle::kernel_info(k), read_words(dir + "/" + k.spirv)}});
    bundle::Arrays args;
    for (const bundle::Arg& a : k.args)
      args.push_back(a.input.empty() ? std::vector<uint8_t>(static_cast<size_t>(a.bytes), 0xff)
                                     : bundle::read_file(dir + "/" + a.input));
    bundle::Arrays out = bundle::run_once(dev, 0, args, k.scalars);
    double worst = 0;
    for (size_t i = 0; i < k.args.size(); ++i) {
      if (k.args[i].expected.empty()) continue;
      std::vector<uint8_t> ref = bundle::read_file(dir + "/" + k.args[i].expected);
      if (ref.size() != out[i].size())
        throw Error(k.args[i].expected + " has " + std::to_string(ref.size()) + " bytes, the " +
                    "argument " + std::to_string(out[i].size()));
      double e = bundle::relative_error(k.args[i].dtype, out[i].data(), ref.data(), ref.size());
      worst = std::isnan(e) || std::isnan(worst) ? NAN : std::max(worst, e);
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2e", worst);
    r.error = buf;
    if (!std::isnan(worst) && worst < k.tolerance) r.status = "PASS";
  } catch (const Error& e) {
    r.note = e.what();
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: mlcc-vulkan-run BUNDLE_DIR [--device N]\n"
      "       mlcc-vulkan-run --devices\n"
      "Runs the kernels of a Vulkan bundle written by mlcc-make-bundle --vulkan on a Vulkan\n"
      "device and compares their outputs with the bundle's expected values.\n"
      "MLCC_VULKAN_LIBRARY names the Vulkan loader where the system has none.\n";
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::printf("%s", usage);
    return argc < 2 ? 2 : 0;
  }
  try {
    if (std::string(argv[1]) == "--devices") {
      std::vector<std::string> names = list_vulkan_devices();
      for (size_t i = 0; i < names.size(); ++i) std::printf("vulkan:%zu %s\n", i, names[i].c_str());
      if (names.empty()) std::fprintf(stderr, "mlcc-vulkan-run: no Vulkan device found\n");
      return names.empty() ? 1 : 0;
    }
    std::string dir = argv[1];
    int device = 0;
    for (int i = 2; i < argc; ++i) {
      if (std::string(argv[i]) == "--device" && i + 1 < argc) {
        device = std::stoi(argv[++i]);
      } else {
        std::fprintf(stderr, "mlcc-vulkan-run: unknown argument '%s'\n%s", argv[i], usage);
        return 2;
      }
    }
    bundle::Bundle b = bundle::read_bundle(dir);
    std::unique_ptr<VulkanDevice> dev = open_vulkan_device(device);
    std::printf("device: %s\ntarget: %s\n", dev->name().c_str(), b.target.c_str());

    std::printf("\n| kernel | shape | rel. error | tolerance | pass |\n");
    std::printf("| --- | --- | --- | --- | --- |\n");
    int passed = 0, failed = 0;
    std::vector<std::string> notes;
    for (const bundle::Kernel& k : b.kernels) {
      Result r = run_kernel(*dev, dir, k);
      (r.status == "PASS" ? passed : failed)++;
      std::printf("| %s | %s | %s | %.0e | %s |\n", k.name.c_str(), k.shape.c_str(),
                  r.error.c_str(), k.tolerance, r.status.c_str());
      std::fflush(stdout);
      if (!r.note.empty()) notes.push_back(k.name + ": " + r.note);
    }
    for (const std::string& n : notes) std::printf("\n%s", n.c_str());
    std::printf("\n%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlcc-vulkan-run: %s\n", e.what());
    return 1;
  }
}
