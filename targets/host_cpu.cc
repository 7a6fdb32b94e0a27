// Target::host_cpu(): the machine this process runs on, from LLVM's host detection.
#include <llvm/ADT/StringMap.h>
#include <llvm/TargetParser/Host.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "targets/target.h"

namespace mlcc {

Target Target::host_cpu() {
  Target t;
  t.kind = TargetKind::kCpu;
  t.triple = llvm::sys::getProcessTriple();
  t.mcpu = llvm::sys::getHostCPUName().str();
  if (t.mcpu == "generic") t.mcpu.clear();
  // Sorted, so that the string (and anything cached by it) is stable across runs.
  std::vector<std::string> feats;
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  for (const auto& kv : host) feats.push_back((kv.getValue() ? "+" : "-") + kv.getKey().str());
  std::sort(feats.begin(), feats.end());
  for (const std::string& f : feats) t.features += (t.features.empty() ? "" : ",") + f;
  auto has = [&](const char* f) {
    auto it = host.find(f);
    return it != host.end() && it->getValue();
  };
  if (has("avx512f"))
    t.vector_bits = 512;
  else if (has("avx"))
    t.vector_bits = 256;
  else
    t.vector_bits = 128;
  t.warp_size = 1;
  t.max_threads_per_block = 1;
  unsigned n = std::thread::hardware_concurrency();
  t.num_cores = n ? static_cast<int>(n) : 1;
  return t;
}

}  // namespace mlcc
