// Stage construction and the loop and placement primitives of the Schedule, with their
// diagnostics; the relation passes (extents down, values up) lowering and rfactor share.
#include "ir/te/schedule.h"

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "runtime/error.h"

namespace mlcc::ir::te {

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::shared_ptr<StageNode> make_stage(const Operation& op, ScheduleNode* sch) {
  auto s = std::make_shared<StageNode>();
  s->op = op;
  s->schedule = sch;
  for (const IterVar& iv : op->axis) s->all_iter_vars.push_back(iv);
  for (const IterVar& iv : op->reduce_axis) s->all_iter_vars.push_back(iv);
  s->leaf_iter_vars = s->all_iter_vars;
  return s;
}

void post_order(const Operation& op, std::unordered_set<const OperationNode*>* seen,
                std::vector<Operation>* order) {
  if (!seen->insert(op.get()).second) return;
  for (const Operation& in : op->inputs) post_order(in, seen, order);
  order->push_back(op);
}

size_t leaf_pos(const StageNode& s, const IterVar& iv) {
  for (size_t i = 0; i < s.leaf_iter_vars.size(); ++i)
    if (s.leaf_iter_vars[i].same_as(iv)) return i;
  return s.leaf_iter_vars.size();
}

Expr ceil_div(const Expr& a, int64_t b) {
  int64_t v;
  if (is_const_int(a, &v)) return Expr(static_cast<int>((v + b - 1) / b));
  return (a + static_cast<int>(b - 1)) / static_cast<int>(b);
}

}  // namespace

IterAttr StageNode::attr(const IterVar& iv) const {
  auto it = attrs.find(iv.get());
  return it == attrs.end() ? IterAttr{} : it->second;
}

std::string describe_non_leaf(const StageNode& s, const IterVar& iv) {
  for (const Relation& r : s.relations) {
    if (r.kind == Relation::Kind::kSplit && r.parent.same_as(iv))
      return "it was split into " + r.outer.name() + ", " + r.inner.name();
    if (r.kind == Relation::Kind::kFuse && (r.outer.same_as(iv) || r.inner.same_as(iv)))
      return "it was fused into " + r.fused.name();
  }
  return "it is not a loop of this stage";
}

// ---- Stage primitives --------------------------------------------------------------------

namespace {

void check_compute(const StageNode& s, const char* prim) {
  if (!s.op->is_compute())
    throw Error(std::string(prim) + ": stage " + quoted(s.name()) + " is a placeholder");
}

void check_leaf(const StageNode& s, const IterVar& iv, const char* prim) {
  check_compute(s, prim);
  if (!iv) throw Error(std::string(prim) + ": undefined loop given for stage " + quoted(s.name()));
  if (leaf_pos(s, iv) < s.leaf_iter_vars.size()) return;
  bool known = std::any_of(s.all_iter_vars.begin(), s.all_iter_vars.end(),
                           [&](const IterVar& v) { return v.same_as(iv); });
  if (!known)
    throw Error(std::string(prim) + ": loop " + quoted(iv.name()) + " is not a loop of stage " +
                quoted(s.name()));
  throw Error(std::string(prim) + ": loop " + quoted(iv.name()) + " of stage " + quoted(s.name()) +
              " is not a leaf loop (" + describe_non_leaf(s, iv) + ")");
}

std::pair<IterVar, IterVar> do_split(StageNode* s, const IterVar& iv, int64_t factor,
                                     int64_t nparts, const char* prim) {
  check_leaf(*s, iv, prim);
  if (factor <= 0 && nparts <= 0)
    throw Error(std::string(prim) + ": loop " + quoted(iv.name()) + " of stage " +
                quoted(s->name()) + ": the factor must be positive, got " +
                std::to_string(std::max(factor, nparts)));
  IterVar outer = IterVar::make(iv.name() + ".outer", Expr(), iv.is_reduce());
  IterVar inner = IterVar::make(iv.name() + ".inner", Expr(), iv.is_reduce());
  Relation r;
  r.kind = Relation::Kind::kSplit;
  r.parent = iv, r.outer = outer, r.inner = inner;
  r.factor = factor, r.nparts = nparts;
  s->relations.push_back(r);
  s->all_iter_vars.push_back(outer);
  s->all_iter_vars.push_back(inner);
  size_t p = leaf_pos(*s, iv);
  s->leaf_iter_vars[p] = inner;
  s->leaf_iter_vars.insert(s->leaf_iter_vars.begin() + p, outer);
  s->attrs.erase(iv.get());
  return {outer, inner};
}

Stage& annotate(Stage& st, const IterVar& iv, ForKind kind, const char* prim) {
  StageNode* s = st.node();
  check_leaf(*s, iv, prim);
  IterAttr a = s->attr(iv);
  if (a.kind == ForKind::kThreadBinding)
    throw Error(std::string(prim) + ": loop " + quoted(iv.name()) + " of stage " +
                quoted(s->name()) + " is bound to " + thread_axis_name(a.axis));
  if (iv.is_reduce() && kind != ForKind::kUnrolled)
    throw Error(std::string(prim) + ": loop " + quoted(iv.name()) + " of stage " +
                quoted(s->name()) + " is a reduce loop");
  s->attrs[iv.get()] = IterAttr{kind, ThreadAxis::kNone};
  return st;
}

}  // namespace

