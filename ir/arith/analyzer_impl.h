// Internal state and algorithms behind arith::Analyzer, split over several files:
// analyzer.cc (bindings, facts, proofs), bounds.cc (constant bounds), int_set.cc (symbolic
// ranges), simplify_arith.cc (+ - * / % min max), simplify_logic.cc (comparisons, logic,
// select, cast, vectors, dispatch).
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include "ir/arith/analyzer.h"
#include "ir/arith/canonical.h"

namespace mlcc::ir::arith {

struct VarInfo {
  Expr min, extent;  // symbolic range [min, min+extent); undefined when not bound
  Expr value;        // known value; undefined when none
  int64_t lo = ConstIntBound::kNegInf, hi = ConstIntBound::kPosInf;
};

// A symbolic inclusive interval; an undefined side is unbounded.
struct SymInterval {
  Expr lo, hi;
};

// Integer expressions of these types get canonical forms, bound reasoning and div/mod rules
// (signed index arithmetic is assumed not to overflow, as in C and TVM). Unsigned and bool
// expressions get constant folding and identities only, because their wraparound makes
// "x - 1 < x" false at x == 0.
inline bool is_index_type(DataType t) { return t.is_int() && t.is_scalar(); }

// The same value computed in i64 (narrower index types only), so that simplifying
// symbolic bounds built from large constant bounds cannot wrap around.
Expr widen_to_i64(const Expr& e);

class AnalyzerImpl {
 public:
  // ---- analyzer.cc: state and facts
  const VarInfo* find(const VarNode* v) const;
  void set_var(const VarNode* v, VarInfo info);
  void assume(const Expr& cond);
  bool is_literal_fact(const Expr& simplified_cond) const;
  // The largest m with atom % m == 0 known (1 when nothing is known).
  int64_t known_divisor(const Expr& atom) const;
  // d >= 0 for a simplified signed integer expression d.
  bool prove_nonneg(const Expr& d);
  bool prove_nonneg(const SumForm& d) { return prove_nonneg(form_to_expr(d)); }
  size_t snapshot() const { return log_.size(); }
  void restore(size_t snap);

  // ---- bounds.cc
  ConstIntBound bound(const Expr& e);

  // ---- int_set.cc: range of e with every var accepted by `relax` taken over its range.
  SymInterval eval_interval(const Expr& e, const std::function<bool(const VarNode*)>& relax,
                            int depth);
  SymInterval symbolic_range(const Expr& e, const std::function<bool(const VarNode*)>& relax);

  // ---- simplify_logic.cc
  Expr simplify(const Expr& e);
  Expr simplify_cmp(NodeKind k, const Expr& a, const Expr& b);
  Expr simplify_not(const Expr& a);
  Expr simplify_logic(NodeKind k, const Expr& a, const Expr& b);

  // ---- simplify_arith.cc (operands already simplified)
  Expr simplify_add_sub(NodeKind k, const Expr& a, const Expr& b);
  Expr simplify_mul(const Expr& a, const Expr& b);
  Expr simplify_div_mod(NodeKind k, const Expr& a, const Expr& b);
  Expr simplify_min_max(NodeKind k, const Expr& a, const Expr& b);
  // Rewrites terms the form knows how to merge: c*(x/c) + x%c -> x, and k*(x/c) -> (k/c)*x
  // when x % c == 0 is known.
  void combine_div_mod_terms(SumForm* f);

  // Nesting depth of proofs; deep proofs skip the expensive strategies so that proofs that
  // simplify, and simplifications that prove, always terminate.
  int proof_depth = 0;

 private:
  struct Undo {
    enum Kind { kVar, kNonneg, kLiteral, kMod, kAtomBound } kind;
    const VarNode* var = nullptr;
    bool had = false;
    VarInfo old;
  };
  struct AtomBound {
    Expr atom;
    int64_t lo, hi;
  };
  void add_nonneg_fact(const SumForm& d);
  bool nonneg_by_bounds(const Expr& d);

  std::unordered_map<const VarNode*, VarInfo> vars_;
  std::vector<Expr> nonneg_facts_;  // canonical d with d >= 0
  std::vector<Expr> literal_facts_;
  std::vector<std::pair<Expr, int64_t>> mod_facts_;  // (x, m): x % m == 0
  std::vector<AtomBound> atom_bounds_;
  std::vector<Undo> log_;

 public:
  // Constant bounds recorded for a non-variable atom by assume (e.g. n*m >= 4).
  bool atom_bound(const Expr& atom, int64_t* lo, int64_t* hi) const;
};

}  // namespace mlcc::ir::arith
