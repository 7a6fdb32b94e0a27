// Loop vectorization: a kVectorized loop's body is rewritten once over L lanes. Anything
// the rewrite cannot prove equivalent to running the iterations in order throws
// NotVectorizable, and the loop is kept as an unrolled serial loop instead.
#include "passes/vectorize_loop.h"

#include <unordered_map>

#include "ir/functor.h"

namespace mlcc::passes {

namespace {

using namespace ir;

struct NotVectorizable {};

Expr fold_add(const Expr& a, const Expr& b) {
  int64_t x, y;
  if (is_const_int(a, &x) && is_const_int(b, &y) && a.dtype() == b.dtype())
    return make_const(a.dtype(), x + y);
  if (is_const_int(a, 0) && a.dtype() == b.dtype()) return b;
  if (is_const_int(b, 0)) return a;
  return a + b;
}

Expr fold_sub(const Expr& a, const Expr& b) {
  int64_t x, y;
  if (is_const_int(a, &x) && is_const_int(b, &y) && a.dtype() == b.dtype())
    return make_const(a.dtype(), x - y);
  if (is_const_int(b, 0)) return a;
  return a - b;
}

Expr fold_mul(const Expr& a, const Expr& b) {
  int64_t x, y;
  if (is_const_int(a, &x) && is_const_int(b, &y) && a.dtype() == b.dtype())
    return make_const(a.dtype(), x * y);
  if (is_const_int(a, 1) && a.dtype() == b.dtype()) return b;
  if (is_const_int(b, 1)) return a;
  return a * b;
}

// Structural equality with variables and buffers compared by identity.
bool same_expr(const Expr& a, const Expr& b) {
  if (a.same_as(b)) return true;
  if (!a.defined() || !b.defined() || a.kind() != b.kind() || a.dtype() != b.dtype()) return false;
  auto all_same = [](const std::vector<Expr>& x, const std::vector<Expr>& y) {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same_expr(x[i], y[i])) return false;
    return true;
  };
  if (const auto* n = a.as<IntImmNode>()) return n->value == b.as<IntImmNode>()->value;
  if (const auto* n = a.as<FloatImmNode>()) return n->value == b.as<FloatImmNode>()->value;
  if (a.as<VarNode>()) return false;  // distinct pointers: distinct variables
  if (const auto* n = a.as<BinaryNode>()) {
    const auto* m = b.as<BinaryNode>();
    return same_expr(n->a, m->a) && same_expr(n->b, m->b);
  }
  if (const auto* n = a.as<NotNode>()) return same_expr(n->a, b.as<NotNode>()->a);
  if (const auto* n = a.as<SelectNode>()) {
    const auto* m = b.as<SelectNode>();
    return same_expr(n->cond, m->cond) && same_expr(n->true_value, m->true_value) &&
           same_expr(n->false_value, m->false_value);
  }
  if (const auto* n = a.as<CastNode>()) return same_expr(n->value, b.as<CastNode>()->value);
  if (const auto* n = a.as<RampNode>()) {
    const auto* m = b.as<RampNode>();
    return n->lanes == m->lanes && same_expr(n->base, m->base) && same_expr(n->stride, m->stride);
  }
  if (const auto* n = a.as<BroadcastNode>())
    return same_expr(n->value, b.as<BroadcastNode>()->value);
  if (const auto* n = a.as<BufferLoadNode>()) {
    const auto* m = b.as<BufferLoadNode>();
    return n->buffer.same_as(m->buffer) && all_same(n->indices, m->indices);
  }
  if (const auto* n = a.as<CallNode>()) {
    const auto* m = b.as<CallNode>();
    return n->op == m->op && all_same(n->args, m->args);
  }
  return false;
}

bool is_elementwise_call(Intrinsic op) {
  return op <= Intrinsic::kErf || op == Intrinsic::kReinterpret;
}

// Rewrites one loop body over `lanes` lanes.
class BodyVectorizer {
 public:
  BodyVectorizer(const Var& v, const Expr& min, int lanes) : lanes_(lanes) {
    vars_[v.get()] = ramp(cast(v.dtype(), min), make_const(v.dtype(), int64_t{1}), lanes);
  }

  Stmt run(const Stmt& body) {
    Stmt out = stmt(body);
    check_dependences();
    return out;
  }

 private:
  struct Access {
    const BufferNode* buffer;
    std::vector<Expr> indices;
    bool is_store;
  };

  Expr widen(const Expr& e) { return e.dtype().is_scalar() ? broadcast(e, lanes_) : e; }

