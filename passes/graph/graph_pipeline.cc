// The graph pass list and its driver (passes/graph/graph_pipeline.h).
#include "passes/graph/graph_pipeline.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "passes/graph/graph_passes.h"
#include "runtime/error.h"

namespace mlcc::graph {

const std::vector<GraphPass>& graph_passes() {
  static const std::vector<GraphPass> passes = {
      {"quantize", quantize}, {"fuse_ops", fuse_ops},       {"remove_dead_code", remove_dead_code},
      {"legalize", legalize}, {"plan_memory", plan_memory}, {"lower_to_vm", lower_to_vm},
  };
  return passes;
}

std::string print_program(const Program& p) {
  std::string out = print(p.module);
  if (!p.kernels.empty()) {
    out += "\nkernels (" + std::to_string(p.kernels.size()) + "):\n";
    for (const ir::PrimFunc& k : p.kernels) out += "  " + k.name + "\n";
  }
  if (!p.memory.storages.empty()) {
    out += "\nstorages:";
    for (int64_t s : p.memory.storages) out += " " + std::to_string(s);
    out += "\n";
    for (const auto& [name, fp] : p.memory.functions) {
      out += "  " + name + ":";
      for (const auto& [node, pl] : fp.placements)
        out += " %" + std::to_string(node) + "@" + std::to_string(pl.storage) + "+" +
               std::to_string(pl.offset);
      out += "\n";
    }
  }
  for (const auto& [name, vm] : p.vm) {
    out += "\nvm " + name + " (" + std::to_string(vm.num_registers) + " registers):";
    for (int64_t w : vm.code) out += " " + std::to_string(w);
    out += "\n";
  }
  return out;
}

Program run_graph_pipeline(Program p, const PipelineOptions& options) {
  if (!options.dump_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.dump_dir, ec);
    if (ec)
      throw Error("--dump-ir: cannot create directory '" + options.dump_dir + "': " + ec.message());
  }
  auto dump = [&](int index, const std::string& name) {
    if (options.dump_dir.empty()) return;
    std::string number = std::to_string(index);
    if (number.size() < 2) number = "0" + number;
    std::string path = options.dump_dir + "/" + number + "-" + name + ".txt";
    std::ofstream f(path);
    f << print_program(p);
    if (!f) throw Error("--dump-ir: cannot write '" + path + "'");
  };
  dump(0, "input");
  int index = 1;
  for (const GraphPass& pass : graph_passes()) {
    auto t0 = std::chrono::steady_clock::now();
    p = pass.run(std::move(p));
    if (auto problems = verify(p.module); !problems.empty())
      throw Error("graph pass " + pass.name + " left an ill-formed module: " + problems.front());
    if (options.time_passes)
      std::fprintf(
          stderr, "[pass] %-18s %8.1f ms\n", pass.name.c_str(),
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    dump(index++, pass.name);
  }
  return p;
}

}  // namespace mlcc::graph
