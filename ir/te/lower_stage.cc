// One stage's loop nest: loop order (bound loops outermost), index values of the root
// axes from the split/fuse relations, bound checks the analyzer cannot prove, bound
// inference and placement of the stages attached to its loops, and the statements of
// element-wise stages, reductions (init + update) and cross-thread reductions.
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

Expr use_realized(const Expr& e, const std::unordered_map<const BufferNode*, Buffer>& m) {
  struct Rep : ExprMutator {
    const std::unordered_map<const BufferNode*, Buffer>& m;
    explicit Rep(const std::unordered_map<const BufferNode*, Buffer>& mm) : m(mm) {}
    Buffer mutate_buffer(const Buffer& b) override {
      auto it = m.find(b.get());
      return it == m.end() ? b : it->second;
    }
  } r(m);
  return m.empty() ? e : r.mutate(e);
}

Stmt guarded(const std::vector<Expr>& conds, Stmt s) {
  Expr c;
  for (const Expr& e : conds) c = c.defined() ? (c && e) : e;
  return c.defined() ? if_then_else(c, std::move(s)) : s;
}

}  // namespace

std::vector<Loop> Lowerer::order_loops(const StageNode* s, const ExtentMap& ext,
                                       const std::vector<BoundLoop>& env) {
  std::vector<IterVar> blocks, threads, data, red, rest;
  bool cross = false;
  for (const IterVar& iv : s->leaf_iter_vars) {
    IterAttr a = s->attr(iv);
    if (a.kind == ForKind::kThreadBinding) {
      (is_block_axis(a.axis) ? blocks : threads).push_back(iv);
      cross |= iv.is_reduce();
    }
  }
  for (const IterVar& iv : s->leaf_iter_vars) {
    if (s->attr(iv).kind == ForKind::kThreadBinding) continue;
    (cross ? (iv.is_reduce() ? red : data) : rest).push_back(iv);
  }
  std::vector<IterVar> order = blocks;
  for (auto* part : {&threads, &data, &red, &rest})
    order.insert(order.end(), part->begin(), part->end());

  std::vector<Loop> loops;
  int64_t threads_per_block = 1;
  for (const BoundLoop& b : env) {
    int64_t e;
    if (is_thread_axis(b.axis) && is_const_int(b.extent, &e)) threads_per_block *= e;
  }
  for (const IterVar& iv : order) {
    Loop l;
    l.iv = iv, l.var = iv.var(), l.extent = ext.at(iv.get()), l.attr = s->attr(iv);
    if (l.attr.kind == ForKind::kVectorized && !is_const_int(l.extent))
      throw Error("vectorize: loop " + quoted(iv.name()) + " of stage " + quoted(s->name()) +
                  " has non-constant extent " + to_string(l.extent));
    auto same_axis = std::find_if(env.begin(), env.end(), [&](const BoundLoop& b) {
      return l.attr.kind == ForKind::kThreadBinding && b.axis == l.attr.axis;
    });
    if (same_axis != env.end()) {
      l.var = same_axis->var;
      l.emitted = false;
      if (!ana_.can_prove_equal(l.extent, same_axis->extent)) {
        if (!ana_.can_prove(l.extent <= same_axis->extent))
          throw Error("bind: loop " + quoted(iv.name()) + " of stage " + quoted(s->name()) +
                      " has extent " + to_string(l.extent) + ", larger than the enclosing " +
                      thread_axis_name(l.attr.axis) + " extent " + to_string(same_axis->extent));
        l.reuse_guard = l.var < l.extent;
      }
    } else if (l.attr.kind != ForKind::kThreadBinding && is_const_int(l.extent, 1)) {
      l.emitted = false;
      l.trivial = true;
    } else {
      ana_.bind(l.var, Expr(0), l.extent);
      loop_vars_.insert(l.var.get());
      int64_t e;
      if (is_thread_loop(l) && is_const_int(l.extent, &e)) threads_per_block *= e;
    }
    loops.push_back(l);
  }
  if (target_ && target_->is_gpu() && threads_per_block > target_->max_threads_per_block)
    throw Error("lower: stage " + quoted(s->name()) + " uses " + std::to_string(threads_per_block) +
                " threads per block, more than the target's " +
                std::to_string(target_->max_threads_per_block));
  return loops;
}

