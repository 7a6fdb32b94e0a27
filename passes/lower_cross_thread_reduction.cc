// Replaces thread_allreduce stores by warp-shuffle butterflies or shared-memory trees (see
// the header). One walk keeps the enclosing thread loops; shared buffers made for a
// reduction are allocated around the outermost of them.
#include "passes/lower_cross_thread_reduction.h"

#include <algorithm>

#include "ir/functor.h"
#include "ir/printer.h"
#include "runtime/error.h"

namespace mlcc::passes {

using namespace ir;

namespace {

const char* kPass = "lower_cross_thread_reduction: ";

struct ThreadLoop {
  Var var;
  Expr extent;
  ThreadAxis axis;
};

bool is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// A linear index over loops (first fastest) and the product of their extents.
std::pair<Expr, int64_t> linearize(const std::vector<ThreadLoop>& loops) {
  Expr idx;
  int64_t stride = 1;
  for (const ThreadLoop& l : loops) {
    Expr term = stride == 1 ? Expr(l.var) : l.var * static_cast<int>(stride);
    idx = idx.defined() ? idx + term : term;
    int64_t e;
    is_const_int(l.extent, &e);
    stride *= e;
  }
  return {idx.defined() ? idx : Expr(0), stride};
}

class Lowerer : public IRMutator {
 public:
  Lowerer(const Target& t, const CrossThreadReductionOptions& o) : target_(t), options_(o) {}

  using IRMutator::mutate_;

  Stmt mutate_(const ForNode* n, const Stmt& self) override {
    if (n->for_kind != ForKind::kThreadBinding || !is_thread_axis(n->thread_axis))
      return IRMutator::mutate_(n, self);
    bool outermost = threads_.empty();
    threads_.push_back({n->var, n->extent, n->thread_axis});
    Stmt r = IRMutator::mutate_(n, self);
    threads_.pop_back();
    if (outermost) {
      for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) r = allocate(*it, r);
      pending_.clear();
    }
    return r;
  }

  Stmt mutate_(const BufferStoreNode* n, const Stmt& self) override {
    const auto* c = n->value.as<CallNode>();
    if (!c || c->op != Intrinsic::kThreadAllReduce) return IRMutator::mutate_(n, self);
    bool changed = false;
    std::vector<Expr> idx = mutate_all(n->indices, &changed);
    return expand(n->buffer, idx, c);
  }

  Expr mutate_(const CallNode* n, const Expr& self) override {
    if (n->op == Intrinsic::kThreadAllReduce)
      throw Error(std::string(kPass) +
                  "thread_allreduce must be the whole value of a store, found " + to_string(self));
    return ExprMutator::mutate_(n, self);
  }

 private:
  Stmt expand(const Buffer& buf, const std::vector<Expr>& idx, const CallNode* c) {
    if (c->args.size() < 3 || !is_const_int(c->args[1]))
      throw Error(std::string(kPass) + "malformed call with " + std::to_string(c->args.size()) +
                  " arguments");
    auto kind = static_cast<ReduceKind>(c->args[1].as<IntImmNode>()->value);
    Expr value = mutate(c->args[0]);
    std::vector<ThreadLoop> group, others;
    for (size_t i = 2; i < c->args.size(); ++i) {
      auto it = std::find_if(threads_.begin(), threads_.end(),
                             [&](const ThreadLoop& l) { return l.var.get() == c->args[i].get(); });
      if (it == threads_.end())
        throw Error(std::string(kPass) + to_string(c->args[i]) +
                    " is not the variable of an enclosing threadIdx loop");
      group.push_back(*it);
    }
    for (const ThreadLoop& l : threads_) {
      bool in_group = std::any_of(group.begin(), group.end(),
                                  [&](const ThreadLoop& g) { return g.axis == l.axis; });
      bool dup = std::any_of(others.begin(), others.end(),
                             [&](const ThreadLoop& o) { return o.axis == l.axis; });
      if (!in_group && !dup) others.push_back(l);
    }
    auto by_axis = [](const ThreadLoop& a, const ThreadLoop& b) { return a.axis < b.axis; };
    std::sort(group.begin(), group.end(), by_axis);
    std::sort(others.begin(), others.end(), by_axis);
    for (const auto* part : {&group, &others})
      for (const ThreadLoop& l : *part)
        if (!is_const_int(l.extent))
          throw Error(std::string(kPass) + "the thread loop of " + l.var.name() +
                      " has non-constant extent " + to_string(l.extent));
    auto [g, G] = linearize(group);
    auto [grp, ngroups] = linearize(others);
    if (G == 1) return store(buf, idx, value);

    int warp = target_.warp_size;
    // Two shuffle levels cover at most warp * warp threads (the partials of G / warp warps
    // are reduced by one warp); beyond that (256 threads on 8-wide subgroups) the
    // shared-memory tree does it.
    bool use_warp = options_.use_warp_shuffle && warp > 1 && group.size() == 1 &&
                    group[0].axis == ThreadAxis::kThreadX && is_pow2(G) &&
                    (G <= warp ? warp % G == 0 : G % warp == 0) && G <= int64_t{warp} * warp;
    return use_warp ? warp_reduce(buf, idx, kind, value, group[0].var, G, grp, ngroups)
                    : tree_reduce(buf, idx, kind, value, g, G, grp, ngroups);
  }

