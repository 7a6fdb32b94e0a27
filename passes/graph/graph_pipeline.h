// The graph pass pipeline of `mlcc compile`: the one list of graph passes, in
// order, with the IR dump after each pass (--dump-ir) and per-pass timing
// (MLCC_TIME_PASSES=1).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "passes/graph/program.h"

namespace mlcc::graph {

struct GraphPass {
  std::string name;
  std::function<Program(Program)> run;
};
// quantize -> fuse_ops -> remove_dead_code -> legalize -> plan_memory ->
// lower_to_vm.
const std::vector<GraphPass>& graph_passes();

struct PipelineOptions {
  std::string dump_dir;      // when set: DIR/NN-PASS.txt after each pass (made if missing)
  bool time_passes = false;  // print each pass's wall time to stderr
};
Program run_graph_pipeline(Program p, const PipelineOptions& options);

// The Program as text: the graph, then the kernels' names and VM code once they
// exist.
std::string print_program(const Program& p);

}  // namespace mlcc::graph
