// Placeholders, compute definitions and the reduction markers of the tensor-expression
// language, plus the small expression rewriters the schedule and lowering share.
#include "ir/te/tensor.h"

#include <mutex>
#include <unordered_map>

#include "ir/functor.h"
#include "runtime/error.h"

namespace mlcc::ir::te {

namespace {

// sum/max_reduce/min_reduce return this: a Call (so it is an ordinary Expr that prints
// sensibly) that compute() recognizes by its C++ type and unpacks into a reduction.
struct ReduceMarkerNode : CallNode {
  ReduceKind reduce_kind;
  std::vector<IterVar> axes;
  Expr source;
  ReduceMarkerNode(ReduceKind k, std::vector<IterVar> ax, Expr src, std::vector<Expr> args)
      : CallNode(src.dtype(), Intrinsic::kThreadAllReduce, std::move(args)),
        reduce_kind(k),
        axes(std::move(ax)),
        source(std::move(src)) {}
};

const ReduceMarkerNode* as_reduce_marker(const Expr& e) {
  return e.defined() ? dynamic_cast<const ReduceMarkerNode*>(e.get()) : nullptr;
}

Expr make_reduce(ReduceKind k, Expr source, std::vector<IterVar> axes) {
  if (axes.empty()) throw Error(std::string(reduce_name(k)) + ": no reduction axes given");
  for (const IterVar& iv : axes)
    if (!iv || !iv.is_reduce())
      throw Error(std::string(reduce_name(k)) + ": axis '" + (iv ? iv.name() : "<null>") +
                  "' is not a reduce_axis");
  std::vector<Expr> args{source, Expr(static_cast<int>(k))};
  for (const IterVar& iv : axes) args.push_back(iv.var());
  return Expr(
      std::make_shared<const ReduceMarkerNode>(k, std::move(axes), source, std::move(args)));
}

// Buffer -> the operation owning it. Weak, so tensors die with their last handle.
std::mutex g_registry_mu;
std::unordered_map<const BufferNode*, std::weak_ptr<const OperationNode>> g_registry;

// A schedule's replacement of an operation keeps the original's buffer; the original (the
// one user handles hold) stays registered while it lives.
void register_op(const Operation& op) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  auto& slot = g_registry[op->buffer.get()];
  if (slot.expired()) slot = op;
}

// The operations whose buffers an expression reads, in order of first read.
std::vector<Operation> collect_inputs(const Expr& body) {
  struct Collector : ExprVisitor {
    std::vector<Operation> ops;
    void visit_(const BufferLoadNode* n) override {
      ExprVisitor::visit_(n);
      Operation op = operation_of(n->buffer);
      if (!op)
        throw Error("compute: the body reads buffer '" + n->buffer->name +
                    "', which is not a tensor");
      for (const Operation& o : ops)
        if (o == op) return;
      ops.push_back(op);
    }
    void visit_(const CallNode* n) override {
      if (dynamic_cast<const ReduceMarkerNode*>(n))
        throw Error("compute: a reduction (sum/max_reduce/min_reduce) must be the whole body");
      ExprVisitor::visit_(n);
    }
  } c;
  c.visit(body);
  return c.ops;
}

}  // namespace

IterVar IterVar::make(std::string name, Expr extent, bool reduce) {
  auto n = std::make_shared<IterVarNode>();
  n->var = Var(std::move(name));
  n->extent = std::move(extent);
  n->reduce = reduce;
  return IterVar(std::move(n));
}

IterVar reduce_axis(Expr extent, std::string name) {
  if (!extent.defined() || !extent.dtype().is_int())
    throw Error("reduce_axis '" + name + "': extent must be an integer expression");
  return IterVar::make(std::move(name), std::move(extent), true);
}

Expr Tensor::operator()(std::vector<Expr> indices) const {
  MLCC_CHECK(op_ != nullptr, "read of an undefined tensor");
  if (indices.size() != ndim())
    throw Error("tensor '" + name() + "' has " + std::to_string(ndim()) +
                " dimensions but was indexed with " + std::to_string(indices.size()));
  return op_->buffer(std::move(indices));
}

