// The register VM that runs a library function's bytecode (runtime/library_format.h):
// it binds inputs, parameters, KV cache pools and planned storage views to registers and
// launches kernels on a Device. The bytecode is straight-line, so it is checked once, when
// the VM is made: every operand in range, every register written before it is read and
// used as the kind (tensor or scalar) it holds. Running then needs no checks per word.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/library.h"

namespace mlcc {

class Device;

// What a function's kParam, kKVCache and kView refer to, in manifest order.
struct VMEnv {
  Device* device = nullptr;
  std::span<void* const> params;     // one device pointer per manifest "params" entry
  std::span<void* const> kv_layers;  // one pool per layer
  std::span<void* const> storages;   // one per manifest "storages" entry
  // When set (one entry per manifest kernel), each launch adds the bytes its kernel moves
  // (KernelInfo::bytes), for profiles.
  std::vector<double>* kernel_bytes = nullptr;
};

class VirtualMachine {
 public:
  // Checks the bytecode of every function of `manifest`, which must outlive the VM.
  // Throws mlcc::Error naming `origin` (the library), the function, the code position and
  // the operand that is wrong.
  VirtualMachine(const Manifest& manifest, std::string origin);

  // Checks one function against the manifest (what the constructor does for each).
  static void validate(const Manifest& manifest, const FunctionInfo& f, const std::string& origin);

  // Runs `f` (a function of the manifest) with its inputs and scalars in the order of its
  // manifest lists; returns the device pointers of its outputs. Throws mlcc::Error when
  // the counts differ from the manifest's, when a kBinary divides by zero, or when a
  // kernel fails.
  std::vector<void*> run(const FunctionInfo& f, const VMEnv& env, std::span<void* const> inputs,
                         std::span<const int64_t> scalars) const;

 private:
  const Manifest& manifest_;
  std::string origin_;
  size_t max_call_buffers_ = 0, max_call_scalars_ = 0;
};

}  // namespace mlcc
