// What the graph passes of `mlcc compile` work on: the model's graph module
// plus, as the pipeline goes on, its kernels, memory plan and VM program. Each
// pass takes a Program and returns the next one (passes/graph/pipeline.h lists
// them in order).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/graph/graph.h"
#include "passes/legalize/llm_kernels.h"
#include "targets/target.h"

namespace mlcc::graph {

// Where an intermediate tensor lives: a storage of the manifest and a byte
// offset in it.
struct Placement {
  int storage = -1;
  int64_t offset = 0;
};

struct FunctionPlan {
  std::map<int, Placement> placements;  // node index -> placement of its (single) output
  int64_t arena_bytes = 0;              // bytes of the shared arena this function needs
};

struct MemoryPlan {
  std::vector<int64_t> storages;  // storage 0 is the arena shared by functions
  std::map<std::string, FunctionPlan> functions;
  int64_t param_bytes = 0, activation_bytes = 0, kv_cache_bytes = 0;
};

struct VmFunction {
  std::vector<std::string> scalars;  // the caller's scalar arguments, in order
  int64_t num_registers = 0;
  std::vector<int64_t> code;
};

struct Program {
  Module module;
  Target target;
  kernels::Quantization quant;
  int64_t context_window = 0, prefill_chunk_size = 0;
  // Filled by legalization: kernels by name, in the order they were first
  // needed.
  std::vector<ir::PrimFunc> kernels;
  MemoryPlan memory;                     // plan_memory
  std::map<std::string, VmFunction> vm;  // lower_to_vm
};

// The kernel of a Call node.
const ir::PrimFunc& call_kernel(const Program& p, const Node& call);

}  // namespace mlcc::graph
