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
  throw Error("unknown target '" + kind + "' in '" + spec +
              "': expected one of cpu, cuda (rocm, vulkan and metal are planned)");
}

}  // namespace mlcc
