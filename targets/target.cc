// Target strings, their parsing and the per-kind defaults.
#include "targets/target.h"

#include <sstream>
#include <vector>

#include "runtime/error.h"

namespace mlcc {

const char* target_kind_name(TargetKind k) {
  switch (k) {
    case TargetKind::kCpu:
      return "cpu";
    case TargetKind::kCuda:
      return "cuda";
    case TargetKind::kRocm:
      return "rocm";
    case TargetKind::kVulkan:
      return "vulkan";
    case TargetKind::kMetal:
      return "metal";
  }
  return "?";
}

namespace {

Target cuda_target(const std::string& arch) {
  if (arch != "sm_80" && arch != "sm_86" && arch != "sm_89" && arch != "sm_90")
    throw Error("target cuda: unsupported -arch=" + arch +
                "; expected one of sm_80, sm_86, sm_89, sm_90");
  Target t;
  t.kind = TargetKind::kCuda;
  t.triple = "nvptx64-nvidia-cuda";
  t.mcpu = arch;
  t.features = "+ptx80";
  t.warp_size = 32;
  t.max_threads_per_block = 1024;
  t.max_shared_memory = 48 * 1024;
  t.vector_bits = 128;
  return t;
}

// AMD GPUs by LLVM processor name: RDNA (gfx10, gfx11) runs compute in wavefronts of 32,
// CDNA (gfx90a, gfx942) in wavefronts of 64; all have 64 KiB of LDS per workgroup and
// workgroups of up to 1024 workitems.
Target rocm_target(const std::string& gfx) {
  struct Arch {
    const char* name;
    int wave;
  };
  static const Arch kArchs[] = {{"gfx1100", 32}, {"gfx1030", 32}, {"gfx90a", 64}, {"gfx942", 64}};
  for (const Arch& a : kArchs) {
    if (gfx != a.name) continue;
    Target t;
    t.kind = TargetKind::kRocm;
    t.triple = "amdgcn-amd-amdhsa";
    t.mcpu = gfx;
    t.features = a.wave == 32 ? "+wavefrontsize32" : "+wavefrontsize64";
    t.warp_size = a.wave;
    t.max_threads_per_block = 1024;
    t.max_shared_memory = 64 * 1024;
    t.vector_bits = 128;
    return t;
  }
  throw Error("target rocm: unsupported -mcpu=" + gfx +
              "; expected one of gfx1100 (RX 7900), gfx1030 (RX 6800/6900), gfx90a (MI200), "
              "gfx942 (MI300)");
}

// Every Vulkan device we know of runs these defaults, so that one library serves lavapipe
// and NVIDIA alike: the kernels are correct on any device whose subgroups have at least
// -subgroup lanes (8: lavapipe on AVX2; NVIDIA 32, AMD 32/64, Intel 8-32), 256
// invocations stays below every limit, and 32 KB of workgroup memory is lavapipe's maximum.
Target vulkan_target() {
  Target t;
  t.kind = TargetKind::kVulkan;
  t.triple = "spirv";
  t.warp_size = 8;
  t.max_threads_per_block = 256;
  t.max_shared_memory = 32 * 1024;
  t.vector_bits = 128;
  return t;
}

int parse_int_option(const std::string& spec, const std::string& key, const std::string& v, int lo,
                     int hi) {
  size_t used = 0;
  long x = 0;
  try {
    x = std::stol(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || x < lo || x > hi)
    throw Error("target '" + spec + "': -" + key + "=" + v +
                " is not valid; expected an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return static_cast<int>(x);
}

}  // namespace

std::string Target::str() const {
  switch (kind) {
    case TargetKind::kCpu: {
      std::string s = "cpu";
      if (!triple.empty()) s += " -mtriple=" + triple;
      if (!mcpu.empty()) s += " -mcpu=" + mcpu;
      return s;
    }
    case TargetKind::kCuda:
      return "cuda -arch=" + mcpu;
    case TargetKind::kRocm:
      return "rocm -mcpu=" + mcpu;
    case TargetKind::kVulkan:
      return "vulkan -subgroup=" + std::to_string(warp_size) +
             " -f16=" + (f16_arithmetic ? "1" : "0") +
             " -storage16=" + (storage_16bit ? "1" : "0") +
             " -max-threads=" + std::to_string(max_threads_per_block) +
             " -shared-memory=" + std::to_string(max_shared_memory);
    default:
      return std::string(target_kind_name(kind)) + (mcpu.empty() ? "" : " -mcpu=" + mcpu);
  }
}

Target Target::parse(const std::string& spec) {
  std::istringstream in(spec);
  std::string kind;
  in >> kind;
  std::vector<std::pair<std::string, std::string>> opts;
  for (std::string tok; in >> tok;) {
    auto eq = tok.find('=');
    if (tok.rfind("-", 0) != 0 || eq == std::string::npos)
      throw Error("target '" + spec + "': option '" + tok + "' is not of the form -key=value");
    opts.emplace_back(tok.substr(1, eq - 1), tok.substr(eq + 1));
  }
  auto bad_option = [&](const std::string& key, const char* accepted) {
    return Error("target '" + spec + "': unknown option -" + key + " (accepted: " + accepted + ")");
  };
  if (kind == "cpu" || kind == "llvm") {
    Target t = host_cpu();
    for (auto& [k, v] : opts) {
      if (k == "mcpu") {
        if (v != "native") t.mcpu = v, t.features.clear();
      } else if (k == "mtriple") {
        if (v != t.triple) t.triple = v, t.mcpu.clear(), t.features.clear();
      } else if (k == "mattr") {
        t.features = v;
      } else if (k == "num-cores") {
        t.num_cores = std::stoi(v);
      } else {
        throw bad_option(k, "-mcpu, -mtriple, -mattr, -num-cores");
      }
    }
    if (t.triple.rfind("aarch64", 0) == 0 && t.mcpu.empty()) t.vector_bits = 128;
    return t;
  }
  if (kind == "cuda" || kind == "nvptx") {
    std::string arch = "sm_80";
    for (auto& [k, v] : opts) {
      if (k == "arch" || k == "mcpu")
        arch = v;
      else
        throw bad_option(k, "-arch");
    }
    return cuda_target(arch);
  }
  if (kind == "rocm") {
    std::string gfx = "gfx1100";
    for (auto& [k, v] : opts) {
      if (k == "mcpu" || k == "arch")
        gfx = v;
      else
        throw bad_option(k, "-mcpu");
    }
    return rocm_target(gfx);
  }
  if (kind == "vulkan") {
    Target t = vulkan_target();
    for (auto& [k, v] : opts) {
      if (k == "subgroup") {
        t.warp_size = parse_int_option(spec, k, v, 1, 128);
        if ((t.warp_size & (t.warp_size - 1)) != 0)
          throw Error("target '" + spec + "': -subgroup=" + v + " is not a power of two");
      } else if (k == "f16") {
        t.f16_arithmetic = parse_int_option(spec, k, v, 0, 1) != 0;
      } else if (k == "storage16") {
        t.storage_16bit = parse_int_option(spec, k, v, 0, 1) != 0;
      } else if (k == "max-threads") {
        t.max_threads_per_block = parse_int_option(spec, k, v, 1, 1024);
      } else if (k == "shared-memory") {
        t.max_shared_memory = parse_int_option(spec, k, v, 0, 1 << 20);
      } else {
        throw bad_option(k, "-subgroup, -f16, -storage16, -max-threads, -shared-memory");
      }
    }
    return t;
  }
  throw Error("unknown target '" + kind + "' in '" + spec +
              "': expected one of cpu, cuda, rocm, vulkan (metal is planned)");
}

}  // namespace mlcc
