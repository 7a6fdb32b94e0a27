// Links kernel objects by running ld.lld as a subprocess (the path configured at build
// time as MLCC_LLD; the MLCC_LLD environment variable overrides): host shared libraries
// (CPU kernels, the data of GPU libraries) and AMDGPU code objects.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "targets/target.h"

namespace mlcc::codegen {

// Writes `object` to a temporary file, links it with `ld.lld -shared`, and
// renames the result onto so_path, so that so_path is never left half-written.
// When the target is the host's architecture the library records its libm
// dependency (kernels may call expf, erff...). Temporary files are removed in
// every case. Throws mlcc::Error with lld's output when linking fails.
void link_shared_library(const std::vector<uint8_t>& object, const Target& target,
                         const std::string& so_path);
// The same for several objects linked together.
void link_shared_library(const std::vector<std::vector<uint8_t>>& objects, const Target& target,
                         const std::string& so_path);

// An amdgcn relocatable object linked (`ld.lld -shared`) into the HSA code object the
// HIP runtime loads, returned in memory. Throws mlcc::Error with lld's output on failure.
std::vector<uint8_t> link_code_object(const std::vector<uint8_t>& object);

// The ld.lld executable used.
std::string lld_path();

}  // namespace mlcc::codegen
