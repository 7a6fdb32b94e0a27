// The binary interface between compiled CPU kernels (codegen/llvm) and the runtime. Kept
// in plain C types so kernel objects need nothing from the runtime at link time: the
// loader fills in the function pointers below after dlopen.
#pragma once

#include <stdint.h>

extern "C" {

// A kernel entry: buffers[i] points to the data of the i-th buffer parameter, scalars[j]
// holds the j-th scalar parameter (symbolic shapes and plain scalars) widened to int64
// (floats are passed bit-cast into the int64 slot). Returns 0 on success.
typedef int32_t (*MlccKernelFn)(void* const* buffers, const int64_t* scalars);

// Body of an outlined parallel loop: runs task `task` of `num_tasks`.
typedef int32_t (*MlccParallelBody)(int64_t task, int64_t num_tasks, void* closure);

// Runs body(t, n, closure) for t in [0, n) on the runtime's thread pool and returns the
// first non-zero status (0 when all succeed).
typedef int32_t (*MlccParallelLaunch)(MlccParallelBody body, void* closure, int64_t num_tasks);
}

// Every CPU kernel module defines a global variable of this name and type; the loader
// stores the runtime's parallel launcher there before any kernel runs.
#define MLCC_PARALLEL_LAUNCH_SYMBOL "mlcc_parallel_launch"
// Every module also exports `int32_t mlcc_module_abi_version` equal to this value.
#define MLCC_KERNEL_ABI_VERSION 1
#define MLCC_KERNEL_ABI_VERSION_SYMBOL "mlcc_module_abi_version"
