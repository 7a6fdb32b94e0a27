// Analyzer: bindings of variables, facts from assume(), proofs, and the public entry points.
#include "ir/arith/analyzer.h"

#include <algorithm>
#include <unordered_set>

#include "ir/arith/analyzer_impl.h"
#include "ir/arith/const_fold.h"
#include "ir/arith/expr_order.h"

namespace mlcc::ir::arith {

// ---- AnalyzerImpl: state ----------------------------------------------------------------

const VarInfo* AnalyzerImpl::find(const VarNode* v) const {
  auto it = vars_.find(v);
  return it == vars_.end() ? nullptr : &it->second;
}

void AnalyzerImpl::set_var(const VarNode* v, VarInfo info) {
  Undo u{Undo::kVar, v, false, {}};
  auto it = vars_.find(v);
  if (it != vars_.end()) u.had = true, u.old = it->second;
  log_.push_back(std::move(u));
  vars_[v] = std::move(info);
}

void AnalyzerImpl::restore(size_t snap) {
  while (log_.size() > snap) {
    Undo& u = log_.back();
    switch (u.kind) {
      case Undo::kVar:
        if (u.had)
          vars_[u.var] = u.old;
        else
          vars_.erase(u.var);
        break;
      case Undo::kNonneg:
        nonneg_facts_.pop_back();
        break;
      case Undo::kLiteral:
        literal_facts_.pop_back();
        break;
      case Undo::kMod:
        mod_facts_.pop_back();
        break;
      case Undo::kAtomBound:
        atom_bounds_.pop_back();
        break;
    }
    log_.pop_back();
  }
}

bool AnalyzerImpl::is_literal_fact(const Expr& c) const {
  for (const Expr& f : literal_facts_)
    if (expr_equal(f, c)) return true;
  return false;
}

int64_t AnalyzerImpl::known_divisor(const Expr& atom) const {
  int64_t best = 1;
  for (const auto& [x, m] : mod_facts_)
    if (m > best && expr_equal(x, atom)) best = m;
  return best;
}

bool AnalyzerImpl::atom_bound(const Expr& atom, int64_t* lo, int64_t* hi) const {
  bool found = false;
  *lo = ConstIntBound::kNegInf, *hi = ConstIntBound::kPosInf;
  for (const AtomBound& b : atom_bounds_) {
    if (!expr_equal(b.atom, atom)) continue;
    *lo = std::max(*lo, b.lo), *hi = std::min(*hi, b.hi);
    found = true;
  }
  return found;
}

// ---- Facts ------------------------------------------------------------------------------

void AnalyzerImpl::add_nonneg_fact(const SumForm& d) {
  if (d.terms.size() == 1) {
    // k*t + c >= 0 bounds the single term t.
    const Term& t = d.terms[0];
    int64_t lo = ConstIntBound::kNegInf, hi = ConstIntBound::kPosInf;
    if (t.coef > 0)
      lo = -floordiv(d.constant, t.coef);
    else
      hi = floordiv(d.constant, -t.coef);
    if (const auto* v = t.atom.as<VarNode>()) {
      VarInfo info;
      if (const VarInfo* old = find(v)) info = *old;
      info.lo = std::max(info.lo, lo), info.hi = std::min(info.hi, hi);
      set_var(v, std::move(info));
    } else {
      atom_bounds_.push_back({t.atom, lo, hi});
      log_.push_back(Undo{Undo::kAtomBound, nullptr, false, {}});
    }
    return;
  }
  if (d.is_const()) return;
  nonneg_facts_.push_back(form_to_expr(d));
  log_.push_back(Undo{Undo::kNonneg, nullptr, false, {}});
}

void AnalyzerImpl::assume(const Expr& cond) {
  Expr c = simplify(cond);
  if (c.as<IntImmNode>()) return;  // already known (or a contradiction: nothing to learn)
  const auto* b = c.as<BinaryNode>();
  if (b && b->kind == NodeKind::kAnd) {
    assume(b->a);
    assume(b->b);
    return;
  }
  literal_facts_.push_back(c);
  log_.push_back(Undo{Undo::kLiteral, nullptr, false, {}});
  if (!b || !is_index_type(b->a.dtype())) return;
  SumForm fa = expr_to_form(b->a), fb = expr_to_form(b->b);
  switch (b->kind) {
    case NodeKind::kLT:
      add_nonneg_fact(form_add(form_add(fb, fa, -1), form_const(fa.dtype, -1)));
      break;
    case NodeKind::kLE:
      add_nonneg_fact(form_add(fb, fa, -1));
      break;
    case NodeKind::kGT:
      add_nonneg_fact(form_add(form_add(fa, fb, -1), form_const(fa.dtype, -1)));
      break;
    case NodeKind::kGE:
      add_nonneg_fact(form_add(fa, fb, -1));
      break;
    case NodeKind::kEQ: {
      SumForm d = form_add(fa, fb, -1);
      add_nonneg_fact(d);
      add_nonneg_fact(form_scale(d, -1));
      if (d.terms.size() == 1 && d.constant == 0 &&
          (d.terms[0].coef == 1 || d.terms[0].coef == -1)) {
        const auto* m = d.terms[0].atom.as<BinaryNode>();
        int64_t div;
        if (m && m->kind == NodeKind::kMod && is_const_int(m->b, &div) && div > 0) {
          mod_facts_.push_back({m->a, div});
          log_.push_back(Undo{Undo::kMod, nullptr, false, {}});
        }
      }
      break;
    }
    default:
      break;
  }
}

// ---- Proofs -----------------------------------------------------------------------------

Expr widen_to_i64(const Expr& e) {
  DataType t = e.dtype();
  if (!is_index_type(t) || t.bits >= 64) return e;
  DataType w = DataType::i64();
  if (const auto* n = e.as<IntImmNode>()) return make_imm(w, n->value);
  if (const auto* n = e.as<BinaryNode>();
      n && n->kind >= NodeKind::kAdd && n->kind <= NodeKind::kMax)
    return binary(n->kind, widen_to_i64(n->a), widen_to_i64(n->b));
  if (const auto* n = e.as<SelectNode>())
    return select(n->cond, widen_to_i64(n->true_value), widen_to_i64(n->false_value));
  return cast(w, e);
}

bool AnalyzerImpl::nonneg_by_bounds(const Expr& d) { return bound(d).min_value >= 0; }

bool AnalyzerImpl::prove_nonneg(const Expr& d) {
  int64_t v;
  if (is_const_int(d, &v)) return v >= 0;
  if (nonneg_by_bounds(d)) return true;
  if (proof_depth >= 2) return false;
  ++proof_depth;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{proof_depth};
  // Each loop variable at its symbolic extreme (TVM's int-set evaluation), then bounds of
  // what is left (shape vars).
  auto relax = [&](const VarNode* x) {
    const VarInfo* info = find(x);
    return info && info->min.defined();
  };
  auto by_range = [&](const Expr& x) {
    SymInterval iv = eval_interval(x, relax, 0);
    if (!iv.lo.defined()) return false;
    Expr lo = simplify(widen_to_i64(iv.lo));
    return (is_const_int(lo, &v) && v >= 0) || nonneg_by_bounds(lo);
  };
  if (by_range(d)) return true;
  // d = f + (d - f) with f >= 0 known: enough that d - f >= 0.
  for (size_t i = 0; i < nonneg_facts_.size(); ++i) {
    if (nonneg_facts_[i].dtype() != d.dtype()) continue;
    Expr rest = simplify(binary(NodeKind::kSub, d, nonneg_facts_[i]));
    if (nonneg_by_bounds(rest) || by_range(rest)) return true;
  }
  return false;
}

// ---- Analyzer ---------------------------------------------------------------------------

Analyzer::Analyzer() : impl_(std::make_unique<AnalyzerImpl>()) {}
Analyzer::~Analyzer() = default;

void Analyzer::bind(const Var& v, const Expr& min, const Expr& extent) {
  Expr mn = impl_->simplify(min), ext = impl_->simplify(extent);
  VarInfo info;
  if (const VarInfo* old = impl_->find(v.get())) info.value = old->value;
  info.min = mn, info.extent = ext;
  info.lo = impl_->bound(mn).min_value;
  if (is_index_type(v.dtype()))
    info.hi = impl_
                  ->bound(impl_->simplify(binary(NodeKind::kSub, binary(NodeKind::kAdd, mn, ext),
                                                 make_imm(v.dtype(), 1))))
                  .max_value;
  impl_->set_var(v.get(), std::move(info));
}

void Analyzer::bind_value(const Var& v, const Expr& value) {
  Expr val = impl_->simplify(value);
  VarInfo info;
  if (const VarInfo* old = impl_->find(v.get())) info = *old;
  info.value = val;
  ConstIntBound b = impl_->bound(val);
  info.lo = std::max(info.lo, b.min_value), info.hi = std::min(info.hi, b.max_value);
  impl_->set_var(v.get(), std::move(info));
}

void Analyzer::bind_const_range(const Var& v, int64_t lo, int64_t hi) {
  VarInfo info;
  if (const VarInfo* old = impl_->find(v.get())) info = *old;
  info.lo = lo, info.hi = hi;
  impl_->set_var(v.get(), std::move(info));
}

void Analyzer::assume(const Expr& cond) { impl_->assume(cond); }

ConstIntBound Analyzer::const_int_bound(const Expr& e) { return impl_->bound(impl_->simplify(e)); }

Expr Analyzer::simplify(const Expr& e) { return impl_->simplify(e); }

bool Analyzer::can_prove(const Expr& cond) {
  return is_const_int(impl_->simplify(cond), int64_t{1});
}

bool Analyzer::can_prove_equal(const Expr& a, const Expr& b) {
  if (is_index_type(a.dtype()) && a.dtype() == b.dtype())
    return is_const_int(impl_->simplify(binary(NodeKind::kSub, a, b)), int64_t{0});
  if (expr_equal(impl_->simplify(a), impl_->simplify(b))) return true;
  return a.dtype().is_integer() && can_prove(binary(NodeKind::kEQ, a, b));
}

std::pair<Expr, Expr> Analyzer::symbolic_range(const Expr& e, const std::vector<Var>& relax) {
  std::unordered_set<const VarNode*> set;
  for (const Var& v : relax) set.insert(v.get());
  SymInterval iv = impl_->symbolic_range(e, [&](const VarNode* v) { return set.count(v) > 0; });
  return {iv.lo, iv.hi};
}

size_t Analyzer::snapshot() const { return impl_->snapshot(); }
void Analyzer::restore(size_t snapshot) { impl_->restore(snapshot); }

}  // namespace mlcc::ir::arith
