// LaunchGraph (launch_graph.h): deferring, matching and updating a step's launches against
// the graph built from an earlier step.
#include "runtime/devices/launch_graph.h"

#include <utility>

namespace mlcc {

namespace {
bool same_dims(const Dim3& a, const Dim3& b) { return a.x == b.x && a.y == b.y && a.z == b.z; }
}  // namespace

bool GraphLaunch::same_call(const GraphLaunch& o) const {
  return kernel == o.kernel && same_dims(dims.grid, o.dims.grid) &&
         same_dims(dims.block, o.dims.block) && args == o.args;
}

void LaunchGraph::begin() {
  if (given_up_) return;
  in_step_ = true;
  pos_ = 0;
  replaying_ = !graph_.empty();
  broken_ = false;
  recorded_.clear();
}

void LaunchGraph::diverge() {
  for (size_t i = 0; i < pos_; ++i) ops_.launch(graph_[i]);
  recorded_.assign(graph_.begin(), graph_.begin() + static_cast<std::ptrdiff_t>(pos_));
  replaying_ = false;
}

void LaunchGraph::launch(GraphLaunch l) {
  if (!in_step_) {
    ops_.launch(l);
    return;
  }
  if (replaying_) {
    if (pos_ < graph_.size() && graph_[pos_].kernel == l.kernel) {
      if (!graph_[pos_].same_call(l)) {
        ops_.update(pos_, l);
        graph_[pos_] = std::move(l);
        ++counts_.updates;
      }
      ++pos_;
      return;
    }
    diverge();
  }
  ops_.launch(l);
  recorded_.push_back(std::move(l));
}

void LaunchGraph::flush() {
  if (!in_step_) return;
  if (replaying_ && pos_ > 0) {
    diverge();
    broken_ = true;
  } else if (!replaying_ && !recorded_.empty()) {
    broken_ = true;
  }
}

void LaunchGraph::end() {
  if (!in_step_) return;
  in_step_ = false;
  if (replaying_ && pos_ == graph_.size()) {
    ops_.replay();
    ++counts_.replays;
    rebuilds_in_a_row_ = 0;
    return;
  }
  if (replaying_) diverge();  // fewer launches than the graph holds
  ++counts_.eager_steps;
  if (++rebuilds_in_a_row_ > kMaxRebuilds) {
    given_up_ = true;
    graph_.clear();
    ops_.discard();
    return;
  }
  // A step with a copy in it cannot be one graph; the graph stays for the next step.
  if (broken_ || recorded_.empty()) return;
  ops_.build(recorded_);
  graph_ = std::move(recorded_);
  recorded_.clear();
  ++counts_.builds;
}

void LaunchGraph::reset() {
  graph_.clear();
  recorded_.clear();
  in_step_ = replaying_ = broken_ = given_up_ = false;
  rebuilds_in_a_row_ = 0;
  ops_.discard();
}

}  // namespace mlcc
