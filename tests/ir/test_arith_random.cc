// Randomized check of the simplifier: random small integer expressions over bounded
// variables are simplified, and both forms are evaluated (by a tiny evaluator with floor
// division) on every point of the variables' ranges. Catches wrong div/mod and bound rules.
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <random>

#include "ir/arith/analyzer.h"
#include "ir/printer.h"

using namespace mlcc::ir;
using mlcc::ir::arith::Analyzer;

namespace {

int64_t fdiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t fmod(int64_t a, int64_t b) { return a - fdiv(a, b) * b; }

// Values of scalar i32/bool expressions; i32 arithmetic stays far from overflow here.
int64_t eval(const Expr& e, const std::map<const VarNode*, int64_t>& env) {
  if (const auto* n = e.as<IntImmNode>()) return n->value;
  if (const auto* n = e.as<VarNode>()) return env.at(n);
  if (const auto* n = e.as<NotNode>()) return !eval(n->a, env);
  if (const auto* n = e.as<SelectNode>())
    return eval(n->cond, env) ? eval(n->true_value, env) : eval(n->false_value, env);
  const auto* b = e.as<BinaryNode>();
  REQUIRE(b != nullptr);
  int64_t x = eval(b->a, env), y = eval(b->b, env);
  switch (b->kind) {
    case NodeKind::kAdd:
      return x + y;
    case NodeKind::kSub:
      return x - y;
    case NodeKind::kMul:
      return x * y;
    case NodeKind::kDiv:
      REQUIRE(y != 0);
      return fdiv(x, y);
    case NodeKind::kMod:
      REQUIRE(y != 0);
      return fmod(x, y);
    case NodeKind::kMin:
      return std::min(x, y);
    case NodeKind::kMax:
      return std::max(x, y);
    case NodeKind::kEQ:
      return x == y;
    case NodeKind::kNE:
      return x != y;
    case NodeKind::kLT:
      return x < y;
    case NodeKind::kLE:
      return x <= y;
    case NodeKind::kGT:
      return x > y;
    case NodeKind::kGE:
      return x >= y;
    case NodeKind::kAnd:
      return x && y;
    case NodeKind::kOr:
      return x || y;
    default:
      FAIL("unexpected node " << kind_name(b->kind));
      return 0;
  }
}

struct Gen {
  std::mt19937 rng{12345};
  std::vector<Var> vars;
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

  Expr leaf() {
    if (pick(3) == 0) return Expr(pick(13) - 4);
    return vars[pick(static_cast<int>(vars.size()))];
  }
  Expr divisor() {
    static const int kDivs[] = {1, 2, 3, 4, 8, 16, -2, -3};
    if (pick(6) == 0) return vars[1] + 1;  // j + 1 > 0: the symbolic-divisor rules
    return Expr(kDivs[pick(8)]);
  }
  Expr cond(int depth) {
    Expr a = expr(depth - 1), b = expr(depth - 1);
    switch (pick(7)) {
      case 0:
        return a < b;
      case 1:
        return a <= b;
      case 2:
        return eq(a, b);
      case 3:
        return ne(a, b);
      case 4:
        return a > b;
      case 5:
        return cond(depth - 1) && (a >= b);
      default:
        return !(a < b) || cond(depth - 1);
    }
  }
  Expr expr(int depth) {
    if (depth <= 0 || pick(5) == 0) return leaf();
    switch (pick(10)) {
      case 0:
        return expr(depth - 1) + expr(depth - 1);
      case 1:
        return expr(depth - 1) - expr(depth - 1);
      case 2:
        return expr(depth - 1) * (pick(2) ? leaf() : expr(depth - 1));
      case 3:
        return expr(depth - 1) / divisor();
      case 4:
        return expr(depth - 1) % divisor();
      case 5:
        return min(expr(depth - 1), expr(depth - 1));
      case 6:
        return max(expr(depth - 1), expr(depth - 1));
      case 7:
        return select(cond(depth - 1), expr(depth - 1), expr(depth - 1));
      case 8:
        return (expr(depth - 1) * pick(5) + leaf()) / divisor();
      default:
        return (expr(depth - 1) * 4 + expr(depth - 1) % 4) % divisor();
    }
  }
};

// Calls f on every assignment of the variables in their [lo, hi) ranges.
void for_all(const std::vector<Var>& vars, const std::vector<std::pair<int, int>>& ranges,
             const std::function<void(const std::map<const VarNode*, int64_t>&)>& f) {
  std::map<const VarNode*, int64_t> env;
  std::function<void(size_t)> rec = [&](size_t k) {
    if (k == vars.size()) return f(env);
    for (int v = ranges[k].first; v < ranges[k].second; ++v) {
      env[vars[k].get()] = v;
      rec(k + 1);
    }
  };
  rec(0);
}

}  // namespace

TEST_CASE("arith: random expressions keep their values", "[arith][random]") {
  Var i("i"), j("j"), k("k");
  std::vector<Var> vars{i, j, k};
  std::vector<std::pair<int, int>> ranges{{0, 4}, {0, 5}, {-3, 3}};
  Analyzer a;
  for (size_t v = 0; v < vars.size(); ++v)
    a.bind(vars[v], ranges[v].first, ranges[v].second - ranges[v].first);
  Gen gen;
  gen.vars = vars;
  int changed = 0;
  for (int iter = 0; iter < 600; ++iter) {
    Expr e = iter % 4 == 3 ? gen.cond(3) : gen.expr(4);
    Expr s = a.simplify(e);
    if (to_string(s) != to_string(e)) ++changed;
    INFO("before: " << to_string(e) << "\nafter:  " << to_string(s));
    for_all(vars, ranges, [&](const std::map<const VarNode*, int64_t>& env) {
      REQUIRE(eval(e, env) == eval(s, env));
    });
    // Simplifying again is a fixed point.
    CHECK(to_string(a.simplify(s)) == to_string(s));
  }
  CHECK(changed > 300);
}

TEST_CASE("arith: random expressions over unbounded vars keep their values", "[arith][random]") {
  // Nothing is known about the variables, so only rules exact for all integers may apply;
  // evaluate on a window that includes negatives.
  Var i("i"), j("j"), k("k");
  std::vector<Var> vars{i, j, k};
  std::vector<std::pair<int, int>> ranges{{-6, 6}, {0, 5}, {-5, 5}};
  Analyzer a;
  a.bind(j, 0, 5);  // the symbolic divisor j + 1 must stay positive
  Gen gen;
  gen.rng.seed(777);
  gen.vars = vars;
  for (int iter = 0; iter < 300; ++iter) {
    Expr e = gen.expr(4);
    Expr s = a.simplify(e);
    INFO("before: " << to_string(e) << "\nafter:  " << to_string(s));
    for_all(vars, ranges, [&](const std::map<const VarNode*, int64_t>& env) {
      REQUIRE(eval(e, env) == eval(s, env));
    });
  }
}
