// The simplify pass: simplifies every expression of a PrimFunc with an arith::Analyzer that
// knows the enclosing loop ranges, let values and branch conditions, then removes what
// became trivial: provably true/false branches, loops of extent 0, serial/unrolled/
// vectorized loops of extent 1 (their variable replaced by the loop min), and evaluations
// of constants. Symbolic shape vars of the buffers are taken to be >= 1.
#pragma once

#include "ir/arith/analyzer.h"
#include "ir/expr.h"

namespace mlcc::passes {

ir::PrimFunc simplify(const ir::PrimFunc& f);
// Simplifies s with what `analyzer` already knows (bindings made here are undone before
// returning). Returns an empty sequence when nothing is left to do.
ir::Stmt simplify(const ir::Stmt& s, ir::arith::Analyzer& analyzer);

}  // namespace mlcc::passes
