// The Schedule primitives that add stages: cache_read, cache_write and rfactor. Each
// builds a new operation, rewrites the affected definitions and keeps stages in producer
// before consumer order.
#include <algorithm>

#include "ir/te/schedule.h"
#include "runtime/error.h"

namespace mlcc::ir::te {

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

size_t index_of(const ScheduleNode& sch, const StageNode* s) {
  for (size_t i = 0; i < sch.stages.size(); ++i)
    if (sch.stages[i].get() == s) return i;
  MLCC_CHECK(false, "stage not in its schedule");
  return 0;
}

StageNode* compute_stage(const ScheduleNode& sch, const Tensor& t, const char* prim) {
  StageNode* s = t ? sch.stage_of(t.buffer()) : nullptr;
  if (!s)
    throw Error(std::string(prim) + ": tensor " + quoted(t ? t.name() : "<null>") +
                " is not part of this schedule");
  return s;
}

std::shared_ptr<StageNode> new_stage(ScheduleNode* sch, const Operation& op, MemScope scope) {
  auto s = std::make_shared<StageNode>();
  s->op = op;
  s->schedule = sch;
  s->scope = scope;
  for (const IterVar& iv : op->axis) s->all_iter_vars.push_back(iv);
  for (const IterVar& iv : op->reduce_axis) s->all_iter_vars.push_back(iv);
  s->leaf_iter_vars = s->all_iter_vars;
  return s;
}

// A definition like `op` but with another body (and optionally other reduce axes).
Operation redefine(const Operation& op, Expr body, std::vector<IterVar> reduce_axis,
                   std::optional<ReduceKind> reduce) {
  return make_compute_op(op->name, op->buffer->shape, op->axis, std::move(reduce_axis),
                         std::move(body), reduce, op->buffer, reduce ? op->condition : Expr());
}

std::vector<IterVar> fresh_axes(const std::vector<IterVar>& axes, VarMap* map) {
  std::vector<IterVar> out;
  for (const IterVar& iv : axes) {
    out.push_back(IterVar::make(iv.name(), iv->extent, iv.is_reduce()));
    (*map)[iv.var().get()] = out.back().var();
  }
  return out;
}

}  // namespace

Tensor Schedule::cache_read(const Tensor& t, MemScope scope, const std::vector<Tensor>& readers) {
  StageNode* src = compute_stage(*n_, t, "cache_read");
  if (readers.empty()) throw Error("cache_read: no readers given for tensor " + quoted(t.name()));
  std::vector<StageNode*> rstages;
  for (const Tensor& r : readers) {
    StageNode* rs = compute_stage(*n_, r, "cache_read");
    if (!n_->reads(rs, src, false))
      throw Error("cache_read: stage " + quoted(rs->name()) + " does not read tensor " +
                  quoted(t.name()));
    rstages.push_back(rs);
  }
  std::vector<IterVar> axes;
  std::vector<Expr> idx;
  for (size_t d = 0; d < t.ndim(); ++d) {
    axes.push_back(IterVar::make("ax" + std::to_string(d), t.shape()[d], false));
    idx.push_back(axes.back().var());
  }
  Operation cache = make_compute_op(t.name() + "." + scope_name(scope), t.shape(), axes, {}, t(idx),
                                    std::nullopt);
  for (StageNode* rs : rstages)
    rs->op = redefine(rs->op, replace_buffer(rs->op->body, t.buffer(), cache->buffer),
                      rs->op->reduce_axis, rs->op->reduce);
  n_->stages.insert(n_->stages.begin() + index_of(*n_, src) + 1, new_stage(n_.get(), cache, scope));
  return Tensor(cache);
}

Tensor Schedule::cache_write(const Tensor& t, MemScope scope) {
  StageNode* s = compute_stage(*n_, t, "cache_write");
  if (!s->op->is_compute())
    throw Error("cache_write: stage " + quoted(s->name()) + " is a placeholder");
  if (!s->relations.empty() || !s->attrs.empty())
    throw Error("cache_write: stage " + quoted(s->name()) +
                " already has loop transformations; call cache_write before scheduling it");
  VarMap map;
  std::vector<IterVar> axes = fresh_axes(s->op->axis, &map);
  std::vector<IterVar> raxes = fresh_axes(s->op->reduce_axis, &map);
  Expr cond = s->op->condition.defined() ? substitute(s->op->condition, map) : Expr();
  Operation cache = make_compute_op(s->name() + "." + scope_name(scope), t.shape(), axes, raxes,
                                    substitute(s->op->body, map), s->op->reduce, Buffer(), cond);
  std::vector<Expr> idx;
  for (const IterVar& iv : s->op->axis) idx.push_back(iv.var());
  s->op = redefine(s->op, cache->buffer(idx), {}, std::nullopt);
  s->all_iter_vars = s->op->axis;
  s->leaf_iter_vars = s->op->axis;
  n_->stages.insert(n_->stages.begin() + index_of(*n_, s), new_stage(n_.get(), cache, scope));
  return Tensor(cache);
}

