// The Schedule: per-stage loop transformations (split, fuse, reorder, bind, vectorize,
// unroll, parallel), placement (compute_at, compute_inline), storage (cache_read,
// cache_write, storage_align) and rfactor over tensor-expression definitions. Invalid
// requests throw mlcc::Error naming the primitive, the stage and the loop. lower()
// (ir/te/lower.h) turns a schedule into a PrimFunc.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/te/tensor.h"

namespace mlcc::ir::te {

// How a stage's loops derive from its root axes, in the order the primitives ran.
struct Relation {
  enum class Kind : uint8_t { kSplit, kFuse };
  Kind kind = Kind::kSplit;
  IterVar parent, outer, inner;  // split: parent -> (outer, inner); fuse: (outer, inner) -> fused
  IterVar fused;
  int64_t factor = 0;  // split by factor: the inner extent
  int64_t nparts = 0;  // split by nparts: the outer extent
};

struct IterAttr {
  ForKind kind = ForKind::kSerial;
  ThreadAxis axis = ThreadAxis::kNone;
};

enum class AttachKind : uint8_t { kRoot, kInline, kScope };

struct StorageAlign {
  int axis;
  int64_t factor, offset;
};

struct ScheduleNode;
struct StageNode {
  Operation op;  // the current definition; cache_write and rfactor replace it
  std::vector<IterVar> all_iter_vars;
  std::vector<IterVar> leaf_iter_vars;  // loop order, outermost first
  std::vector<Relation> relations;
  std::unordered_map<const IterVarNode*, IterAttr> attrs;
  AttachKind attach = AttachKind::kRoot;
  StageNode* attach_stage = nullptr;  // kScope: the consumer stage and its loop
  IterVar attach_ivar;
  MemScope scope = MemScope::kGlobal;
  std::vector<StorageAlign> aligns;
  bool is_output = false;
  ScheduleNode* schedule = nullptr;

  const std::string& name() const { return op->name; }
  IterAttr attr(const IterVar& iv) const;
};

class Stage {
 public:
  Stage() = default;
  explicit Stage(std::shared_ptr<StageNode> n) : n_(std::move(n)) {}

  const std::string& name() const { return n_->name(); }
  const Operation& op() const { return n_->op; }
  IterVar axis(size_t i) const;         // the i-th data axis of the current definition
  IterVar reduce_axis(size_t i) const;  // the i-th reduce axis of the current definition
  const std::vector<IterVar>& leaf_iter_vars() const { return n_->leaf_iter_vars; }

  // (outer, inner) with inner extent `factor`; a non-dividing factor leaves a bound check.
  std::pair<IterVar, IterVar> split(const IterVar& iv, int64_t factor);
  // (outer, inner) with outer extent `nparts`.
  std::pair<IterVar, IterVar> split_nparts(const IterVar& iv, int64_t nparts);
  // outer must directly precede inner in the loop order.
  IterVar fuse(const IterVar& outer, const IterVar& inner);
  // The given leaf loops take the positions they hold now, in the given order.
  Stage& reorder(const std::vector<IterVar>& order);
  Stage& bind(const IterVar& iv, ThreadAxis axis);
  Stage& vectorize(const IterVar& iv);
  Stage& unroll(const IterVar& iv);
  Stage& parallel(const IterVar& iv);
  // Computes this stage inside loop `iv` of `consumer`, over the region that one iteration
  // of `iv` reads (bound inference), into a buffer of that region's size.
  Stage& compute_at(const Stage& consumer, const IterVar& iv);
  Stage& compute_inline();
  Stage& compute_root();
  Stage& set_scope(MemScope scope);
  // Pads the stride of `axis` (a data axis) of this stage's buffer so that
  // stride % factor == offset (avoids shared-memory bank conflicts).
  Stage& storage_align(const IterVar& axis, int64_t factor, int64_t offset);

  StageNode* node() const { return n_.get(); }
  bool same_as(const Stage& o) const { return n_ == o.n_; }

 private:
  std::shared_ptr<StageNode> n_;
};

struct ScheduleNode {
  std::vector<std::shared_ptr<StageNode>> stages;  // producers before consumers
  std::vector<Tensor> outputs;
  // The stage computing buffer `b` (its tensor's), or null.
  StageNode* stage_of(const Buffer& b) const;
  // Whether `consumer`'s definition reads `producer`, directly or through other stages.
  bool reads(const StageNode* consumer, const StageNode* producer, bool transitive) const;
};

class Schedule {
 public:
  explicit Schedule(std::vector<Tensor> outputs);
  Stage operator[](const Tensor& t) const;
  std::vector<Stage> stages() const;
  const std::vector<Tensor>& outputs() const { return n_->outputs; }

  // A copy of `t` in `scope` that `readers` read instead of t. Returns the copy's tensor.
  Tensor cache_read(const Tensor& t, MemScope scope, const std::vector<Tensor>& readers);
  // Computes `t`'s definition into a `scope` copy; t's stage becomes a copy-out of it.
  Tensor cache_write(const Tensor& t, MemScope scope);
  // Splits reduction `t` along reduce loop `iv` (a leaf): a new stage computes partial
  // results indexed by iv first, and t reduces them along a new reduce axis.
  Tensor rfactor(const Tensor& t, const IterVar& iv);

  ScheduleNode* node() const { return n_.get(); }

 private:
  std::shared_ptr<ScheduleNode> n_;
};

// ---- Shared with lowering ----------------------------------------------------------------

// Extents of every iter var of a stage given its root extents, passed down the relations.
// `simplify` folds the arithmetic (the lowering passes the analyzer's).
using ExtentMap = std::unordered_map<const IterVarNode*, Expr>;
void pass_down_extents(const StageNode& s, ExtentMap* ext,
                       const std::function<Expr(const Expr&)>& simplify);
// Values of every iter var in terms of the leaf values in `value`, passed up the
// relations. Appends `inner_value < parent_extent` checks of non-dividing splits to
// `checks` (with the root axis each belongs to).
void pass_up_values(const StageNode& s, const ExtentMap& ext, ExtentMap* value,
                    std::vector<std::pair<Expr, const IterVarNode*>>* checks,
                    const std::function<Expr(const Expr&)>& simplify);
// "i.outer, i.inner" style description of what became of a non-leaf loop.
std::string describe_non_leaf(const StageNode& s, const IterVar& iv);

}  // namespace mlcc::ir::te
