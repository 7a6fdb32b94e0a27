// Tensor expressions: placeholders and compute definitions (element-wise or reductions)
// over symbolic shapes, the input side of the Schedule language (TVM's te, done lean).
// A tensor owns a Buffer; reading it inside a compute body is a BufferLoad of that buffer.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/expr.h"

namespace mlcc::ir::te {

// A loop axis: a variable ranging over [0, extent). Root axes of an operation carry their
// extent; axes made by split/fuse get theirs when a schedule is lowered.
struct IterVarNode {
  Var var;
  Expr extent;  // undefined for schedule-derived axes
  bool reduce = false;
};

class IterVar {
 public:
  IterVar() = default;
  explicit IterVar(std::shared_ptr<const IterVarNode> p) : ptr_(std::move(p)) {}
  static IterVar make(std::string name, Expr extent, bool reduce);
  const IterVarNode* get() const { return ptr_.get(); }
  const IterVarNode* operator->() const { return ptr_.get(); }
  explicit operator bool() const { return ptr_ != nullptr; }
  bool same_as(const IterVar& o) const { return ptr_ == o.ptr_; }
  const Var& var() const { return ptr_->var; }
  const std::string& name() const { return ptr_->var.name(); }
  bool is_reduce() const { return ptr_->reduce; }

 private:
  std::shared_ptr<const IterVarNode> ptr_;
};

// A reduction axis for sum/max_reduce/min_reduce.
IterVar reduce_axis(Expr extent, std::string name = "k");

class Tensor;
struct OperationNode {
  enum class Kind : uint8_t { kPlaceholder, kCompute };
  Kind kind = Kind::kPlaceholder;
  std::string name;
  Buffer buffer;              // shape and dtype of the tensor
  std::vector<IterVar> axis;  // compute: one per dimension
  std::vector<IterVar> reduce_axis;
  Expr body;  // compute: the value, or the reduced source
  std::optional<ReduceKind> reduce;
  // Reductions: when defined, only elements where it holds are combined (rfactor's
  // non-dividing splits). A guard, not a select, so out-of-range reads never happen.
  Expr condition;
  std::vector<std::shared_ptr<const OperationNode>> inputs;  // tensors the body reads

  bool is_compute() const { return kind == Kind::kCompute; }
  bool is_reduction() const { return reduce.has_value(); }
};
using Operation = std::shared_ptr<const OperationNode>;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Operation op) : op_(std::move(op)) {}
  // A read of one element, for use inside compute bodies.
  Expr operator()(std::vector<Expr> indices) const;
  template <typename... Ts>
  Expr operator()(Ts... idx) const {
    return (*this)(std::vector<Expr>{Expr(idx)...});
  }
  const Operation& op() const { return op_; }
  const Buffer& buffer() const { return op_->buffer; }
  const std::string& name() const { return op_->name; }
  const std::vector<Expr>& shape() const { return op_->buffer->shape; }
  DataType dtype() const { return op_->buffer->dtype; }
  size_t ndim() const { return op_->buffer.ndim(); }
  explicit operator bool() const { return op_ != nullptr; }
  bool same_as(const Tensor& o) const { return op_ == o.op_; }

 private:
  Operation op_;
};

using ComputeFn = std::function<Expr(const std::vector<Var>& axes)>;

Tensor placeholder(std::string name, std::vector<Expr> shape, DataType dtype = DataType::f32());
// out[axes] = f(axes). When f returns sum/max_reduce/min_reduce, the tensor is a reduction.
// Axis names default to i, j, then ax2, ax3...
Tensor compute(std::string name, std::vector<Expr> shape, const ComputeFn& f,
               std::vector<std::string> axis_names = {});

// Reductions; only valid as the whole body of a compute.
Expr sum(Expr source, std::vector<IterVar> axes);
Expr max_reduce(Expr source, std::vector<IterVar> axes);
Expr min_reduce(Expr source, std::vector<IterVar> axes);

// ---- For the schedule and lowering -------------------------------------------------------

// Builds a compute operation from parts (rfactor, cache_read/cache_write use this). A null
// `buffer` makes a fresh global buffer of `shape`.
Operation make_compute_op(std::string name, std::vector<Expr> shape, std::vector<IterVar> axis,
                          std::vector<IterVar> reduce_axis, Expr body,
                          std::optional<ReduceKind> reduce, Buffer buffer = Buffer(),
                          Expr condition = Expr());
// The operation that owns `b`, or null when `b` is no tensor's buffer.
Operation operation_of(const Buffer& b);
// Replaces variables (by node identity) in an expression.
using VarMap = std::unordered_map<const VarNode*, Expr>;
Expr substitute(const Expr& e, const VarMap& map);
// Replaces every read of buffer `from` by a read of `to` (same indices).
Expr replace_buffer(const Expr& e, const Buffer& from, const Buffer& to);

}  // namespace mlcc::ir::te
