// Structural equality and hash. Both walk the tree in the same order and give variables
// and buffers identities by binding events (a definition, or the first use of a free one),
// which is what keeps the hash consistent with equality: equal trees produce the same
// sequence of binding events.
#include "ir/structural.h"

#include <cstring>
#include <unordered_map>

namespace mlcc::ir {

namespace {

// ---- Equality ---------------------------------------------------------------------------

class Equal {
 public:
  bool expr(const Expr& a, const Expr& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined();
    if (a.kind() != b.kind() || a.dtype() != b.dtype()) return false;
    if (const auto* x = a.as<IntImmNode>()) return x->value == b.as<IntImmNode>()->value;
    if (const auto* x = a.as<FloatImmNode>()) {
      double y = b.as<FloatImmNode>()->value;
      return std::memcmp(&x->value, &y, sizeof(double)) == 0;
    }
    if (const auto* x = a.as<VarNode>()) return use_var(x, b.as<VarNode>());
    if (const auto* x = a.as<BinaryNode>()) {
      const auto* y = b.as<BinaryNode>();
      return expr(x->a, y->a) && expr(x->b, y->b);
    }
    if (const auto* x = a.as<NotNode>()) return expr(x->a, b.as<NotNode>()->a);
    if (const auto* x = a.as<SelectNode>()) {
      const auto* y = b.as<SelectNode>();
      return expr(x->cond, y->cond) && expr(x->true_value, y->true_value) &&
             expr(x->false_value, y->false_value);
    }
    if (const auto* x = a.as<CastNode>()) return expr(x->value, b.as<CastNode>()->value);
    if (const auto* x = a.as<RampNode>()) {
      const auto* y = b.as<RampNode>();
      return x->lanes == y->lanes && expr(x->base, y->base) && expr(x->stride, y->stride);
    }
    if (const auto* x = a.as<BroadcastNode>()) {
      const auto* y = b.as<BroadcastNode>();
      return x->lanes == y->lanes && expr(x->value, y->value);
    }
    if (const auto* x = a.as<BufferLoadNode>()) {
      const auto* y = b.as<BufferLoadNode>();
      return use_buffer(x->buffer, y->buffer) && exprs(x->indices, y->indices);
    }
    if (const auto* x = a.as<CallNode>()) {
      const auto* y = b.as<CallNode>();
      return x->op == y->op && exprs(x->args, y->args);
    }
    return false;
  }

  bool stmt(const Stmt& a, const Stmt& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined();
    if (a.kind() != b.kind()) return false;
    if (const auto* x = a.as<ForNode>()) {
      const auto* y = b.as<ForNode>();
      return x->for_kind == y->for_kind && x->thread_axis == y->thread_axis &&
             expr(x->min, y->min) && expr(x->extent, y->extent) &&
             define_var(x->var.get(), y->var.get()) && stmt(x->body, y->body);
    }
    if (const auto* x = a.as<BufferStoreNode>()) {
      const auto* y = b.as<BufferStoreNode>();
      return use_buffer(x->buffer, y->buffer) && exprs(x->indices, y->indices) &&
             expr(x->value, y->value);
    }
    if (const auto* x = a.as<AllocateNode>()) {
      const auto* y = b.as<AllocateNode>();
      return define_buffer(x->buffer, y->buffer) && stmt(x->body, y->body);
    }
    if (const auto* x = a.as<IfThenElseNode>()) {
      const auto* y = b.as<IfThenElseNode>();
      return expr(x->cond, y->cond) && stmt(x->then_case, y->then_case) &&
             stmt(x->else_case, y->else_case);
    }
    if (const auto* x = a.as<LetStmtNode>()) {
      const auto* y = b.as<LetStmtNode>();
      return expr(x->value, y->value) && define_var(x->var.get(), y->var.get()) &&
             stmt(x->body, y->body);
    }
    if (const auto* x = a.as<SeqNode>()) {
      const auto* y = b.as<SeqNode>();
      if (x->seq.size() != y->seq.size()) return false;
      for (size_t i = 0; i < x->seq.size(); ++i)
        if (!stmt(x->seq[i], y->seq[i])) return false;
      return true;
    }
    if (const auto* x = a.as<EvaluateNode>()) return expr(x->value, b.as<EvaluateNode>()->value);
    return false;
  }

