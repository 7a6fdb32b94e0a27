// compute_at during lowering: bound inference (the region of a producer that one iteration
// of the attach loop reads, by symbolic ranges over the loops inside it), the producer's
// region buffer (storage_align strides included), and its nest placed in the consumer's.
#include <algorithm>

#include "ir/functor.h"
#include "ir/printer.h"
#include "ir/te/lower_internal.h"
#include "runtime/error.h"

namespace mlcc::ir::te::detail {

namespace {

bool is_thread_loop(const Loop& l) {
  return l.attr.kind == ForKind::kThreadBinding && is_thread_axis(l.attr.axis);
}

bool uses_any(const Expr& e, const std::unordered_set<const VarNode*>& vars) {
  bool found = false;
  pre_order_visit(evaluate(e), [&](const Node* n) {
    if (n->kind == NodeKind::kVar && vars.count(static_cast<const VarNode*>(n))) found = true;
  });
  return found;
}

void read_indices(const Stmt& s, const Buffer& b, std::vector<std::vector<Expr>>* out) {
  pre_order_visit(s, [&](const Node* n) {
    if (n->kind != NodeKind::kBufferLoad) return;
    const auto* l = static_cast<const BufferLoadNode*>(n);
    if (l->buffer.same_as(b)) out->push_back(l->indices);
  });
}

void loop_vars(const Stmt& s, std::vector<Var>* out) {
  pre_order_visit(s, [&](const Node* n) {
    if (n->kind == NodeKind::kFor) out->push_back(static_cast<const ForNode*>(n)->var);
  });
}

// Reads of `from` become reads of `to` at the index minus the region start `lo`.
class Relocate : public IRMutator {
 public:
  Relocate(const Buffer& f, const Buffer& t, const std::vector<Expr>& l, arith::Analyzer& a)
      : from_(f), to_(t), lo_(l), ana_(a) {}
  using IRMutator::mutate_;
  Expr mutate_(const BufferLoadNode* n, const Expr& self) override {
    Expr e = ExprMutator::mutate_(n, self);
    const auto* l = e.as<BufferLoadNode>();
    if (!l->buffer.same_as(from_)) return e;
    std::vector<Expr> idx;
    for (size_t d = 0; d < l->indices.size(); ++d)
      idx.push_back(is_const_int(lo_[d], 0) ? l->indices[d]
                                            : ana_.simplify(l->indices[d] - lo_[d]));
    return to_(idx);
  }