Tensor Schedule::rfactor(const Tensor& t, const IterVar& iv) {
  StageNode* s = compute_stage(*n_, t, "rfactor");
  if (!s->op->is_reduction())
    throw Error("rfactor: stage " + quoted(s->name()) + " is not a reduction");
  bool known = std::any_of(s->all_iter_vars.begin(), s->all_iter_vars.end(),
                           [&](const IterVar& v) { return v.same_as(iv); });
  if (!iv || !known)
    throw Error("rfactor: loop " + quoted(iv ? iv.name() : "<null>") + " is not a loop of stage " +
                quoted(s->name()));
  if (!iv.is_reduce())
    throw Error("rfactor: loop " + quoted(iv.name()) + " of stage " + quoted(s->name()) +
                " is not a reduce loop");
  auto& leaves = s->leaf_iter_vars;
  if (std::none_of(leaves.begin(), leaves.end(), [&](const IterVar& v) { return v.same_as(iv); }))
    throw Error("rfactor: loop " + quoted(iv.name()) + " of stage " + quoted(s->name()) +
                " is not a leaf loop (" + describe_non_leaf(*s, iv) + ")");

  const Operation op = s->op;
  auto identity = [](const Expr& e) { return e; };
  ExtentMap ext, value;
  for (const IterVar& a : op->axis) ext[a.get()] = a->extent;
  for (const IterVar& a : op->reduce_axis) ext[a.get()] = a->extent;
  pass_down_extents(*s, &ext, identity);

  // The factored loop becomes a data axis of the new stage; the other reduce leaves stay
  // reduce axes there.
  IterVar rf_axis = IterVar::make(iv.name(), ext.at(iv.get()), false);
  std::vector<IterVar> rf_reduce;
  for (const IterVar& l : leaves) {
    if (l.same_as(iv)) {
      value[l.get()] = rf_axis.var();
    } else if (l.is_reduce()) {
      rf_reduce.push_back(IterVar::make(l.name(), ext.at(l.get()), true));
      value[l.get()] = rf_reduce.back().var();
    } else {
      value[l.get()] = l.var();
    }
  }
  std::vector<std::pair<Expr, const IterVarNode*>> checks;
  pass_up_values(*s, ext, &value, &checks, identity);

  VarMap map;
  std::vector<IterVar> rf_axes{rf_axis};
  for (const IterVar& a : fresh_axes(op->axis, &map)) rf_axes.push_back(a);
  for (const IterVar& a : op->reduce_axis) map[a.var().get()] = value.at(a.get());
  Expr body = substitute(op->body, map);
  Expr cond = op->condition.defined() ? substitute(op->condition, map) : Expr();
  for (const auto& [c, root] : checks)
    if (root->reduce) cond = cond.defined() ? (cond && c) : c;
  std::vector<Expr> rf_shape{ext.at(iv.get())};
  for (const Expr& d : op->buffer->shape) rf_shape.push_back(d);
  Operation rf = make_compute_op(s->name() + ".rf", rf_shape, rf_axes, rf_reduce, body, op->reduce,
                                 Buffer(), cond);

  IterVar r = IterVar::make(iv.name() + ".v", ext.at(iv.get()), true);
  std::vector<Expr> idx{r.var()};
  for (const IterVar& a : op->axis) idx.push_back(a.var());
  s->op = make_compute_op(op->name, op->buffer->shape, op->axis, {r}, rf->buffer(idx), op->reduce,
                          op->buffer);
  auto is_reduce = [](const IterVar& v) { return v.is_reduce(); };
  std::erase_if(s->relations, [](const Relation& rel) {
    return (rel.kind == Relation::Kind::kSplit ? rel.parent : rel.outer).is_reduce();
  });
  for (const IterVar& v : s->all_iter_vars)
    if (v.is_reduce()) s->attrs.erase(v.get());
  std::erase_if(s->all_iter_vars, is_reduce);
  std::erase_if(leaves, is_reduce);
  s->all_iter_vars.push_back(r);
  leaves.push_back(r);
  n_->stages.insert(n_->stages.begin() + index_of(*n_, s),
                    new_stage(n_.get(), rf, MemScope::kGlobal));
  return Tensor(rf);
}

}  // namespace mlcc::ir::te
