// Visitor and mutator over the tensor IR, with one method per node struct (the list comes
// from ir/node_kinds.def). The mutator rebuilds a node only when a child changed and
// otherwise returns the very same node, so unchanged subtrees stay shared.
#pragma once

#include <functional>

#include "ir/expr.h"

namespace mlcc::ir {

class ExprVisitor {
 public:
  virtual ~ExprVisitor() = default;
  virtual void visit(const Expr& e);

 protected:
#define MLCC_X(S) virtual void visit_(const S* n);
  MLCC_EXPR_STRUCTS(MLCC_X)
#undef MLCC_X
};

// Visits statements and every expression inside them.
class IRVisitor : public ExprVisitor {
 public:
  using ExprVisitor::visit;
  virtual void visit(const Stmt& s);

 protected:
  using ExprVisitor::visit_;
#define MLCC_X(S) virtual void visit_(const S* n);
  MLCC_STMT_STRUCTS(MLCC_X)
#undef MLCC_X
};

class ExprMutator {
 public:
  virtual ~ExprMutator() = default;
  virtual Expr mutate(const Expr& e);
  // Buffers referenced by loads, stores and allocations pass through here.
  virtual Buffer mutate_buffer(const Buffer& b) { return b; }

 protected:
  // `self` is the Expr holding n, returned when nothing changes.
#define MLCC_X(S) virtual Expr mutate_(const S* n, const Expr& self);
  MLCC_EXPR_STRUCTS(MLCC_X)
#undef MLCC_X
  std::vector<Expr> mutate_all(const std::vector<Expr>& es, bool* changed);
};

class IRMutator : public ExprMutator {
 public:
  using ExprMutator::mutate;
  virtual Stmt mutate(const Stmt& s);

 protected:
  using ExprMutator::mutate_;
#define MLCC_X(S) virtual Stmt mutate_(const S* n, const Stmt& self);
  MLCC_STMT_STRUCTS(MLCC_X)
#undef MLCC_X
};

// Calls f on every expression and statement node, parents before children.
void pre_order_visit(const Stmt& s, const std::function<void(const Node*)>& f);

}  // namespace mlcc::ir
