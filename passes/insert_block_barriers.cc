// Inserts sync_threads between consecutive threadIdx-bound regions at block level.
#include "passes/insert_block_barriers.h"

#include "ir/functor.h"

namespace mlcc::passes {

using namespace ir;

namespace {

const ForNode* thread_for(const Stmt& s) {
  const auto* f = s.as<ForNode>();
  return f && is_thread_axis(f->thread_axis) ? f : nullptr;
}

// The thread region a block-level statement opens, looking through the allocations
// (shared scratch of a reduction) and lets placed around it.
const ForNode* region_of(Stmt s) {
  while (true) {
    if (const auto* a = s.as<AllocateNode>())
      s = a->body;
    else if (const auto* l = s.as<LetStmtNode>())
      s = l->body;
    else
      return thread_for(s);
  }
}

// A barrier reaching every thread of a region: the region's chain of directly nested
// thread loops (same axes and extents, fresh variables) around sync_threads().
Stmt barrier_like(const ForNode* region) {
  std::vector<const ForNode*> chain;
  for (const ForNode* f = region; f; f = thread_for(f->body)) chain.push_back(f);
  Stmt body = sync_threads();
  for (auto it = chain.rbegin(); it != chain.rend(); ++it)
    body = thread_loop(Var((*it)->var.name() + ".sync"), (*it)->extent, (*it)->thread_axis, body);
  return body;
}

class BarrierInserter : public IRMutator {
 protected:
  using IRMutator::mutate_;
  Stmt mutate_(const ForNode* n, const Stmt& self) override {
    if (is_thread_axis(n->thread_axis)) return self;  // inside a region: nothing to do
    return IRMutator::mutate_(n, self);
  }
  Stmt mutate_(const SeqNode* n, const Stmt& self) override {
    std::vector<Stmt> out;
    bool changed = false;
    const ForNode* previous = nullptr;
    for (const Stmt& s : n->seq) {
      Stmt m = mutate(s);
      changed |= !m.same_as(s);
      const ForNode* region = region_of(m);
      if (region && previous) {
        out.push_back(barrier_like(previous));
        changed = true;
      }
      if (region) previous = region;
      out.push_back(m);
    }
    return changed ? seq(std::move(out)) : self;
  }
};

}  // namespace

PrimFunc insert_block_barriers(const PrimFunc& f) {
  PrimFunc out = f;
  out.body = BarrierInserter().mutate(f.body);
  return out;
}

}  // namespace mlcc::passes
