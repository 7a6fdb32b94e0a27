// lower(): inlines compute_inline stages, checks attachments and the GPU kernel structure,
// lowers every root stage (attached stages come with their consumers) and wraps the
// result in the allocations of root intermediate stages.
#include "ir/te/lower.h"

#include <algorithm>

#include "ir/functor.h"
#include "ir/te/lower_internal.h"
#include "runtime/error.h"

namespace mlcc::ir::te {
namespace detail {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

namespace {

bool is_bound(const StageNode& s) {
  return std::any_of(s.leaf_iter_vars.begin(), s.leaf_iter_vars.end(),
                     [&](const IterVar& iv) { return s.attr(iv).kind == ForKind::kThreadBinding; });
}

bool lowered(const StageNode& s) { return s.op->is_compute() && s.attach != AttachKind::kInline; }

bool reads_buffer(const Expr& e, const Buffer& b) {
  bool found = false;
  if (e.defined())
    pre_order_visit(evaluate(e), [&](const Node* n) {
      if (n->kind == NodeKind::kBufferLoad &&
          static_cast<const BufferLoadNode*>(n)->buffer.same_as(b))
        found = true;
    });
  return found;
}

// Replaces reads of inlined stages by their (already inlined) definitions.
class Inliner : public ExprMutator {
 public:
  Inliner(const ScheduleNode& sch, const std::unordered_map<const StageNode*, Expr>& bodies)
      : sch_(sch), bodies_(bodies) {}
  using ExprMutator::mutate_;
  Expr mutate_(const BufferLoadNode* n, const Expr& self) override {
    Expr e = ExprMutator::mutate_(n, self);
    const auto* load = e.as<BufferLoadNode>();
    const StageNode* p = sch_.stage_of(load->buffer);
    if (!p || p->attach != AttachKind::kInline || !p->op->is_compute()) return e;
    VarMap map;
    for (size_t d = 0; d < p->op->axis.size(); ++d)
      map[p->op->axis[d].var().get()] = load->indices[d];
    return substitute(bodies_.at(p), map);
  }

