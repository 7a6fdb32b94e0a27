// The verifier: one walk over the function that tracks what is in scope (variables,
// buffers, enclosing thread loops) and records every violation with the statement it was
// found in.
#include "ir/verifier.h"

#include <unordered_set>

#include "ir/functor.h"
#include "ir/printer.h"
#include "runtime/error.h"

namespace mlcc::ir {

namespace {

// The first line of a statement's text, without the opening brace, at most ~80 chars.
std::string short_text(const std::string& text) {
  std::string s = text.substr(0, text.find('\n'));
  size_t b = s.find_first_not_of(' ');
  s = b == std::string::npos ? "" : s.substr(b);
  if (s.size() >= 2 && s.compare(s.size() - 2, 2, " {") == 0) s.resize(s.size() - 2);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

class Verifier : public IRVisitor {
 public:
  explicit Verifier(const PrimFunc& f) : func_(f) {}

  std::vector<std::string> run() {
    for (const Var& v : func_.scalars) vars_.insert(v.get());
    for (const Buffer& b : func_.buffers) {
      buffers_.insert(b.get());
      for (const Expr& e : b->shape) check_expr_in("parameter " + b->name, e);
      for (const Expr& e : b->strides) check_expr_in("parameter " + b->name, e);
    }
    pre_order_visit(func_.body, [&](const Node* n) {
      if (n->kind == NodeKind::kFor)
        has_thread_loops_ |= static_cast<const ForNode*>(n)->for_kind == ForKind::kThreadBinding;
    });
    visit(func_.body);
    return errors_;
  }

  using IRVisitor::visit;
  void visit(const Stmt& s) override {
    if (!s.defined()) return;
    Stmt saved = current_stmt_;
    if (!s.as<SeqNode>()) current_stmt_ = s;
    IRVisitor::visit(s);
    current_stmt_ = saved;
  }

 protected:
  using IRVisitor::visit_;

  void visit_(const VarNode* n) override {
    if (!vars_.count(n))
      error("variable '" + n->name +
            "' is used but not defined (not a scalar parameter or an enclosing loop/let var)");
  }

  void visit_(const BufferLoadNode* n) override {
    check_access(n->buffer, n->indices);
    int lanes = index_lanes(n->indices);
    if (n->dtype != n->buffer->dtype.with_lanes(lanes))
      error("load of buffer '" + n->buffer->name + "' has type " + to_string(n->dtype) +
            " but its indices have " + std::to_string(lanes) + " lanes");
    IRVisitor::visit_(n);
  }

  void visit_(const CallNode* n) override {
    bool needs_threads = n->op == Intrinsic::kSyncThreads || n->op == Intrinsic::kWarpShuffleXor ||
                         n->op == Intrinsic::kWarpShuffleDown ||
                         n->op == Intrinsic::kThreadAllReduce || n->op == Intrinsic::kMmaSync;
    if (needs_threads && thread_depth_ == 0)
      error(std::string(intrinsic_name(n->op)) + "() outside any threadIdx loop");
    auto signature = [&]() {
      std::string got;
      for (const Expr& a : n->args) got += (got.empty() ? "" : ", ") + to_string(a.dtype());
      return "(" + got + ") -> " + to_string(n->dtype);
    };
    if (n->op == Intrinsic::kMmaSync &&
        !(n->dtype == DataType::f32(4) && n->args.size() == 3 &&
          n->args[0].dtype() == DataType::f16(8) && n->args[1].dtype() == DataType::f16(4) &&
          n->args[2].dtype() == DataType::f32(4)))
      error("mma_m16n8k16 takes (f16x8, f16x4, f32x4) and returns f32x4; got " + signature());
    if (n->op == Intrinsic::kDotI16Pairs &&
        !(n->args.size() == 3 && n->dtype == n->args[2].dtype() &&
          dot_i16_pairs_types(n->args[0].dtype(), n->args[1].dtype(), n->args[2].dtype())))
      error("dot_i16_pairs takes (i16x2N, i16x2N, i32xN) and returns i32xN; got " + signature());
    IRVisitor::visit_(n);
  }

  void visit_(const ForNode* n) override {
    visit(n->min), visit(n->extent);
    if (!n->extent.dtype().is_integer() || n->extent.dtype().is_vector())
      error("loop extent of non-integer type " + to_string(n->extent.dtype()));
    if (!n->min.dtype().is_integer() || n->min.dtype().is_vector())
      error("loop start of non-integer type " + to_string(n->min.dtype()));
    bool thread = n->for_kind == ForKind::kThreadBinding && is_thread_axis(n->thread_axis);
    if (n->for_kind == ForKind::kThreadBinding && is_block_axis(n->thread_axis) &&
        thread_depth_ > 0)
      error(std::string("loop bound to ") + thread_axis_name(n->thread_axis) +
            " is nested inside a threadIdx loop");
    bool added = define(n->var);
    thread_depth_ += thread;
    visit(n->body);
    thread_depth_ -= thread;
    if (added) vars_.erase(n->var.get());
  }

  void visit_(const LetStmtNode* n) override {
    visit(n->value);
    bool added = define(n->var);
    visit(n->body);
    if (added) vars_.erase(n->var.get());
  }

  void visit_(const BufferStoreNode* n) override {
    check_access(n->buffer, n->indices);
    int lanes = index_lanes(n->indices);
    DataType want = n->buffer->dtype.with_lanes(lanes);
    if (n->value.defined() && n->value.dtype() != want)
      error("store of " + to_string(n->value.dtype()) + " into buffer '" + n->buffer->name +
            "' of " + to_string(n->buffer->dtype) + " (expected " + to_string(want) + ")");
    IRVisitor::visit_(n);
  }

  void visit_(const AllocateNode* n) override {
    const Buffer& b = n->buffer;
    for (const Expr& e : b->shape) visit(e);
    for (const Expr& e : b->strides) visit(e);
    if (b->scope == MemScope::kShared && thread_depth_ > 0)
      error("shared allocation '" + b->name +
            "' inside a threadIdx loop (shared allocations must enclose the thread loops)");
    if (b->scope == MemScope::kGlobal && has_thread_loops_)
      error("global allocation '" + b->name +
            "' inside a GPU kernel (the function has thread-bound loops)");
    bool added = buffers_.insert(b.get()).second;
    visit(n->body);
    if (added) buffers_.erase(b.get());
  }

 private:
  void error(const std::string& what) {
    std::string where = current_stmt_.defined() ? short_text(to_string(current_stmt_)) : "";
    std::string msg = func_.name + ": " + what + (where.empty() ? "" : " in `" + where + "`");
    if (seen_.insert(msg).second) errors_.push_back(msg);
  }

  void check_expr_in(const std::string& what, const Expr& e) {
    pre_order_visit(evaluate(e), [&](const Node* n) {
      if (n->kind != NodeKind::kVar) return;
      const auto* v = static_cast<const VarNode*>(n);
      if (!vars_.count(v))
        error("variable '" + v->name + "' in the shape of " + what + " is not a scalar parameter");
    });
  }

  // False when v was already in scope (reported), so the caller leaves that scope alone.
  bool define(const Var& v) {
    if (vars_.insert(v.get()).second) return true;
    error("variable '" + v.name() + "' is defined twice (it is already in scope here)");
    return false;
  }

  void check_access(const Buffer& b, const std::vector<Expr>& indices) {
    if (!buffers_.count(b.get()))
      error("buffer '" + b->name +
            "' is neither a parameter nor allocated by an enclosing allocate");
    if (indices.size() != b.ndim())
      error("buffer '" + b->name + "' has rank " + std::to_string(b.ndim()) +
            " but is indexed with " + std::to_string(indices.size()) + " indices");
    for (const Expr& i : indices)
      if (i.defined() && !i.dtype().is_integer())
        error("index " + to_string(i) + " of buffer '" + b->name + "' has non-integer type " +
              to_string(i.dtype()));
    int lanes = 0;
    for (const Expr& i : indices) {
      if (!i.defined() || i.dtype().is_scalar()) continue;
      if (lanes != 0 && lanes != i.dtype().lanes)
        error("vector index lanes mismatch on buffer '" + b->name + "': " + std::to_string(lanes) +
              " vs " + std::to_string(i.dtype().lanes));
      lanes = i.dtype().lanes;
    }
  }

  // Lanes of an access: the common lanes of its vector indices, or 1.
  static int index_lanes(const std::vector<Expr>& indices) {
    int lanes = 1;
    for (const Expr& i : indices)
      if (i.defined() && i.dtype().lanes > lanes) lanes = i.dtype().lanes;
    return lanes;
  }

  const PrimFunc& func_;
  std::unordered_set<const VarNode*> vars_;
  std::unordered_set<const BufferNode*> buffers_;
  int thread_depth_ = 0;
  bool has_thread_loops_ = false;
  Stmt current_stmt_;
  std::vector<std::string> errors_;
  std::unordered_set<std::string> seen_;
};

}  // namespace

std::vector<std::string> verify_errors(const PrimFunc& f) { return Verifier(f).run(); }

void verify(const PrimFunc& f) {
  std::vector<std::string> errors = verify_errors(f);
  if (errors.empty()) return;
  std::string msg = "PrimFunc '" + f.name + "' failed verification (" +
                    std::to_string(errors.size()) + " problem" + (errors.size() == 1 ? "" : "s") +
                    "):";
  for (const std::string& e : errors) msg += "\n  " + e;
  throw Error(msg);
}

}  // namespace mlcc::ir