  Expr vec(const Expr& e) {
    if (e.as<IntImmNode>() || e.as<FloatImmNode>()) return e;
    if (e.as<VarNode>()) {
      auto it = vars_.find(static_cast<const VarNode*>(e.get()));
      return it == vars_.end() ? e : it->second;
    }
    if (e.dtype().is_vector()) throw NotVectorizable{};  // already vector code
    if (const auto* n = e.as<BinaryNode>()) return vec_binary(n, e);
    if (const auto* n = e.as<NotNode>()) {
      Expr a = vec(n->a);
      return a.same_as(n->a) ? e : !a;
    }
    if (const auto* n = e.as<SelectNode>()) {
      Expr c = vec(n->cond), t = vec(n->true_value), f = vec(n->false_value);
      if (c.dtype().is_scalar() && t.dtype().is_scalar() && f.dtype().is_scalar())
        return c.same_as(n->cond) && t.same_as(n->true_value) && f.same_as(n->false_value)
                   ? e
                   : select(c, t, f);
      return select(widen(c), widen(t), widen(f));
    }
    if (const auto* n = e.as<CastNode>()) {
      Expr v = vec(n->value);
      if (v.same_as(n->value)) return e;
      return cast(n->dtype.with_lanes(v.dtype().lanes), v);
    }
    if (const auto* n = e.as<BufferLoadNode>()) {
      std::vector<Expr> idx = vec_indices(n->indices);
      record(n->buffer, idx, false);
      return n->buffer(idx);
    }
    if (const auto* n = e.as<CallNode>()) {
      if (!is_elementwise_call(n->op)) throw NotVectorizable{};
      std::vector<Expr> args;
      bool any_vector = false;
      for (const Expr& a : n->args) {
        args.push_back(vec(a));
        if (a.dtype().is_vector()) throw NotVectorizable{};  // reinterpret changing lanes
        any_vector |= args.back().dtype().is_vector();
      }
      if (!any_vector) return call(n->dtype, n->op, std::move(args));
      for (Expr& a : args) a = widen(a);
      return call(n->dtype.with_lanes(lanes_), n->op, std::move(args));
    }
    throw NotVectorizable{};  // Ramp/Broadcast are vector-typed and handled above
  }

  Expr vec_binary(const BinaryNode* n, const Expr& self) {
    Expr a = vec(n->a), b = vec(n->b);
    if (a.dtype().is_scalar() && b.dtype().is_scalar())
      return a.same_as(n->a) && b.same_as(n->b) ? self : binary(n->kind, a, b);
    // Keep affine integer expressions as Ramps: indices built from them stay contiguous.
    const auto* ra = a.as<RampNode>();
    const auto* rb = b.as<RampNode>();
    bool integer = n->dtype.is_integer();
    if (integer && n->kind == NodeKind::kAdd) {
      if (ra && rb)
        return ramp(fold_add(ra->base, rb->base), fold_add(ra->stride, rb->stride), lanes_);
      if (ra && b.dtype().is_scalar()) return ramp(fold_add(ra->base, b), ra->stride, lanes_);
      if (rb && a.dtype().is_scalar()) return ramp(fold_add(a, rb->base), rb->stride, lanes_);
    }
    if (integer && n->kind == NodeKind::kSub) {
      if (ra && rb)
        return ramp(fold_sub(ra->base, rb->base), fold_sub(ra->stride, rb->stride), lanes_);
      if (ra && b.dtype().is_scalar()) return ramp(fold_sub(ra->base, b), ra->stride, lanes_);
      if (rb && a.dtype().is_scalar())
        return ramp(fold_sub(a, rb->base), fold_sub(make_zero(rb->stride.dtype()), rb->stride),
                    lanes_);
    }
    if (integer && n->kind == NodeKind::kMul) {
      if (ra && b.dtype().is_scalar())
        return ramp(fold_mul(ra->base, b), fold_mul(ra->stride, b), lanes_);
      if (rb && a.dtype().is_scalar())
        return ramp(fold_mul(a, rb->base), fold_mul(a, rb->stride), lanes_);
    }
    return binary(n->kind, widen(a), widen(b));
  }

  // Indices must be scalars or Ramps (affine in the loop variable); when any is a vector,
  // the last one is too, so that the access has the right lane count.
  std::vector<Expr> vec_indices(const std::vector<Expr>& indices) {
    std::vector<Expr> idx;
    bool any_vector = false;
    for (const Expr& i : indices) {
      idx.push_back(vec(i));
      if (idx.back().dtype().is_vector()) {
        if (!idx.back().as<RampNode>()) throw NotVectorizable{};
        any_vector = true;
      }
    }
    if (any_vector && idx.back().dtype().is_scalar()) idx.back() = widen(idx.back());
    return idx;
  }