  bool func(const PrimFunc& a, const PrimFunc& b) {
    if (a.scalars.size() != b.scalars.size() || a.buffers.size() != b.buffers.size()) return false;
    for (size_t i = 0; i < a.scalars.size(); ++i)
      if (!define_var(a.scalars[i].get(), b.scalars[i].get())) return false;
    for (size_t i = 0; i < a.buffers.size(); ++i)
      if (!define_buffer(a.buffers[i], b.buffers[i])) return false;
    return stmt(a.body, b.body);
  }

 private:
  bool exprs(const std::vector<Expr>& a, const std::vector<Expr>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!expr(a[i], b[i])) return false;
    return true;
  }

  bool define_var(const VarNode* a, const VarNode* b) {
    if (a->dtype != b->dtype) return false;
    var_fwd_[a] = b;
    var_bwd_[b] = a;
    return true;
  }
  // Bound on both sides, to each other; or free on both sides, which binds them.
  bool use_var(const VarNode* a, const VarNode* b) {
    auto fa = var_fwd_.find(a);
    auto fb = var_bwd_.find(b);
    if (fa == var_fwd_.end() && fb == var_bwd_.end()) return define_var(a, b);
    return fa != var_fwd_.end() && fb != var_bwd_.end() && fa->second == b && fb->second == a;
  }

  bool define_buffer(const Buffer& a, const Buffer& b) {
    const BufferNode* x = a.get();
    const BufferNode* y = b.get();
    if (x->dtype != y->dtype || x->scope != y->scope || x->alignment != y->alignment ||
        !exprs(x->shape, y->shape) || !exprs(x->strides, y->strides))
      return false;
    buf_fwd_[x] = y;
    buf_bwd_[y] = x;
    return true;
  }
  bool use_buffer(const Buffer& a, const Buffer& b) {
    auto fa = buf_fwd_.find(a.get());
    auto fb = buf_bwd_.find(b.get());
    if (fa == buf_fwd_.end() && fb == buf_bwd_.end()) return define_buffer(a, b);
    return fa != buf_fwd_.end() && fb != buf_bwd_.end() && fa->second == b.get() &&
           fb->second == a.get();
  }

  std::unordered_map<const VarNode*, const VarNode*> var_fwd_, var_bwd_;
  std::unordered_map<const BufferNode*, const BufferNode*> buf_fwd_, buf_bwd_;
};

// ---- Hash -------------------------------------------------------------------------------

class Hasher {
 public:
  size_t value() const { return h_; }

  void expr(const Expr& e) {
    if (!e.defined()) return mix(0x51);
    mix(static_cast<uint64_t>(e.kind()) + 1);
    mix(dtype_bits(e.dtype()));
    if (const auto* x = e.as<IntImmNode>()) return mix(static_cast<uint64_t>(x->value));
    if (const auto* x = e.as<FloatImmNode>()) {
      uint64_t bits;
      std::memcpy(&bits, &x->value, sizeof bits);
      return mix(bits);
    }
    if (const auto* x = e.as<VarNode>()) return use_var(x);
    if (const auto* x = e.as<BinaryNode>()) return expr(x->a), expr(x->b);
    if (const auto* x = e.as<NotNode>()) return expr(x->a);
    if (const auto* x = e.as<SelectNode>())
      return expr(x->cond), expr(x->true_value), expr(x->false_value);
    if (const auto* x = e.as<CastNode>()) return expr(x->value);
    if (const auto* x = e.as<RampNode>()) return mix(x->lanes), expr(x->base), expr(x->stride);
    if (const auto* x = e.as<BroadcastNode>()) return mix(x->lanes), expr(x->value);
    if (const auto* x = e.as<BufferLoadNode>()) return use_buffer(x->buffer), exprs(x->indices);
    if (const auto* x = e.as<CallNode>()) return mix(static_cast<uint64_t>(x->op)), exprs(x->args);
  }