  // t[0] = combine(t[0], shuffle_xor(t[0], off, width)) for off = span/2 .. 1.
  static void butterfly(std::vector<Stmt>* out, const Buffer& t, ReduceKind kind, int64_t span,
                        int width) {
    for (int64_t off = span / 2; off >= 1; off /= 2) {
      Expr other = call(t->dtype, Intrinsic::kWarpShuffleXor,
                        {t(0), Expr(static_cast<int>(off)), Expr(width)});
      out->push_back(store(t, {Expr(0)}, reduce_combine(kind, t(0), other)));
    }
  }

  Stmt warp_reduce(const Buffer& buf, const std::vector<Expr>& idx, ReduceKind kind, Expr value,
                   const Var& x, int64_t G, const Expr& grp, int64_t ngroups) {
    int warp = target_.warp_size;
    Buffer t = Buffer::make("red_buf", value.dtype(), {Expr(1)}, MemScope::kLocal);
    std::vector<Stmt> out{store(t, {Expr(0)}, value)};
    int width = static_cast<int>(std::min<int64_t>(G, warp));
    butterfly(&out, t, kind, width, width);
    if (G > warp) {
      // Each warp's partial goes to shared memory; every warp then reads all partials of
      // its group (lane % nw) and reduces them, so all threads end with the result.
      int nw = static_cast<int>(G / warp);
      Buffer sh = Buffer::make("red_warp", value.dtype(), {Expr(static_cast<int>(ngroups) * nw)},
                               MemScope::kShared);
      pending_.push_back(sh);
      auto slot = [&](Expr e) { return ngroups > 1 ? grp * nw + e : e; };
      Expr lane = x % warp;
      out.push_back(if_then_else(eq(lane, 0), store(sh, {slot(x / warp)}, t(0))));
      out.push_back(sync_threads());
      out.push_back(store(t, {Expr(0)}, sh(slot(lane % nw))));
      butterfly(&out, t, kind, nw, warp);
      out.push_back(store(buf, idx, t(0)));
      out.push_back(sync_threads());  // the partials are read before the next reduction
    } else {
      out.push_back(store(buf, idx, t(0)));
    }
    return allocate(t, seq(out));
  }

  Stmt tree_reduce(const Buffer& buf, const std::vector<Expr>& idx, ReduceKind kind, Expr value,
                   const Expr& g, int64_t G, const Expr& grp, int64_t ngroups) {
    Buffer sh = Buffer::make("red_buf", value.dtype(), {Expr(static_cast<int>(ngroups * G))},
                             MemScope::kShared);
    pending_.push_back(sh);
    Expr base = ngroups > 1 ? grp * static_cast<int>(G) : Expr(0);
    Expr slot = is_const_int(base, 0) ? g : base + g;
    std::vector<Stmt> out{store(sh, {slot}, value), sync_threads()};
    int64_t span = 1;
    while (span < G) span *= 2;
    for (int64_t s = span / 2; s >= 1; s /= 2) {
      // Above the largest power of two below G only the slots with a partner combine.
      int si = static_cast<int>(s);
      Expr cond = 2 * s <= G ? g < si : g + si < static_cast<int>(G);
      out.push_back(
          if_then_else(cond, store(sh, {slot}, reduce_combine(kind, sh(slot), sh(slot + si)))));
      out.push_back(sync_threads());
    }
    out.push_back(store(buf, idx, sh(base)));
    out.push_back(sync_threads());  // everyone has read the result before the slots are reused
    return seq(out);
  }

  const Target& target_;
  CrossThreadReductionOptions options_;
  std::vector<ThreadLoop> threads_;
  std::vector<Buffer> pending_;
};

}  // namespace

PrimFunc lower_cross_thread_reduction(const PrimFunc& f, const Target& target,
                                      const CrossThreadReductionOptions& options) {
  Lowerer l(target, options);
  PrimFunc out = f;
  out.body = l.mutate(f.body);
  return out;
}

}  // namespace mlcc::passes
