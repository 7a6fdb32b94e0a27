// Whether an integer expression is provably >= 0 from its structure alone: the code
// generators (LLVM, SPIR-V) emit plain signed division for the IR's floor division and
// floor modulo only where both operands are non-negative. Header-only so that generators
// without LLVM (codegen/spirv) share it.
#pragma once

#include <unordered_set>

#include "ir/expr.h"

namespace mlcc::codegen {

// Conservative: true only when e >= 0 follows from its structure; `vars` are variables
// known to be non-negative (loop counters from 0, shape variables).
inline bool provably_non_negative(const ir::Expr& e,
                                  const std::unordered_set<const ir::VarNode*>& vars) {
  using namespace ir;
  auto nn = [&](const Expr& x) { return provably_non_negative(x, vars); };
  if (e.dtype().is_uint() || e.dtype().is_bool()) return true;
  if (!e.dtype().is_int()) return false;
  if (const auto* n = e.as<IntImmNode>()) return n->value >= 0;
  if (const auto* n = e.as<VarNode>()) return vars.count(n) != 0;
  if (const auto* n = e.as<BroadcastNode>()) return nn(n->value);
  if (const auto* n = e.as<RampNode>()) return nn(n->base) && nn(n->stride);
  if (const auto* n = e.as<CastNode>())
    return n->value.dtype().is_integer() && n->value.dtype().bits <= n->dtype.bits && nn(n->value);
  if (const auto* n = e.as<SelectNode>()) return nn(n->true_value) && nn(n->false_value);
  if (const auto* n = e.as<BinaryNode>()) {
    switch (n->kind) {
      case NodeKind::kAdd:
      case NodeKind::kMul:
      case NodeKind::kDiv:
      case NodeKind::kMin:
      case NodeKind::kBitOr:
      case NodeKind::kShr:
        return nn(n->a) && nn(n->b);
      case NodeKind::kMax:
      case NodeKind::kBitAnd:
        return nn(n->a) || nn(n->b);
      case NodeKind::kMod:
        return nn(n->b);  // floor mod takes the divisor's sign
      default:
        return false;
    }
  }
  return false;
}

}  // namespace mlcc::codegen