  void stmt(const Stmt& s) {
    if (!s.defined()) return mix(0x57);
    mix(static_cast<uint64_t>(s.kind()) + 100);
    if (const auto* x = s.as<ForNode>()) {
      mix(static_cast<uint64_t>(x->for_kind)), mix(static_cast<uint64_t>(x->thread_axis));
      expr(x->min), expr(x->extent);
      define_var(x->var.get());
      return stmt(x->body);
    }
    if (const auto* x = s.as<BufferStoreNode>())
      return use_buffer(x->buffer), exprs(x->indices), expr(x->value);
    if (const auto* x = s.as<AllocateNode>()) return define_buffer(x->buffer), stmt(x->body);
    if (const auto* x = s.as<IfThenElseNode>())
      return expr(x->cond), stmt(x->then_case), stmt(x->else_case);
    if (const auto* x = s.as<LetStmtNode>())
      return expr(x->value), define_var(x->var.get()), stmt(x->body);
    if (const auto* x = s.as<SeqNode>()) {
      mix(x->seq.size());
      for (const Stmt& c : x->seq) stmt(c);
      return;
    }
    if (const auto* x = s.as<EvaluateNode>()) return expr(x->value);
  }

  void func(const PrimFunc& f) {
    mix(f.scalars.size()), mix(f.buffers.size());
    for (const Var& v : f.scalars) define_var(v.get());
    for (const Buffer& b : f.buffers) define_buffer(b);
    stmt(f.body);
  }

 private:
  static uint64_t dtype_bits(DataType t) {
    return static_cast<uint64_t>(t.code) | (uint64_t{t.bits} << 8) | (uint64_t{t.lanes} << 16);
  }
  void mix(uint64_t v) { h_ ^= v + 0x9e3779b97f4a7c15ull + (h_ << 6) + (h_ >> 2); }
  void exprs(const std::vector<Expr>& es) {
    mix(es.size());
    for (const Expr& e : es) expr(e);
  }

  // Each binding event gets the next number; the mirror of Equal's define/use.
  void define_var(const VarNode* v) {
    mix(dtype_bits(v->dtype));
    var_ids_[v] = next_id_;
    mix(next_id_++);
  }
  void use_var(const VarNode* v) {
    auto it = var_ids_.find(v);
    if (it == var_ids_.end()) return define_var(v);
    mix(it->second);
  }
  void define_buffer(const Buffer& b) {
    mix(dtype_bits(b->dtype)), mix(static_cast<uint64_t>(b->scope)), mix(b->alignment);
    exprs(b->shape), exprs(b->strides);
    buf_ids_[b.get()] = next_id_;
    mix(next_id_++);
  }
  void use_buffer(const Buffer& b) {
    auto it = buf_ids_.find(b.get());
    if (it == buf_ids_.end()) return define_buffer(b);
    mix(it->second);
  }

  uint64_t h_ = 0x6d6c6363;  // "mlcc"
  uint64_t next_id_ = 1;
  std::unordered_map<const VarNode*, uint64_t> var_ids_;
  std::unordered_map<const BufferNode*, uint64_t> buf_ids_;
};

}  // namespace

bool structural_equal(const Expr& a, const Expr& b) { return Equal().expr(a, b); }
bool structural_equal(const Stmt& a, const Stmt& b) { return Equal().stmt(a, b); }
bool structural_equal(const PrimFunc& a, const PrimFunc& b) { return Equal().func(a, b); }

size_t structural_hash(const Expr& e) {
  Hasher h;
  h.expr(e);
  return h.value();
}
size_t structural_hash(const Stmt& s) {
  Hasher h;
  h.stmt(s);
  return h.value();
}
size_t structural_hash(const PrimFunc& f) {
  Hasher h;
  h.func(f);
  return h.value();
}

}  // namespace mlcc::ir