Tensor placeholder(std::string name, std::vector<Expr> shape, DataType dtype) {
  auto n = std::make_shared<OperationNode>();
  n->kind = OperationNode::Kind::kPlaceholder;
  n->name = name;
  n->buffer = Buffer::make(std::move(name), dtype, std::move(shape));
  Operation op = n;
  register_op(op);
  return Tensor(op);
}

Operation make_compute_op(std::string name, std::vector<Expr> shape, std::vector<IterVar> axis,
                          std::vector<IterVar> reduce_axis, Expr body,
                          std::optional<ReduceKind> reduce, Buffer buffer, Expr condition) {
  MLCC_CHECK(axis.size() == shape.size(), "compute axes do not match the shape");
  auto n = std::make_shared<OperationNode>();
  n->kind = OperationNode::Kind::kCompute;
  n->name = name;
  n->buffer = buffer ? buffer : Buffer::make(std::move(name), body.dtype(), std::move(shape));
  n->axis = std::move(axis);
  n->reduce_axis = std::move(reduce_axis);
  n->reduce = reduce;
  n->condition = std::move(condition);
  n->inputs = collect_inputs(body);
  n->body = std::move(body);
  Operation op = n;
  register_op(op);
  return op;
}

Tensor compute(std::string name, std::vector<Expr> shape, const ComputeFn& f,
               std::vector<std::string> axis_names) {
  if (!axis_names.empty() && axis_names.size() != shape.size())
    throw Error("compute '" + name + "': " + std::to_string(axis_names.size()) +
                " axis names for " + std::to_string(shape.size()) + " dimensions");
  static const char* kDefault[] = {"i", "j"};
  std::vector<IterVar> axis;
  std::vector<Var> vars;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!shape[d].defined() || !shape[d].dtype().is_int())
      throw Error("compute '" + name + "': dimension " + std::to_string(d) +
                  " is not an integer expression");
    std::string an = !axis_names.empty() ? axis_names[d]
                     : d < 2             ? kDefault[d]
                                         : "ax" + std::to_string(d);
    axis.push_back(IterVar::make(an, shape[d], false));
    vars.push_back(axis.back().var());
  }
  Expr body = f(vars);
  if (!body.defined()) throw Error("compute '" + name + "': the body is undefined");
  std::vector<IterVar> raxes;
  std::optional<ReduceKind> reduce;
  if (const ReduceMarkerNode* m = as_reduce_marker(body)) {
    raxes = m->axes;
    reduce = m->reduce_kind;
    body = m->source;
  }
  return Tensor(make_compute_op(std::move(name), std::move(shape), std::move(axis),
                                std::move(raxes), std::move(body), reduce));
}

Expr sum(Expr source, std::vector<IterVar> axes) {
  return make_reduce(ReduceKind::kSum, std::move(source), std::move(axes));
}
Expr max_reduce(Expr source, std::vector<IterVar> axes) {
  return make_reduce(ReduceKind::kMax, std::move(source), std::move(axes));
}
Expr min_reduce(Expr source, std::vector<IterVar> axes) {
  return make_reduce(ReduceKind::kMin, std::move(source), std::move(axes));
}

Operation operation_of(const Buffer& b) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  auto it = g_registry.find(b.get());
  return it == g_registry.end() ? nullptr : it->second.lock();
}

Expr substitute(const Expr& e, const VarMap& map) {
  struct Sub : ExprMutator {
    const VarMap& m;
    explicit Sub(const VarMap& mm) : m(mm) {}
    Expr mutate_(const VarNode* n, const Expr& self) override {
      auto it = m.find(n);
      return it == m.end() ? self : it->second;
    }
  } s(map);
  return map.empty() ? e : s.mutate(e);
}

Expr replace_buffer(const Expr& e, const Buffer& from, const Buffer& to) {
  struct Rep : ExprMutator {
    const Buffer &f, &t;
    Rep(const Buffer& a, const Buffer& b) : f(a), t(b) {}
    Buffer mutate_buffer(const Buffer& b) override { return b.same_as(f) ? t : b; }
  } r(from, to);
  return r.mutate(e);
}

}  // namespace mlcc::ir::te
