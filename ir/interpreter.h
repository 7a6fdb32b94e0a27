// The reference interpreter: runs any PrimFunc on host memory. It is the definition of
// what the tensor IR means; every backend's numeric tests compare against it.
//
// Values. A value is a vector of lanes. Bool and integer lanes are held as int64 wrapped to
// the type's width after every operation (i32 arithmetic wraps at 32 bits; shifts are
// logical on unsigned and arithmetic on signed types; a shift amount outside [0, bits) is
// an error). Float lanes are held as a double that is exactly representable in the type:
// every operation is computed in double and rounded to the type (f16 and bf16 through
// float, with ir/half.h). Integer Div/Mod are floor division/modulo, division by zero is an
// error; on floats Div is IEEE division and Mod is a - b * floor(a / b). Min/Max on floats
// return NaN when either operand is NaN, so poisoned memory never disappears in a
// reduction. Casts follow C: float to int truncates toward zero, saturating at the type's
// range (NaN gives 0, as GPUs do); int to float and float to narrower float round to
// nearest even. Select evaluates both operands, as a machine select does: a load in the
// untaken operand must still be in bounds (guard it with IfThenElse instead).
//
// Memory. Loads and stores check every lane's index tuple against the buffer's shape and
// the bytes available; a violation is an mlcc::Error naming the buffer, the index and the
// shape. Vector accesses take their lanes from the vector indices (a Ramp or any vector of
// indices: gather/scatter). Allocations are poisoned (NaN for floats, 0xCD bytes for ints).
//
// Loops. Serial, parallel, vectorized and unrolled loops run serially in order; block-axis
// loops run their blocks one after another. Reaching a threadIdx-bound loop outside any
// thread context starts a block. Its shape is, per axis, the largest extent of the
// threadIdx loops inside that loop (the directly nested chain of x/y/z loops, and sibling
// thread loops further in, as a code generator's blockDim); its threads run as
// cooperative fibers scheduled round robin, so sync_threads() is a real barrier, and warp
// shuffles, mma_m16n8k16 (a full warp of 32 multiplies its fragments together) and
// thread_allreduce exchange values among the participating threads (a warp is
// warp_size consecutive linear thread ids, linear id = x + y*dimx + z*dimx*dimy). Within
// the block every threadIdx loop, the starting one included, runs its body once with the
// var = min + the thread's index on its axis when that index < extent, and is skipped
// otherwise. A barrier that some threads of the block never reach is a divergent-barrier
// error, as is a shuffle that not all threads of a warp reach, or a thread_allreduce that
// not all threads of its group reach. Shared allocations get one storage per block and
// must be executed outside the thread loops; local and global allocations get one storage
// per executing thread (or the host context). Sibling thread loops at block level start
// one block each, in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ir/expr.h"

namespace mlcc::ir {

// A host buffer argument: raw bytes in the buffer's dtype layout (f16/bf16 as uint16 bits,
// bool as one byte per element).
struct HostBuffer {
  void* data = nullptr;
  size_t bytes = 0;
};

template <typename T>
HostBuffer host_buffer(std::vector<T>& v) {
  return {v.data(), v.size() * sizeof(T)};
}

// A scalar argument: an integer (for bool/int/uint params, or converted to a float param)
// or a float (for float params only).
struct ScalarValue {
  bool is_float = false;
  int64_t i = 0;
  double f = 0;

  ScalarValue(int v) : i(v) {}                     // NOLINT: implicit on purpose
  ScalarValue(int64_t v) : i(v) {}                 // NOLINT
  ScalarValue(double v) : is_float(true), f(v) {}  // NOLINT
};

struct InterpreterOptions {
  int warp_size = 32;                    // lanes of a warp/subgroup for shuffles
  int max_threads_per_block = 1024;      // a larger block is an error
  size_t fiber_stack_bytes = 256 << 10;  // per thread, reserved (not committed) memory
};

// Runs f. `buffers` in the order of f.buffers, `scalars` in the order of f.scalars (shape
// vars first). Throws mlcc::Error "interpret <name>: ..." on any failure described above.
void interpret(const PrimFunc& f, const std::vector<HostBuffer>& buffers,
               const std::vector<ScalarValue>& scalars, const InterpreterOptions& options = {});

}  // namespace mlcc::ir
