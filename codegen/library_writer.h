// Writes a compiled model library (runtime/library_format.h): the kernels
// lowered and compiled for the target (native code for the CPU, one PTX module
// for CUDA), the manifest with the kernels' entries added, all linked by lld
// into one shared object for the host.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "targets/target.h"

namespace mlcc::codegen {

// `manifest` holds everything but "kernels", which this fills in from the
// compiled kernels (in the order given: the VM's kernel indices). so_path is
// written atomically.
void write_library(const std::vector<ir::PrimFunc>& kernels, nlohmann::json manifest,
                   const Target& target, const std::string& so_path);

// A launch extent as the manifest's postfix expression over f's scalar params.
nlohmann::json postfix_extent(const ir::Expr& e, const ir::PrimFunc& f);

}  // namespace mlcc::codegen
