// Arithmetic analysis of integer index expressions. An Analyzer holds what is known about
// variables (loop ranges, symbolic shape vars, let values) and facts (n % 4 == 0, n >= 8),
// and answers with constant bounds, symbolic ranges, proofs and a simplifier that puts
// integer expressions in a canonical affine form and folds constants of every type.
// Split/fuse lowering, bound inference, the simplify pass and the code generators use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "ir/expr.h"

namespace mlcc::ir::arith {

// Inclusive bounds; kNegInf / kPosInf mean "no bound".
struct ConstIntBound {
  int64_t min_value, max_value;
  static constexpr int64_t kPosInf = INT64_MAX, kNegInf = INT64_MIN;
  bool is_const() const { return min_value == max_value; }
};

class AnalyzerImpl;

class Analyzer {
 public:
  Analyzer();
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // v ranges over [min, min+extent). Constant or symbolic (e.g. extent n, another shape var).
  void bind(const Var& v, const Expr& min, const Expr& extent);
  // v is known to equal value (from a LetStmt); simplify substitutes it.
  void bind_value(const Var& v, const Expr& value);
  // Inclusive constant bounds of a variable (e.g. symbolic shape var n in [1, 4096]).
  void bind_const_range(const Var& v, int64_t lo, int64_t hi);
  // A fact known to hold (e.g. n % 4 == 0, or n >= 8, or a && b), used by prove and simplify.
  void assume(const Expr& cond);

  ConstIntBound const_int_bound(const Expr& e);
  Expr simplify(const Expr& e);
  // True only when cond holds for every value in the bound ranges; false means "could not
  // prove".
  bool can_prove(const Expr& cond);
  bool can_prove_equal(const Expr& a, const Expr& b);
  // Symbolic inclusive range [lo, hi] of e when every var in `relax` takes all values of its
  // bound range (vars not in relax stay symbolic). e = io*4+ii, relax {ii in [0,4)} gives
  // [io*4, io*4+3]. Returns simplified exprs; a side with no bound at all (only possible for
  // 64-bit expressions) is an undefined Expr.
  std::pair<Expr, Expr> symbolic_range(const Expr& e, const std::vector<Var>& relax);

  // Everything bound or assumed after snapshot() is forgotten again by restore().
  size_t snapshot() const;
  void restore(size_t snapshot);

 private:
  std::unique_ptr<AnalyzerImpl> impl_;
};

// Forgets, when it goes out of scope, what was bound or assumed during its lifetime (e.g.
// the range of a loop variable while visiting the loop body).
class AnalyzerScope {
 public:
  explicit AnalyzerScope(Analyzer& a) : a_(a), snap_(a.snapshot()) {}
  ~AnalyzerScope() { a_.restore(snap_); }
  AnalyzerScope(const AnalyzerScope&) = delete;
  AnalyzerScope& operator=(const AnalyzerScope&) = delete;

 private:
  Analyzer& a_;
  size_t snap_;
};

}  // namespace mlcc::ir::arith