IterVar Stage::axis(size_t i) const {
  if (i >= n_->op->axis.size())
    throw Error("stage " + quoted(name()) + " has " + std::to_string(n_->op->axis.size()) +
                " axes, asked for axis " + std::to_string(i));
  return n_->op->axis[i];
}

IterVar Stage::reduce_axis(size_t i) const {
  if (i >= n_->op->reduce_axis.size())
    throw Error("stage " + quoted(name()) + " has " + std::to_string(n_->op->reduce_axis.size()) +
                " reduce axes, asked for " + std::to_string(i));
  return n_->op->reduce_axis[i];
}

std::pair<IterVar, IterVar> Stage::split(const IterVar& iv, int64_t factor) {
  return do_split(n_.get(), iv, factor, 0, "split");
}

std::pair<IterVar, IterVar> Stage::split_nparts(const IterVar& iv, int64_t nparts) {
  return do_split(n_.get(), iv, 0, nparts, "split");
}

IterVar Stage::fuse(const IterVar& outer, const IterVar& inner) {
  check_leaf(*n_, outer, "fuse");
  check_leaf(*n_, inner, "fuse");
  if (outer.is_reduce() != inner.is_reduce())
    throw Error("fuse: stage " + quoted(name()) + " cannot fuse a data loop with a reduce loop (" +
                quoted(outer.name()) + ", " + quoted(inner.name()) + ")");
  size_t po = leaf_pos(*n_, outer), pi = leaf_pos(*n_, inner);
  if (pi != po + 1)
    throw Error("fuse: loops " + quoted(outer.name()) + " and " + quoted(inner.name()) +
                " of stage " + quoted(name()) +
                " are not adjacent (the outer loop must directly enclose the inner)");
  IterVar fused =
      IterVar::make(outer.name() + "." + inner.name() + ".fused", Expr(), outer.is_reduce());
  Relation r;
  r.kind = Relation::Kind::kFuse;
  r.outer = outer, r.inner = inner, r.fused = fused;
  n_->relations.push_back(r);
  n_->all_iter_vars.push_back(fused);
  n_->leaf_iter_vars[po] = fused;
  n_->leaf_iter_vars.erase(n_->leaf_iter_vars.begin() + pi);
  n_->attrs.erase(outer.get());
  n_->attrs.erase(inner.get());
  return fused;
}

Stage& Stage::reorder(const std::vector<IterVar>& order) {
  std::vector<size_t> pos;
  for (size_t i = 0; i < order.size(); ++i) {
    check_leaf(*n_, order[i], "reorder");
    for (size_t j = 0; j < i; ++j)
      if (order[j].same_as(order[i]))
        throw Error("reorder: loop " + quoted(order[i].name()) + " appears twice");
    pos.push_back(leaf_pos(*n_, order[i]));
  }
  std::sort(pos.begin(), pos.end());
  for (size_t i = 0; i < order.size(); ++i) n_->leaf_iter_vars[pos[i]] = order[i];
  return *this;
}