  void record(const Buffer& b, const std::vector<Expr>& idx, bool is_store) {
    if (b->dtype.is_vector()) throw NotVectorizable{};
    accesses_.push_back({b.get(), idx, is_store});
  }

  Stmt stmt(const Stmt& s) {
    if (const auto* n = s.as<BufferStoreNode>()) {
      std::vector<Expr> idx = vec_indices(n->indices);
      // Each lane must write its own element: some index steps by a non-zero constant.
      bool distinct = false;
      for (const Expr& i : idx)
        if (const auto* r = i.as<RampNode>())
          distinct |= is_const_int(r->stride) && !is_const_int(r->stride, 0);
      if (!distinct) throw NotVectorizable{};
      record(n->buffer, idx, true);
      return store(n->buffer, idx, widen(vec(n->value)));
    }
    if (const auto* n = s.as<LetStmtNode>()) {
      Expr v = vec(n->value);
      if (v.dtype().is_scalar()) {
        Stmt body = stmt(n->body);
        return v.same_as(n->value) && body.same_as(n->body) ? s : let_stmt(n->var, v, body);
      }
      if (v.as<RampNode>()) {  // substituted, so indices using it stay affine
        vars_[n->var.get()] = v;
        return stmt(n->body);
      }
      Var wide(n->var.name(), v.dtype());
      vars_[n->var.get()] = wide;
      return let_stmt(wide, v, stmt(n->body));
    }
    if (const auto* n = s.as<IfThenElseNode>()) {
      Expr c = vec(n->cond);
      if (c.dtype().is_vector()) throw NotVectorizable{};
      return if_then_else(c, stmt(n->then_case),
                          n->else_case.defined() ? stmt(n->else_case) : Stmt());
    }
    if (const auto* n = s.as<SeqNode>()) {
      std::vector<Stmt> out;
      for (const Stmt& c : n->seq) out.push_back(stmt(c));
      return seq(std::move(out));
    }
    if (const auto* n = s.as<EvaluateNode>()) {
      const auto* c = n->value.as<CallNode>();
      if (c && !is_elementwise_call(c->op)) throw NotVectorizable{};
      return evaluate(vec(n->value));
    }
    throw NotVectorizable{};  // For, Allocate
  }

  static bool const_index(const Expr& e, int64_t* v) {
    if (const auto* b = e.as<BroadcastNode>()) return is_const_int(b->value, v);
    return is_const_int(e, v);
  }

  // Two accesses never touch the same element when some dimension holds two different
  // constants.
  static bool disjoint(const Access& a, const Access& b) {
    for (size_t i = 0; i < a.indices.size(); ++i) {
      int64_t x, y;
      if (const_index(a.indices[i], &x) && const_index(b.indices[i], &y) && x != y) return true;
    }
    return false;
  }

  // Every access to a stored buffer must use the very same index as the store, or touch
  // none of its elements: then lane j only sees lane j's own earlier writes, as iteration
  // j would.
  void check_dependences() const {
    for (const Access& st : accesses_) {
      if (!st.is_store) continue;
      for (const Access& other : accesses_) {
        if (other.buffer != st.buffer || disjoint(st, other)) continue;
        for (size_t i = 0; i < st.indices.size(); ++i)
          if (!same_expr(st.indices[i], other.indices[i])) throw NotVectorizable{};
      }
    }
  }

  int lanes_;
  std::unordered_map<const VarNode*, Expr> vars_;
  std::vector<Access> accesses_;
};

class LoopVectorizer : public IRMutator {
 protected:
  Stmt mutate_(const ForNode* n, const Stmt& self) override {
    Stmt s = IRMutator::mutate_(n, self);
    const auto* f = s.as<ForNode>();
    if (f->for_kind != ForKind::kVectorized) return s;
    int64_t lanes = 0;
    if (!is_const_int(f->extent, &lanes))
      return for_loop(f->var, f->min, f->extent, f->body, ForKind::kSerial);
    if (lanes >= 2 && lanes <= 65535) {
      try {
        return BodyVectorizer(f->var, f->min, static_cast<int>(lanes)).run(f->body);
      } catch (const NotVectorizable&) {
      }
    }
    return for_loop(f->var, f->min, f->extent, f->body, ForKind::kUnrolled);
  }
};

}  // namespace

Stmt vectorize_loops(const Stmt& s) { return LoopVectorizer().mutate(s); }

PrimFunc vectorize_loops(const PrimFunc& f) {
  PrimFunc out = f;
  out.body = vectorize_loops(f.body);
  return out;
}

}  // namespace mlcc::passes
