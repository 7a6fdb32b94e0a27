// Default traversals of the visitor and mutator.
#include "ir/functor.h"

#include "runtime/error.h"

namespace mlcc::ir {

void ExprVisitor::visit(const Expr& e) {
  if (!e.defined()) return;
  switch (e.kind()) {
#define MLCC_X(kind, S)   \
  case NodeKind::k##kind: \
    return visit_(static_cast<const S*>(e.get()));
    MLCC_EXPR_KINDS(MLCC_X)
#undef MLCC_X
    default:
      MLCC_CHECK(false, "statement kind in an expression visitor");
  }
}

void ExprVisitor::visit_(const IntImmNode*) {}
void ExprVisitor::visit_(const FloatImmNode*) {}
void ExprVisitor::visit_(const VarNode*) {}
void ExprVisitor::visit_(const BinaryNode* n) { visit(n->a), visit(n->b); }
void ExprVisitor::visit_(const NotNode* n) { visit(n->a); }
void ExprVisitor::visit_(const SelectNode* n) {
  visit(n->cond), visit(n->true_value), visit(n->false_value);
}
void ExprVisitor::visit_(const CastNode* n) { visit(n->value); }
void ExprVisitor::visit_(const RampNode* n) { visit(n->base), visit(n->stride); }
void ExprVisitor::visit_(const BroadcastNode* n) { visit(n->value); }
void ExprVisitor::visit_(const BufferLoadNode* n) {
  for (const Expr& i : n->indices) visit(i);
}
void ExprVisitor::visit_(const CallNode* n) {
  for (const Expr& a : n->args) visit(a);
}

void IRVisitor::visit(const Stmt& s) {
  if (!s.defined()) return;
  switch (s.kind()) {
#define MLCC_X(kind, S)   \
  case NodeKind::k##kind: \
    return visit_(static_cast<const S*>(s.get()));
    MLCC_STMT_KINDS(MLCC_X)
#undef MLCC_X
    default:
      MLCC_CHECK(false, "expression kind in a statement visitor");
  }
}

void IRVisitor::visit_(const ForNode* n) { visit(n->min), visit(n->extent), visit(n->body); }
void IRVisitor::visit_(const BufferStoreNode* n) {
  for (const Expr& i : n->indices) visit(i);
  visit(n->value);
}
void IRVisitor::visit_(const AllocateNode* n) { visit(n->body); }
void IRVisitor::visit_(const IfThenElseNode* n) {
  visit(n->cond), visit(n->then_case), visit(n->else_case);
}
void IRVisitor::visit_(const LetStmtNode* n) { visit(n->value), visit(n->body); }
void IRVisitor::visit_(const SeqNode* n) {
  for (const Stmt& s : n->seq) visit(s);
}
void IRVisitor::visit_(const EvaluateNode* n) { visit(n->value); }

// ---- Mutator ----------------------------------------------------------------------------

Expr ExprMutator::mutate(const Expr& e) {
  if (!e.defined()) return e;
  switch (e.kind()) {
#define MLCC_X(kind, S)   \
  case NodeKind::k##kind: \
    return mutate_(static_cast<const S*>(e.get()), e);
    MLCC_EXPR_KINDS(MLCC_X)
#undef MLCC_X
    default:
      MLCC_CHECK(false, "statement kind in an expression mutator");
  }
  return e;
}

std::vector<Expr> ExprMutator::mutate_all(const std::vector<Expr>& es, bool* changed) {
  std::vector<Expr> out;
  out.reserve(es.size());
  for (const Expr& e : es) {
    out.push_back(mutate(e));
    if (!out.back().same_as(e)) *changed = true;
  }
  return out;
}

Expr ExprMutator::mutate_(const IntImmNode*, const Expr& self) { return self; }
Expr ExprMutator::mutate_(const FloatImmNode*, const Expr& self) { return self; }
Expr ExprMutator::mutate_(const VarNode*, const Expr& self) { return self; }

Expr ExprMutator::mutate_(const BinaryNode* n, const Expr& self) {
  Expr a = mutate(n->a), b = mutate(n->b);
  if (a.same_as(n->a) && b.same_as(n->b)) return self;
  return binary(n->kind, a, b);
}
Expr ExprMutator::mutate_(const NotNode* n, const Expr& self) {
  Expr a = mutate(n->a);
  return a.same_as(n->a) ? self : !a;
}
Expr ExprMutator::mutate_(const SelectNode* n, const Expr& self) {
  Expr c = mutate(n->cond), t = mutate(n->true_value), f = mutate(n->false_value);
  if (c.same_as(n->cond) && t.same_as(n->true_value) && f.same_as(n->false_value)) return self;
  return select(c, t, f);
}
Expr ExprMutator::mutate_(const CastNode* n, const Expr& self) {
  Expr v = mutate(n->value);
  return v.same_as(n->value) ? self : cast(n->dtype, v);
}
Expr ExprMutator::mutate_(const RampNode* n, const Expr& self) {
  Expr b = mutate(n->base), s = mutate(n->stride);
  if (b.same_as(n->base) && s.same_as(n->stride)) return self;
  return ramp(b, s, n->lanes);
}
Expr ExprMutator::mutate_(const BroadcastNode* n, const Expr& self) {
  Expr v = mutate(n->value);
  return v.same_as(n->value) ? self : broadcast(v, n->lanes);
}
Expr ExprMutator::mutate_(const BufferLoadNode* n, const Expr& self) {
  bool changed = false;
  std::vector<Expr> idx = mutate_all(n->indices, &changed);
  Buffer b = mutate_buffer(n->buffer);
  if (!changed && b.same_as(n->buffer)) return self;
  return b(std::move(idx));
}
Expr ExprMutator::mutate_(const CallNode* n, const Expr& self) {
  bool changed = false;
  std::vector<Expr> args = mutate_all(n->args, &changed);
  return changed ? call(n->dtype, n->op, std::move(args)) : self;
}

Stmt IRMutator::mutate(const Stmt& s) {
  if (!s.defined()) return s;
  switch (s.kind()) {
#define MLCC_X(kind, S)   \
  case NodeKind::k##kind: \
    return mutate_(static_cast<const S*>(s.get()), s);
    MLCC_STMT_KINDS(MLCC_X)
#undef MLCC_X
    default:
      MLCC_CHECK(false, "expression kind in a statement mutator");
  }
  return s;
}

Stmt IRMutator::mutate_(const ForNode* n, const Stmt& self) {
  Expr mn = mutate(n->min), ext = mutate(n->extent);
  Stmt body = mutate(n->body);
  if (mn.same_as(n->min) && ext.same_as(n->extent) && body.same_as(n->body)) return self;
  return for_loop(n->var, mn, ext, body, n->for_kind, n->thread_axis);
}
Stmt IRMutator::mutate_(const BufferStoreNode* n, const Stmt& self) {
  bool changed = false;
  std::vector<Expr> idx = mutate_all(n->indices, &changed);
  Expr v = mutate(n->value);
  Buffer b = mutate_buffer(n->buffer);
  if (!changed && v.same_as(n->value) && b.same_as(n->buffer)) return self;
  return store(b, std::move(idx), v);
}
Stmt IRMutator::mutate_(const AllocateNode* n, const Stmt& self) {
  Buffer b = mutate_buffer(n->buffer);
  Stmt body = mutate(n->body);
  if (b.same_as(n->buffer) && body.same_as(n->body)) return self;
  return allocate(b, body);
}
Stmt IRMutator::mutate_(const IfThenElseNode* n, const Stmt& self) {
  Expr c = mutate(n->cond);
  Stmt t = mutate(n->then_case), e = mutate(n->else_case);
  if (c.same_as(n->cond) && t.same_as(n->then_case) && e.same_as(n->else_case)) return self;
  return if_then_else(c, t, e);
}
Stmt IRMutator::mutate_(const LetStmtNode* n, const Stmt& self) {
  Expr v = mutate(n->value);
  Stmt body = mutate(n->body);
  if (v.same_as(n->value) && body.same_as(n->body)) return self;
  return let_stmt(n->var, v, body);
}
Stmt IRMutator::mutate_(const SeqNode* n, const Stmt& self) {
  std::vector<Stmt> out;
  bool changed = false;
  for (const Stmt& s : n->seq) {
    out.push_back(mutate(s));
    if (!out.back().same_as(s)) changed = true;
  }
  return changed ? seq(std::move(out)) : self;
}
Stmt IRMutator::mutate_(const EvaluateNode* n, const Stmt& self) {
  Expr v = mutate(n->value);
  return v.same_as(n->value) ? self : evaluate(v);
}

namespace {
class PreOrder : public IRVisitor {
 public:
  explicit PreOrder(const std::function<void(const Node*)>& f) : f_(f) {}
  void visit(const Expr& e) override {
    if (!e.defined()) return;
    f_(e.get());
    ExprVisitor::visit(e);
  }
  void visit(const Stmt& s) override {
    if (!s.defined()) return;
    f_(s.get());
    IRVisitor::visit(s);
  }

 private:
  const std::function<void(const Node*)>& f_;
};
}  // namespace

void pre_order_visit(const Stmt& s, const std::function<void(const Node*)>& f) {
  PreOrder(f).visit(s);
}

}  // namespace mlcc::ir
