// Buffer flattening: multi-dimensional buffers become 1-D with explicit element offsets.
#include "passes/flatten_buffer.h"

#include <unordered_map>

#include "ir/functor.h"
#include "runtime/error.h"

namespace mlcc::passes {

namespace {

using namespace ir;

// Constant folding for the handful of index expressions built here, so that flattened
// constant shapes print as numbers rather than as products.
Expr fold_mul(const Expr& a, const Expr& b) {
  int64_t x, y;
  if (is_const_int(a, &x) && is_const_int(b, &y) && a.dtype() == b.dtype())
    return make_const(a.dtype(), x * y);
  if (is_const_int(a, 1)) return b;
  if (is_const_int(b, 1)) return a;
  return a * b;
}

Expr fold_add(const Expr& a, const Expr& b) {
  int64_t x, y;
  if (is_const_int(a, &x) && is_const_int(b, &y) && a.dtype() == b.dtype())
    return make_const(a.dtype(), x + y);
  if (is_const_int(a, 0)) return b;
  if (is_const_int(b, 0)) return a;
  return a + b;
}

// Elements a flattened buffer must hold.
Expr flat_size(const Buffer& b) {
  if (b.ndim() == 0) return Expr(1);
  if (b->strides.empty()) {
    Expr size = b->shape[0];
    for (size_t i = 1; i < b.ndim(); ++i) size = fold_mul(size, b->shape[i]);
    return size;
  }
  Expr span = make_const(b->shape[0].dtype(), int64_t{1});
  for (size_t i = 0; i < b.ndim(); ++i) {
    Expr extent_minus_one = fold_add(b->shape[i], make_const(b->shape[i].dtype(), int64_t{-1}));
    span = fold_add(span, fold_mul(extent_minus_one, b->strides[i]));
  }
  return span;
}

bool needs_flattening(const Buffer& b) { return b.ndim() != 1 || !b->strides.empty(); }

class Flattener : public IRMutator {
 public:
  Buffer flat(const Buffer& b) {
    if (!needs_flattening(b)) return b;
    auto it = flat_.find(b.get());
    if (it != flat_.end()) return it->second;
    Buffer f = Buffer::make(b->name, b->dtype, {flat_size(b)}, b->scope, {}, b->alignment);
    flat_.emplace(b.get(), f);
    return f;
  }

 protected:
  Expr mutate_(const BufferLoadNode* n, const Expr& self) override {
    bool changed = false;
    std::vector<Expr> idx = mutate_all(n->indices, &changed);
    if (!needs_flattening(n->buffer)) return changed ? n->buffer(std::move(idx)) : self;
    return flat(n->buffer)({flat_index(n->buffer, idx)});
  }

  Stmt mutate_(const BufferStoreNode* n, const Stmt& self) override {
    bool changed = false;
    std::vector<Expr> idx = mutate_all(n->indices, &changed);
    Expr v = mutate(n->value);
    if (!needs_flattening(n->buffer))
      return changed || !v.same_as(n->value) ? store(n->buffer, std::move(idx), v) : self;
    return store(flat(n->buffer), {flat_index(n->buffer, idx)}, v);
  }

  Stmt mutate_(const AllocateNode* n, const Stmt& self) override {
    Stmt body = mutate(n->body);
    Buffer b = flat(n->buffer);
    if (b.same_as(n->buffer) && body.same_as(n->body)) return self;
    return allocate(b, body);
  }

 private:
  static Expr flat_index(const Buffer& b, const std::vector<Expr>& idx) {
    if (idx.empty()) return Expr(0);
    const auto* r = idx.back().as<RampNode>();
    bool outer_scalar = true;
    for (size_t i = 0; i + 1 < idx.size(); ++i) outer_scalar &= idx[i].dtype().is_scalar();
    if (!r || !outer_scalar) return b.linear_index(idx);
    // Offset of the first lane, then the lane step scaled by the innermost stride.
    std::vector<Expr> first = idx;
    first.back() = r->base;
    Expr base = b.linear_index(first);
    Expr step = r->stride;
    if (!b->strides.empty()) step = fold_mul(step, cast(step.dtype(), b->strides.back()));
    return ramp(base, step, r->lanes);
  }

  std::unordered_map<const BufferNode*, Buffer> flat_;
};

}  // namespace

PrimFunc flatten_buffers(const PrimFunc& f) {
  Flattener fl;
  PrimFunc out = f;
  out.buffers.clear();
  for (const Buffer& b : f.buffers) out.buffers.push_back(fl.flat(b));
  out.body = fl.mutate(f.body);
  return out;
}

}  // namespace mlcc::passes
