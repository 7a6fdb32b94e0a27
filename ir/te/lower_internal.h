// Internal to lowering, shared by lower.cc (the function), lower_stage.cc (one stage's
// loop nest) and lower_attach.cc (stages computed inside a consumer's loops).
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/arith/analyzer.h"
#include "ir/te/lower.h"

namespace mlcc::ir::te::detail {

// A loop of a stage's nest, in emission order.
struct Loop {
  IterVar iv;
  Var var;  // iv's var, or the enclosing loop's var when a binding reuses it
  Expr extent;
  IterAttr attr;
  bool emitted = true;   // false: reuses an enclosing loop bound to the same axis
  Expr reuse_guard;      // var < extent when the reused loop is larger
  bool trivial = false;  // extent 1 and not bound: no loop, the value is 0
};

// A block/thread-bound loop in scope.
struct BoundLoop {
  ThreadAxis axis;
  Var var;
  Expr extent;
};

// A stage computed inside a loop of its consumer's nest.
struct Attached {
  const StageNode* stage;
  size_t level;  // the statement position: inside loop level-1 of the consumer's order
  Stmt nest;
  Buffer buffer;
  // A shared buffer written inside thread loops: allocated outside the outermost thread
  // loop and fenced by barriers; any other buffer is allocated at the attach point.
  bool shared_in_threads;
};

class Lowerer {
 public:
  Lowerer(const ScheduleNode& sch, const Target* target);
  PrimFunc run(const std::vector<Tensor>& args, const std::string& name);

 private:
  // lower_stage.cc: the nest of stage `s` over the region [lo, lo + ext) of its axes, writing
  // `out` (indexed relative to lo), inside the bound loops `env`.
  Stmt build_stage(const StageNode* s, const std::vector<Expr>& lo, const std::vector<Expr>& ext,
                   const Buffer& out, const std::vector<BoundLoop>& env);
  void inline_stages();
  void check_attachments();
  void check_gpu_structure();
  Expr simplify(const Expr& e) { return ana_.simplify(e); }
  // lower_stage.cc helpers.
  std::vector<Loop> order_loops(const StageNode* s, const ExtentMap& ext,
                                const std::vector<BoundLoop>& env);
  Stmt wrap_loop(const Loop& l, Stmt body, bool outermost_thread);
  // lower_attach.cc: bound inference and nests of the stages attached to `s`'s loops, in
  // stage order; their reads in *src become reads of their region buffers.
  std::vector<Attached> build_attached(const StageNode* s, const std::vector<Loop>& loops,
                                       const std::vector<BoundLoop>& env, Expr* src);
  Buffer region_buffer(const StageNode* p, const std::vector<Expr>& ext);

  const ScheduleNode& sch_;
  const Target* target_;
  arith::Analyzer ana_;
  bool gpu_ = false;
  std::unordered_map<const StageNode*, Expr> body_;  // definitions after inlining
  std::unordered_map<const StageNode*, Expr> cond_;  // reduction conditions after inlining
  std::unordered_set<const VarNode*> loop_vars_;
  // Root intermediate stages: their tensor's buffer -> the scratch buffer lowered code uses.
  std::unordered_map<const BufferNode*, Buffer> realized_;
  std::vector<Buffer> pending_shared_;  // to allocate outside the outermost thread loop
};

std::string quoted(const std::string& s);

}  // namespace mlcc::ir::te::detail