 private:
  const ScheduleNode& sch_;
  const std::unordered_map<const StageNode*, Expr>& bodies_;
};

// Variables a statement uses that nothing in it defines, in order of first use.
std::vector<Var> free_vars(const Stmt& s) {
  struct Collect : IRMutator {
    std::unordered_set<const VarNode*> defined, seen;
    std::vector<Var> out;
    using IRMutator::mutate_;
    Expr mutate_(const VarNode* n, const Expr& self) override {
      if (!defined.count(n) && seen.insert(n).second)
        out.push_back(Var(std::static_pointer_cast<const VarNode>(self.ptr())));
      return self;
    }
    Stmt mutate_(const ForNode* n, const Stmt& self) override {
      defined.insert(n->var.get());
      return IRMutator::mutate_(n, self);
    }
    Stmt mutate_(const LetStmtNode* n, const Stmt& self) override {
      defined.insert(n->var.get());
      return IRMutator::mutate_(n, self);
    }
  } c;
  c.mutate(s);
  return c.out;
}

}  // namespace

Lowerer::Lowerer(const ScheduleNode& sch, const Target* target) : sch_(sch), target_(target) {}

void Lowerer::inline_stages() {
  Inliner inliner(sch_, body_);
  for (const auto& s : sch_.stages) {
    if (!s->op->is_compute()) continue;
    body_[s.get()] = inliner.mutate(s->op->body);
    if (s->op->condition.defined()) cond_[s.get()] = inliner.mutate(s->op->condition);
  }
}

void Lowerer::check_attachments() {
  for (const auto& sp : sch_.stages) {
    const StageNode* s = sp.get();
    if (!lowered(*s)) continue;
    if (s->attach != AttachKind::kScope) continue;
    const StageNode* c = s->attach_stage;
    if (c->attach == AttachKind::kInline)
      throw Error("compute_at: stage " + quoted(s->name()) + " is attached to stage " +
                  quoted(c->name()) + ", which is inlined");
    const auto& leaves = c->leaf_iter_vars;
    if (std::none_of(leaves.begin(), leaves.end(),
                     [&](const IterVar& v) { return v.same_as(s->attach_ivar); }))
      throw Error("compute_at: loop " + quoted(s->attach_ivar.name()) + " of stage " +
                  quoted(c->name()) + " is not a leaf loop (" +
                  describe_non_leaf(*c, s->attach_ivar) + ")");
    for (const auto& rp : sch_.stages) {
      const StageNode* r = rp.get();
      if (!lowered(*r) || !reads_buffer(body_.at(r), s->op->buffer)) continue;
      const StageNode* up = r;  // readers attached (transitively) inside c are fine
      while (up != c && up->attach == AttachKind::kScope) up = up->attach_stage;
      if (up == c) continue;
      throw Error("compute_at: stage " + quoted(s->name()) + " is also read by stage " +
                  quoted(r->name()) + ", outside its attach point in stage " + quoted(c->name()));
    }
  }
}

void Lowerer::check_gpu_structure() {
  for (const auto& sp : sch_.stages) {
    const StageNode* s = sp.get();
    if (!lowered(*s)) continue;
    if (s->is_output) {
      if (s->attach == AttachKind::kRoot && !is_bound(*s))
        throw Error("lower: output stage " + quoted(s->name()) +
                    " of a GPU kernel has no loop bound to blockIdx/threadIdx");
      continue;
    }
    if (s->attach == AttachKind::kRoot)
      throw Error("lower: stage " + quoted(s->name()) +
                  " is an intermediate stage of a GPU kernel; attach it inside the block loops "
                  "with compute_at, or inline it");
    if (s->scope == MemScope::kGlobal)
      throw Error("lower: stage " + quoted(s->name()) +
                  " is computed inside a GPU kernel but has global scope; give it shared or "
                  "local scope (cache_read, cache_write or set_scope)");
  }
}

PrimFunc Lowerer::run(const std::vector<Tensor>& args, const std::string& name) {
  for (const auto& s : sch_.stages) {
    if (!lowered(*s) || !is_bound(*s)) continue;
    gpu_ = true;
    if (target_ && !target_->is_gpu())
      throw Error("lower: stage " + quoted(s->name()) +
                  " binds loops to GPU block/thread axes, but the target is a CPU");
  }
  inline_stages();
  check_attachments();
  if (gpu_) check_gpu_structure();

  std::vector<Buffer> params;
  for (const Tensor& t : args) {
    const StageNode* s = t ? sch_.stage_of(t.buffer()) : nullptr;
    if (!s)
      throw Error("lower: argument " + quoted(t ? t.name() : "<null>") +
                  " is not part of the schedule");
    if (s->op->is_compute() && !s->is_output)
      throw Error("lower: argument " + quoted(t.name()) +
                  " is an intermediate stage; only placeholders and outputs are parameters");
    params.push_back(t.buffer());
  }
  auto in_params = [&](const Buffer& b) {
    return std::any_of(params.begin(), params.end(), [&](const Buffer& p) { return p.same_as(b); });
  };
  for (const auto& s : sch_.stages) {
    if (s->is_output && !in_params(s->op->buffer))
      throw Error("lower: output " + quoted(s->name()) + " is not in the argument list");
    if (s->op->is_compute() || in_params(s->op->buffer)) continue;
    for (const auto& r : sch_.stages)
      if (lowered(*r) && (reads_buffer(body_.at(r.get()), s->op->buffer) ||
                          (cond_.count(r.get()) && reads_buffer(cond_.at(r.get()), s->op->buffer))))
        throw Error("lower: tensor " + quoted(s->name()) + " is read by stage " +
                    quoted(r->name()) + " but is not in the argument list");
  }

  // Root intermediates live in global scratch of their full shape.
  std::vector<Buffer> scratch;
  for (const auto& s : sch_.stages) {
    if (!lowered(*s) || s->is_output || s->attach != AttachKind::kRoot) continue;
    Buffer b = region_buffer(s.get(), s->op->buffer->shape);
    realized_[s->op->buffer.get()] = b;
    scratch.push_back(b);
  }
  std::vector<Stmt> parts;
  for (const auto& s : sch_.stages) {
    if (!lowered(*s) || s->attach != AttachKind::kRoot) continue;
    std::vector<Expr> lo(s->op->axis.size(), Expr(0));
    auto it = realized_.find(s->op->buffer.get());
    Buffer out = it == realized_.end() ? s->op->buffer : it->second;
    parts.push_back(build_stage(s.get(), lo, s->op->buffer->shape, out, {}));
  }
  MLCC_CHECK(pending_shared_.empty(), "a shared allocation found no enclosing thread loop");
  Stmt body = seq(parts);
  for (auto it = scratch.rbegin(); it != scratch.rend(); ++it) body = allocate(*it, body);

  std::vector<Var> extra;
  for (const Var& v : free_vars(body)) {
    bool is_shape_var = false;
    for (const Buffer& b : params)
      for (const Expr& d : b->shape) is_shape_var |= d.get() == v.get();
    if (!is_shape_var) extra.push_back(v);
  }
  return make_prim_func(name, params, body, extra);
}

}  // namespace detail

PrimFunc lower(const Schedule& sch, const std::vector<Tensor>& args, const std::string& name,
               const Target* target) {
  detail::Lowerer l(*sch.node(), target);
  return l.run(args, name);
}

}  // namespace mlcc::ir::te
