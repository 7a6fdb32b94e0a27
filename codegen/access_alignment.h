// The byte alignment a load or store of a flat buffer may assume, from the buffer's
// declared alignment and the multiples its index is built of: the LLVM generator puts it on
// every access, the SPIR-V generator loads whole 8- and 16-byte vectors where it allows.
// Header-only so that generators without LLVM (codegen/spirv) share it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "ir/expr.h"

namespace mlcc::codegen {

// A number the (element) index is known to be a multiple of; 0 means the index is 0.
inline int64_t known_factor(const ir::Expr& e) {
  using namespace ir;
  constexpr int64_t kCap = int64_t{1} << 20;
  if (const auto* n = e.as<IntImmNode>())
    return std::min(n->value < 0 ? -n->value : n->value, kCap);
  if (const auto* n = e.as<BinaryNode>()) {
    if (n->kind == NodeKind::kMul) return std::min(known_factor(n->a) * known_factor(n->b), kCap);
    if (n->kind == NodeKind::kAdd || n->kind == NodeKind::kSub)
      return std::gcd(known_factor(n->a), known_factor(n->b));
    if (n->kind == NodeKind::kShl) {
      int64_t s;
      if (is_const_int(n->b, &s) && s >= 0 && s < 20)
        return std::min(known_factor(n->a) << s, kCap);
    }
  }
  return 1;
}

// Bytes the address of element `index` of `b` is a multiple of (a power of two, at least 1);
// `elem_bytes` overrides the size of an element where memory holds it wider than its dtype.
inline int access_alignment(const ir::Buffer& b, const ir::Expr& index, int elem_bytes = 0) {
  int64_t elem = std::max(1, elem_bytes > 0 ? elem_bytes : b->dtype.bytes());
  int64_t f = known_factor(index);
  int64_t align = b->alignment > 0 ? b->alignment : elem;
  if (f != 0) {
    int64_t bytes = f * elem;
    align = std::min(align, bytes & -bytes);  // largest power of two dividing it
  }
  return static_cast<int>(std::max<int64_t>(align, 1));
}

}  // namespace mlcc::codegen