Stage& Stage::bind(const IterVar& iv, ThreadAxis axis) {
  check_leaf(*n_, iv, "bind");
  if (axis == ThreadAxis::kNone)
    throw Error("bind: loop " + quoted(iv.name()) + " of stage " + quoted(name()) +
                " needs a block or thread axis");
  if (iv.is_reduce() && !is_thread_axis(axis))
    throw Error("bind: reduce loop " + quoted(iv.name()) + " of stage " + quoted(name()) +
                " can only be bound to a thread axis, not " + thread_axis_name(axis));
  for (const IterVar& other : n_->leaf_iter_vars) {
    if (other.same_as(iv)) continue;
    IterAttr a = n_->attr(other);
    if (a.kind == ForKind::kThreadBinding && a.axis == axis)
      throw Error("bind: stage " + quoted(name()) + " binds both " + quoted(other.name()) +
                  " and " + quoted(iv.name()) + " to " + thread_axis_name(axis));
  }
  n_->attrs[iv.get()] = IterAttr{ForKind::kThreadBinding, axis};
  return *this;
}

Stage& Stage::vectorize(const IterVar& iv) {
  return annotate(*this, iv, ForKind::kVectorized, "vectorize");
}
Stage& Stage::unroll(const IterVar& iv) {
  return annotate(*this, iv, ForKind::kUnrolled, "unroll");
}
Stage& Stage::parallel(const IterVar& iv) {
  return annotate(*this, iv, ForKind::kParallel, "parallel");
}

Stage& Stage::compute_at(const Stage& consumer, const IterVar& iv) {
  check_compute(*n_, "compute_at");
  StageNode* c = consumer.node();
  if (c == n_.get())
    throw Error("compute_at: stage " + quoted(name()) + " cannot be attached to itself");
  if (n_->is_output)
    throw Error("compute_at: stage " + quoted(name()) + " is an output of the schedule");
  check_leaf(*c, iv, "compute_at");
  if (n_->schedule->reads(n_.get(), c, true))
    throw Error("compute_at: stage " + quoted(c->name()) + " feeds stage " + quoted(name()) +
                "; attaching " + quoted(name()) + " inside it would be a cycle");
  if (!n_->schedule->reads(c, n_.get(), true))
    throw Error("compute_at: stage " + quoted(name()) + " is not read by stage " +
                quoted(c->name()));
  n_->attach = AttachKind::kScope;
  n_->attach_stage = c;
  n_->attach_ivar = iv;
  return *this;
}

Stage& Stage::compute_inline() {
  check_compute(*n_, "compute_inline");
  if (n_->op->is_reduction())
    throw Error("compute_inline: stage " + quoted(name()) +
                " is a reduction and cannot be inlined");
  if (n_->is_output)
    throw Error("compute_inline: stage " + quoted(name()) + " is an output of the schedule");
  n_->attach = AttachKind::kInline;
  n_->attach_stage = nullptr;
  return *this;
}

Stage& Stage::compute_root() {
  check_compute(*n_, "compute_root");
  n_->attach = AttachKind::kRoot;
  n_->attach_stage = nullptr;
  return *this;
}

Stage& Stage::set_scope(MemScope scope) {
  check_compute(*n_, "set_scope");
  if (n_->is_output && scope != MemScope::kGlobal)
    throw Error("set_scope: stage " + quoted(name()) + " is an output and stays global");
  n_->scope = scope;
  return *this;
}

Stage& Stage::storage_align(const IterVar& axis, int64_t factor, int64_t offset) {
  check_compute(*n_, "storage_align");
  if (n_->is_output)
    throw Error("storage_align: stage " + quoted(name()) +
                " is an output; its layout is fixed by the caller");
  const auto& ax = n_->op->axis;
  auto it = std::find_if(ax.begin(), ax.end(), [&](const IterVar& v) { return v.same_as(axis); });
  if (it == ax.end())
    throw Error("storage_align: " + quoted(axis ? axis.name() : "<null>") +
                " is not a data axis of stage " + quoted(name()));
  if (factor <= 0 || offset < 0 || offset >= factor)
    throw Error("storage_align: stage " + quoted(name()) + " axis " + quoted(axis.name()) +
                ": need factor > 0 and 0 <= offset < factor, got factor " + std::to_string(factor) +
                ", offset " + std::to_string(offset));
  n_->aligns.push_back({static_cast<int>(it - ax.begin()), factor, offset});
  return *this;
}

// ---- Schedule ----------------------------------------------------------------------------

