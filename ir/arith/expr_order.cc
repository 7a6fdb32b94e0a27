// The deterministic total order of expressions (see expr_order.h).
#include "ir/arith/expr_order.h"

#include <cstring>

#include "ir/functor.h"

namespace mlcc::ir::arith {

namespace {

template <typename T>
int cmp(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int compare_list(const std::vector<Expr>& a, const std::vector<Expr>& b) {
  if (int c = cmp(a.size(), b.size())) return c;
  for (size_t i = 0; i < a.size(); ++i)
    if (int c = compare_expr(a[i], b[i])) return c;
  return 0;
}

}  // namespace

int compare_expr(const Expr& a, const Expr& b) {
  if (a.same_as(b)) return 0;
  if (!a.defined() || !b.defined()) return a.defined() ? 1 : -1;
  if (int c = cmp(static_cast<int>(a.kind()), static_cast<int>(b.kind()))) return c;
  DataType ta = a.dtype(), tb = b.dtype();
  if (int c = cmp(static_cast<int>(ta.code), static_cast<int>(tb.code))) return c;
  if (int c = cmp(ta.bits, tb.bits)) return c;
  if (int c = cmp(ta.lanes, tb.lanes)) return c;
  if (const auto* x = a.as<IntImmNode>()) return cmp(x->value, b.as<IntImmNode>()->value);
  if (const auto* x = a.as<FloatImmNode>()) {
    double y = b.as<FloatImmNode>()->value;
    uint64_t bx, by;
    std::memcpy(&bx, &x->value, 8);
    std::memcpy(&by, &y, 8);
    return cmp(bx, by);
  }
  if (const auto* x = a.as<VarNode>()) {
    const auto* y = b.as<VarNode>();
    if (int c = x->name.compare(y->name)) return c < 0 ? -1 : 1;
    return cmp(x, y);
  }
  if (const auto* x = a.as<BinaryNode>()) {
    const auto* y = b.as<BinaryNode>();
    if (int c = compare_expr(x->a, y->a)) return c;
    return compare_expr(x->b, y->b);
  }
  if (const auto* x = a.as<NotNode>()) return compare_expr(x->a, b.as<NotNode>()->a);
  if (const auto* x = a.as<SelectNode>()) {
    const auto* y = b.as<SelectNode>();
    if (int c = compare_expr(x->cond, y->cond)) return c;
    if (int c = compare_expr(x->true_value, y->true_value)) return c;
    return compare_expr(x->false_value, y->false_value);
  }
  if (const auto* x = a.as<CastNode>()) return compare_expr(x->value, b.as<CastNode>()->value);
  if (const auto* x = a.as<RampNode>()) {
    const auto* y = b.as<RampNode>();
    if (int c = compare_expr(x->base, y->base)) return c;
    return compare_expr(x->stride, y->stride);
  }
  if (const auto* x = a.as<BroadcastNode>())
    return compare_expr(x->value, b.as<BroadcastNode>()->value);
  if (const auto* x = a.as<BufferLoadNode>()) {
    const auto* y = b.as<BufferLoadNode>();
    if (int c = x->buffer->name.compare(y->buffer->name)) return c < 0 ? -1 : 1;
    if (int c = cmp(x->buffer.get(), y->buffer.get())) return c;
    return compare_list(x->indices, y->indices);
  }
  if (const auto* x = a.as<CallNode>()) {
    const auto* y = b.as<CallNode>();
    if (int c = cmp(static_cast<int>(x->op), static_cast<int>(y->op))) return c;
    return compare_list(x->args, y->args);
  }
  return 0;
}

bool uses_var(const Expr& e, const VarNode* v) {
  struct Finder : ExprVisitor {
    const VarNode* target;
    bool found = false;
    void visit(const Expr& x) override {
      if (!found) ExprVisitor::visit(x);
    }
    void visit_(const VarNode* n) override { found = found || n == target; }
  } f;
  f.target = v;
  f.visit(e);
  return f.found;
}

}  // namespace mlcc::ir::arith