 private:
  const Buffer &from_, &to_;
  const std::vector<Expr>& lo_;
  arith::Analyzer& ana_;
};

}  // namespace

Buffer Lowerer::region_buffer(const StageNode* p, const std::vector<Expr>& ext) {
  std::vector<Expr> strides;
  if (!p->aligns.empty()) {
    size_t nd = ext.size();
    std::vector<int64_t> st(nd, 1);
    for (size_t d = nd; d-- > 0;) {
      if (d + 1 < nd) {
        int64_t inner;
        if (!is_const_int(ext[d + 1], &inner))
          throw Error("storage_align: stage " + quoted(p->name()) + " axis " +
                      quoted(p->op->axis[d].name()) + " has a non-constant stride");
        st[d] = st[d + 1] * inner;
      }
      for (const StorageAlign& a : p->aligns) {
        if (a.axis != static_cast<int>(d)) continue;
        if (d + 1 == nd)
          throw Error("storage_align: axis " + quoted(p->op->axis[d].name()) +
                      " is the innermost axis of stage " + quoted(p->name()) +
                      "; align an outer axis");
        st[d] += ((a.offset - st[d] % a.factor) % a.factor + a.factor) % a.factor;
      }
    }
    for (int64_t v : st) strides.push_back(Expr(static_cast<int>(v)));
  }
  return Buffer::make(p->name(), p->op->buffer->dtype, ext, p->scope, strides);
}

std::vector<Attached> Lowerer::build_attached(const StageNode* s, const std::vector<Loop>& loops,
                                              const std::vector<BoundLoop>& env, Expr* src) {
  const size_t n = loops.size();
  // Consumers first: a producer's region covers its reads in the nests of other stages
  // attached here (cache_read feeding cache_write, say) as well as in s itself.
  std::vector<Attached> done;
  for (auto sp = sch_.stages.rbegin(); sp != sch_.stages.rend(); ++sp) {
    const StageNode* p = sp->get();
    if (p->attach != AttachKind::kScope || p->attach_stage != s) continue;
    size_t i = 0;
    while (!loops[i].iv.same_as(p->attach_ivar)) ++i;
    // A chain of thread loops must stay directly nested (it gives the block's shape), so
    // what attaches between them moves inside the innermost; it reads the same region.
    size_t place = i;
    while (place + 1 < n && is_thread_loop(loops[place]) && is_thread_loop(loops[place + 1]))
      ++place;
    bool shared = p->scope == MemScope::kShared;
    std::vector<Var> relax;
    for (size_t j = i + 1; j < n; ++j)
      if (!loops[j].trivial) relax.push_back(loops[j].var);
    if (shared) {  // one copy serves all threads of the block
      for (const Loop& l : loops)
        if (is_thread_loop(l)) relax.push_back(l.var);
      for (const BoundLoop& b : env)
        if (is_thread_axis(b.axis)) relax.push_back(b.var);
    }
    std::vector<std::vector<Expr>> reads;
    read_indices(evaluate(*src), p->op->buffer, &reads);
    for (const Attached& a : done) {
      size_t before = reads.size();
      read_indices(a.nest, p->op->buffer, &reads);
      if (reads.size() == before) continue;
      if (a.level < place + 1)
        throw Error("compute_at: stage " + quoted(p->name()) + " is attached inside loop " +
                    quoted(p->attach_ivar.name()) + " of stage " + quoted(s->name()) +
                    ", but its reader " + quoted(a.stage->name()) +
                    " is computed outside that loop (at " + quoted(a.stage->attach_ivar.name()) +
                    ")");
      loop_vars(a.nest, &relax);
    }
    if (reads.empty())
      throw Error("compute_at: stage " + quoted(p->name()) + " is not read by stage " +
                  quoted(s->name()));

    std::vector<Expr> plo, pext;
    for (size_t d = 0; d < p->op->axis.size(); ++d) {
      Expr dlo, dhi;
      for (const auto& idx : reads) {
        auto [a, b] = ana_.symbolic_range(idx[d], relax);
        if (!a.defined() || !b.defined())
          throw Error("compute_at: cannot bound the reads of stage " + quoted(p->name()) +
                      " in stage " + quoted(s->name()) + " at " + to_string(idx[d]));
        dlo = dlo.defined() ? min(dlo, a) : a;
        dhi = dhi.defined() ? max(dhi, b) : b;
      }
      dlo = simplify(dlo);
      Expr e = simplify(simplify(dhi) - dlo + 1);
      if (uses_any(e, loop_vars_)) {  // depends on the iteration: use its constant bound
        int64_t hi = ana_.const_int_bound(e).max_value;
        if (hi == arith::ConstIntBound::kPosInf)
          throw Error("compute_at: the region of stage " + quoted(p->name()) + " along axis " +
                      quoted(p->op->axis[d].name()) + " at loop " + quoted(p->attach_ivar.name()) +
                      " of stage " + quoted(s->name()) + " has extent " + to_string(e) +
                      ", which has no constant bound");
        e = Expr(static_cast<int>(hi));
      }
      plo.push_back(dlo);
      pext.push_back(e);
    }
    Buffer pb = region_buffer(p, pext);
    Relocate rel(p->op->buffer, pb, plo, ana_);
    *src = rel.mutate(*src);
    for (Attached& a : done) a.nest = rel.mutate(a.nest);

    std::vector<BoundLoop> penv = env;
    for (size_t j = 0; j <= place; ++j)
      if (loops[j].emitted && loops[j].attr.kind == ForKind::kThreadBinding)
        penv.push_back({loops[j].attr.axis, loops[j].var, loops[j].extent});
    Stmt nest = build_stage(p, plo, pext, pb, penv);
    bool in_threads = std::any_of(penv.begin(), penv.end(),
                                  [](const BoundLoop& b) { return is_thread_axis(b.axis); });
    done.push_back({p, place + 1, nest, pb, shared && in_threads});
  }
  std::reverse(done.begin(), done.end());
  for (const Attached& a : done)
    if (a.shared_in_threads) pending_shared_.push_back(a.buffer);
  return done;
}

}  // namespace mlcc::ir::te::detail