StageNode* ScheduleNode::stage_of(const Buffer& b) const {
  for (const auto& s : stages)
    if (s->op->buffer.same_as(b)) return s.get();
  return nullptr;
}

bool ScheduleNode::reads(const StageNode* consumer, const StageNode* producer,
                         bool transitive) const {
  std::vector<const StageNode*> work{consumer};
  std::unordered_set<const StageNode*> seen{consumer};
  while (!work.empty()) {
    const StageNode* s = work.back();
    work.pop_back();
    for (const Operation& in : s->op->inputs) {
      const StageNode* p = stage_of(in->buffer);
      if (p == producer) return true;
      if (transitive && p && seen.insert(p).second) work.push_back(p);
    }
  }
  return false;
}

Schedule::Schedule(std::vector<Tensor> outputs) : n_(std::make_shared<ScheduleNode>()) {
  std::unordered_set<const OperationNode*> seen;
  std::vector<Operation> order;
  for (const Tensor& t : outputs) {
    if (!t) throw Error("schedule: an output tensor is undefined");
    post_order(t.op(), &seen, &order);
  }
  for (const Operation& op : order) n_->stages.push_back(make_stage(op, n_.get()));
  for (const Tensor& t : outputs) {
    StageNode* s = n_->stage_of(t.buffer());
    if (!t.op()->is_compute())
      throw Error("schedule: output " + quoted(t.name()) + " is a placeholder");
    s->is_output = true;
  }
  n_->outputs = std::move(outputs);
}

Stage Schedule::operator[](const Tensor& t) const {
  for (const auto& s : n_->stages)
    if (t && s->op->buffer.same_as(t.buffer())) return Stage(s);
  throw Error("schedule: tensor " + quoted(t ? t.name() : "<null>") +
              " is not part of this schedule");
}

std::vector<Stage> Schedule::stages() const {
  std::vector<Stage> out;
  for (const auto& s : n_->stages) out.emplace_back(s);
  return out;
}

// ---- Relation passes ---------------------------------------------------------------------

void pass_down_extents(const StageNode& s, ExtentMap* ext,
                       const std::function<Expr(const Expr&)>& simplify) {
  for (const Relation& r : s.relations) {
    if (r.kind == Relation::Kind::kSplit) {
      Expr pe = ext->at(r.parent.get());
      if (r.factor > 0) {
        (*ext)[r.inner.get()] = Expr(static_cast<int>(r.factor));
        (*ext)[r.outer.get()] = simplify(ceil_div(pe, r.factor));
      } else {
        (*ext)[r.outer.get()] = Expr(static_cast<int>(r.nparts));
        (*ext)[r.inner.get()] = simplify(ceil_div(pe, r.nparts));
      }
    } else {
      (*ext)[r.fused.get()] = simplify(ext->at(r.outer.get()) * ext->at(r.inner.get()));
    }
  }
}

void pass_up_values(const StageNode& s, const ExtentMap& ext, ExtentMap* value,
                    std::vector<std::pair<Expr, const IterVarNode*>>* checks,
                    const std::function<Expr(const Expr&)>& simplify) {
  for (auto it = s.relations.rbegin(); it != s.relations.rend(); ++it) {
    const Relation& r = *it;
    if (r.kind == Relation::Kind::kSplit) {
      Expr inner_ext = ext.at(r.inner.get());
      Expr outer_v = value->at(r.outer.get()), inner_v = value->at(r.inner.get());
      Expr v = is_const_int(inner_ext, 1) ? outer_v : outer_v * inner_ext + inner_v;
      if (is_const_int(ext.at(r.outer.get()), 1)) v = inner_v;
      (*value)[r.parent.get()] = v;
      Expr pe = ext.at(r.parent.get());
      int64_t pv, iv, ov;
      bool divides = is_const_int(pe, &pv) && is_const_int(inner_ext, &iv) &&
                     is_const_int(ext.at(r.outer.get()), &ov) && pv == iv * ov;
      if (!divides && checks) checks->emplace_back(simplify(v < pe), r.parent.get());
    } else {
      Expr fv = value->at(r.fused.get());
      Expr ie = ext.at(r.inner.get());
      (*value)[r.outer.get()] = simplify(fv / ie);
      (*value)[r.inner.get()] = simplify(fv % ie);
    }
  }
}

}  // namespace mlcc::ir::te
