// The simplify pass (see simplify.h). Statements that become no-ops are represented by an
// undefined Stmt while walking, which seq() drops; the top level turns it into seq({}).
#include "passes/simplify.h"

#include <limits>

#include "ir/arith/const_fold.h"
#include "ir/functor.h"

namespace mlcc::passes {

using namespace ir;

namespace {

bool is_noop(const Stmt& s) {
  if (!s.defined()) return true;
  const auto* sq = s.as<SeqNode>();
  return sq && sq->seq.empty();
}

bool stmt_uses_var(const Stmt& s, const VarNode* v) {
  bool found = false;
  pre_order_visit(s, [&](const Node* n) { found = found || n == v; });
  return found;
}

class Simplifier : public IRMutator {
 public:
  explicit Simplifier(arith::Analyzer& a) : a_(a) {}

  using IRMutator::mutate;
  Expr mutate(const Expr& e) override { return a_.simplify(e); }

 protected:
  using IRMutator::mutate_;

  Stmt mutate_(const ForNode* n, const Stmt& self) override {
    Expr mn = mutate(n->min), ext = mutate(n->extent);
    if (a_.can_prove(ext <= 0)) return Stmt();
    bool may_inline = n->for_kind == ForKind::kSerial || n->for_kind == ForKind::kUnrolled ||
                      n->for_kind == ForKind::kVectorized;
    arith::AnalyzerScope scope(a_);
    if (may_inline && is_const_int(ext, int64_t{1})) {
      a_.bind_value(n->var, mn);
      Stmt body = mutate(n->body);
      if (is_noop(body)) return Stmt();
      // The analyzer substitutes the value in every expression; a let keeps anything else
      // that still names the variable (e.g. a buffer shape) meaningful.
      return stmt_uses_var(body, n->var.get()) ? let_stmt(n->var, mn, body) : body;
    }
    a_.bind(n->var, mn, ext);
    Stmt body = mutate(n->body);
    if (is_noop(body)) return Stmt();
    if (mn.same_as(n->min) && ext.same_as(n->extent) && body.same_as(n->body)) return self;
    return for_loop(n->var, mn, ext, body, n->for_kind, n->thread_axis);
  }

  Stmt mutate_(const LetStmtNode* n, const Stmt& self) override {
    Expr value = mutate(n->value);
    arith::AnalyzerScope scope(a_);
    bool inline_value = value.as<IntImmNode>() || value.as<FloatImmNode>() || value.as<VarNode>();
    if (inline_value) {
      a_.bind_value(n->var, value);
    } else if (is_index(value.dtype())) {
      arith::ConstIntBound b = a_.const_int_bound(value);
      a_.bind_const_range(n->var, b.min_value, b.max_value);
    }
    Stmt body = mutate(n->body);
    if (is_noop(body)) return Stmt();
    if (inline_value && !stmt_uses_var(body, n->var.get())) return body;
    if (value.same_as(n->value) && body.same_as(n->body)) return self;
    return let_stmt(n->var, value, body);
  }

  Stmt mutate_(const IfThenElseNode* n, const Stmt& self) override {
    Expr cond = mutate(n->cond);
    if (const auto* c = cond.as<IntImmNode>())
      return c->value ? mutate(n->then_case) : mutate(n->else_case);
    Stmt then_case, else_case;
    {
      arith::AnalyzerScope scope(a_);
      a_.assume(cond);
      then_case = mutate(n->then_case);
    }
    if (n->else_case.defined()) {
      arith::AnalyzerScope scope(a_);
      a_.assume(!cond);
      else_case = mutate(n->else_case);
    }
    if (is_noop(else_case)) else_case = Stmt();
    if (is_noop(then_case)) {
      if (!else_case.defined()) return Stmt();
      return if_then_else(a_.simplify(!cond), else_case);
    }
    if (cond.same_as(n->cond) && then_case.same_as(n->then_case) && else_case.same_as(n->else_case))
      return self;
    return if_then_else(cond, then_case, else_case);
  }

  Stmt mutate_(const AllocateNode* n, const Stmt& self) override {
    Stmt body = mutate(n->body);
    if (is_noop(body)) return Stmt();
    return body.same_as(n->body) ? self : allocate(n->buffer, body);
  }

  Stmt mutate_(const EvaluateNode* n, const Stmt& self) override {
    Expr v = mutate(n->value);
    if (v.as<IntImmNode>() || v.as<FloatImmNode>()) return Stmt();
    return v.same_as(n->value) ? self : evaluate(v);
  }

 private:
  static bool is_index(DataType t) { return t.is_int() && t.is_scalar(); }
  arith::Analyzer& a_;
};

}  // namespace

Stmt simplify(const Stmt& s, arith::Analyzer& analyzer) {
  arith::AnalyzerScope scope(analyzer);
  Stmt out = Simplifier(analyzer).mutate(s);
  return out.defined() ? out : seq({});
}

PrimFunc simplify(const PrimFunc& f) {
  arith::Analyzer analyzer;
  for (const Buffer& b : f.buffers)
    for (const Expr& dim : b->shape)
      if (const auto* v = dim.as<VarNode>(); v && v->dtype.is_int())
        analyzer.bind_const_range(Var(std::static_pointer_cast<const VarNode>(dim.ptr())), 1,
                                  arith::type_max(v->dtype));
  PrimFunc out = f;
  out.body = simplify(f.body, analyzer);
  return out;
}

}  // namespace mlcc::passes