Stmt Lowerer::wrap_loop(const Loop& l, Stmt body, bool outermost_thread) {
  if (!l.emitted) return l.reuse_guard.defined() ? if_then_else(l.reuse_guard, body) : body;
  Stmt f = for_loop(l.var, Expr(0), l.extent, body, l.attr.kind, l.attr.axis);
  if (outermost_thread) {
    for (auto it = pending_shared_.rbegin(); it != pending_shared_.rend(); ++it)
      f = allocate(*it, f);
    pending_shared_.clear();
  }
  return f;
}

Stmt Lowerer::build_stage(const StageNode* s, const std::vector<Expr>& lo,
                          const std::vector<Expr>& region, const Buffer& out,
                          const std::vector<BoundLoop>& env) {
  std::vector<Buffer> outer_pending = std::move(pending_shared_);
  pending_shared_.clear();
  const Operation& op = s->op;
  auto simp = [this](const Expr& e) { return simplify(e); };
  ExtentMap ext, value;
  for (size_t d = 0; d < op->axis.size(); ++d) ext[op->axis[d].get()] = region[d];
  for (const IterVar& r : op->reduce_axis) ext[r.get()] = r->extent;
  pass_down_extents(*s, &ext, simp);
  std::vector<Loop> loops = order_loops(s, ext, env);
  const size_t n = loops.size();
  for (const Loop& l : loops) value[l.iv.get()] = l.trivial ? Expr(0) : Expr(l.var);
  std::vector<std::pair<Expr, const IterVarNode*>> checks;
  pass_up_values(*s, ext, &value, &checks, simp);

  // Root axes in the global index space (region start + local value) and bound checks.
  VarMap map;
  std::vector<Expr> store_idx, data_guards, red_guards;
  auto add_guard = [&](const Expr& c, bool reduce) {
    if (!ana_.can_prove(c)) (reduce ? red_guards : data_guards).push_back(simplify(c));
  };
  for (const auto& [c, root] : checks) add_guard(c, root->reduce);
  for (size_t d = 0; d < op->axis.size(); ++d) {
    Expr v = value.at(op->axis[d].get());
    Expr g = is_const_int(lo[d], 0) ? v : is_const_int(v, 0) ? lo[d] : lo[d] + v;
    store_idx.push_back(v);
    map[op->axis[d].var().get()] = g;
    if (is_const_int(lo[d], 0) && ana_.can_prove_equal(region[d], op->buffer->shape[d])) continue;
    add_guard(g >= 0, false);
    add_guard(g < op->buffer->shape[d], false);
  }
  for (const IterVar& r : op->reduce_axis) map[r.var().get()] = value.at(r.get());
  if (cond_.count(s)) add_guard(use_realized(substitute(cond_.at(s), map), realized_), true);
  Expr src = use_realized(substitute(body_.at(s), map), realized_);

  std::vector<Attached> attached = build_attached(s, loops, env, &src);

  // The innermost statement.
  bool reduce = op->is_reduction();
  std::vector<Expr> thread_rvars;
  for (const Loop& l : loops)
    if (l.iv.is_reduce() && l.attr.kind == ForKind::kThreadBinding) thread_rvars.push_back(l.var);
  bool cross = !thread_rvars.empty();
  DataType dt = op->buffer->dtype;
  Buffer partial =
      cross ? Buffer::make(s->name() + ".partial", dt, {Expr(1)}, MemScope::kLocal) : Buffer();
  std::vector<Expr> all_guards = data_guards;
  all_guards.insert(all_guards.end(), red_guards.begin(), red_guards.end());
  Stmt content;
  if (!reduce) {
    content = guarded(data_guards, store(out, store_idx, src));
  } else if (cross) {
    content = guarded(all_guards,
                      store(partial, {Expr(0)}, reduce_combine(*op->reduce, partial(0), src)));
  } else {
    content = guarded(all_guards,
                      store(out, store_idx, reduce_combine(*op->reduce, out(store_idx), src)));
  }

  size_t p = n;  // the first serial reduce loop: init goes before it
  for (size_t j = 0; j < n && reduce; ++j)
    if (loops[j].iv.is_reduce() && loops[j].attr.kind != ForKind::kThreadBinding) {
      p = j;
      break;
    }
  int outermost_thread = -1;
  if (std::none_of(env.begin(), env.end(),
                   [](const BoundLoop& b) { return is_thread_axis(b.axis); }))
    for (size_t j = 0; j < n && outermost_thread < 0; ++j)
      if (is_thread_loop(loops[j])) outermost_thread = static_cast<int>(j);

  for (size_t lv = n + 1; lv-- > 0;) {
    if (lv < n) content = wrap_loop(loops[lv], content, static_cast<int>(lv) == outermost_thread);
    if (reduce && lv == p) {
      Expr identity = reduce_identity(*op->reduce, dt);
      if (cross) {
        std::vector<Expr> args{partial(0), Expr(static_cast<int>(*op->reduce))};
        args.insert(args.end(), thread_rvars.begin(), thread_rvars.end());
        std::vector<Expr> fin_conds;
        for (const Expr& v : thread_rvars) fin_conds.push_back(eq(v, 0));
        fin_conds.insert(fin_conds.end(), data_guards.begin(), data_guards.end());
        content = allocate(
            partial, seq({store(partial, {Expr(0)}, identity), content,
                          store(partial, {Expr(0)}, call(dt, Intrinsic::kThreadAllReduce, args)),
                          guarded(fin_conds, store(out, store_idx, partial(0)))}));
      } else {
        VarMap fresh;
        std::vector<Loop> init_loops;
        for (size_t j = p; j < n; ++j) {
          if (loops[j].iv.is_reduce() || loops[j].trivial) continue;
          Loop l = loops[j];
          l.var = Var(l.var.name() + ".init");
          ana_.bind(l.var, Expr(0), l.extent);
          fresh[loops[j].var.get()] = l.var;
          init_loops.push_back(l);
        }
        std::vector<Expr> idx, conds;
        for (const Expr& e : store_idx) idx.push_back(substitute(e, fresh));
        for (const Expr& e : data_guards) conds.push_back(substitute(e, fresh));
        Stmt init = guarded(conds, store(out, idx, identity));
        for (auto it = init_loops.rbegin(); it != init_loops.rend(); ++it)
          init = for_loop(it->var, Expr(0), it->extent, init, it->attr.kind, it->attr.axis);
        content = seq({init, content});
      }
    }
    std::vector<const Attached*> here;
    for (const Attached& a : attached)
      if (a.level == lv) here.push_back(&a);
    if (!here.empty()) {
      // Shared copies made by the block's threads: a barrier before (earlier reads are
      // done) and after (the copy is complete).
      bool sync = std::any_of(here.begin(), here.end(),
                              [](const Attached* a) { return a->shared_in_threads; });
      std::vector<Stmt> parts;
      if (sync) parts.push_back(sync_threads());
      for (const Attached* a : here) parts.push_back(a->nest);
      if (sync) parts.push_back(sync_threads());
      parts.push_back(content);
      content = seq(parts);
      for (auto it = here.rbegin(); it != here.rend(); ++it)
        if (!(*it)->shared_in_threads) content = allocate((*it)->buffer, content);
    }
  }
  outer_pending.insert(outer_pending.end(), pending_shared_.begin(), pending_shared_.end());
  pending_shared_ = std::move(outer_pending);
  return content;
}

}  // namespace mlcc::ir::te::detail
