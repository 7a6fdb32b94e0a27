// The tensor-IR verifier, run after every pass in debug builds. It checks that a PrimFunc
// is well formed: every variable and buffer used is defined where it is used, indices match
// buffer ranks and lanes, stores have the buffer's type, loop extents are integers, no
// variable is defined again inside its own scope, and the GPU structure is sound (block
// loops outside thread loops, shared allocations enclosing the thread loops, barriers and
// warp operations only inside thread loops, no global allocations inside a kernel).
#pragma once

#include <string>
#include <vector>

#include "ir/expr.h"

namespace mlcc::ir {

// Every problem found, one message each: "<func>: <what is wrong> in `<statement>`".
std::vector<std::string> verify_errors(const PrimFunc& f);

// Throws mlcc::Error listing every problem, one per line, when verify_errors finds any.
void verify(const PrimFunc& f);

}  // namespace mlcc::ir
