// Replays a repeated sequence of kernel launches — a decode step — as one device graph
// (a CUDA graph), so that the GPU runs the step's hundreds of kernels back to back instead
// of paying a launch gap for each. The backend-independent part lives here (and is tested
// without a GPU); a backend supplies the graph operations (GraphOps).
//
// The first step between begin() and end() runs eagerly and is recorded; end() builds a
// graph of it. Later steps defer their launches: a launch that matches the graph's launch at
// the same position (same kernel) only updates that node where its arguments or grid
// changed (decode changes the positions and the KV length each step, and little else), and
// end() launches the graph. A step that diverges (another kernel, more or fewer launches)
// launches what it deferred eagerly, in order, and is recorded for a new graph; a copy or
// sync in the middle of a step (flush()) does the same and that step builds no graph. After
// kMaxRebuilds graphs in a row that were never replayed, replay is given up: the sequence
// is not repeating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mlcc {

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

struct LaunchDims {
  Dim3 grid, block;
};

// One launch as a graph node holds it: the arguments in one 8-byte slot each (a 32-bit
// parameter in the slot's low bytes), so that a pointer to slot i is the i-th kernel
// parameter.
struct GraphLaunch {
  size_t kernel = 0;
  LaunchDims dims;
  std::vector<uint64_t> args;

  bool same_call(const GraphLaunch& o) const;  // dims and argument values equal too
};

// What a backend provides: eager launches and one graph it builds, updates and launches.
class GraphOps {
 public:
  virtual ~GraphOps() = default;
  virtual void launch(const GraphLaunch& l) = 0;
  // Replaces the graph with one of `launches`, each depending on the one before.
  virtual void build(const std::vector<GraphLaunch>& launches) = 0;
  // Node `index` of the built graph takes the arguments and grid of `l` (same kernel).
  virtual void update(size_t index, const GraphLaunch& l) = 0;
  virtual void replay() = 0;  // launches the graph
  virtual void discard() = 0;
};

class LaunchGraph {
 public:
  explicit LaunchGraph(GraphOps& ops) : ops_(ops) {}

  void begin();
  bool in_step() const { return in_step_; }
  void launch(GraphLaunch l);  // outside a step: eagerly
  // Work other than a launch must run after the launches so far: they go out eagerly.
  void flush();
  void end();
  // Forgets the graph (the backend discards its own): a new library's kernels.
  void reset();

  // What happened so far, for tests and the benchmark.
  struct Counts {
    int64_t builds = 0, replays = 0, updates = 0, eager_steps = 0;
  };
  const Counts& counts() const { return counts_; }
  bool given_up() const { return given_up_; }

  static constexpr int kMaxRebuilds = 4;

 private:
  // Launches the deferred graph launches [0, pos_) eagerly and records them: the step
  // continues without the graph.
  void diverge();

  GraphOps& ops_;
  std::vector<GraphLaunch> graph_;     // the launches the built graph holds, updated in place
  std::vector<GraphLaunch> recorded_;  // this step's launches when it is not replaying
  size_t pos_ = 0;
  bool in_step_ = false;
  bool replaying_ = false;  // this step matches graph_ up to pos_, launches deferred
  bool broken_ = false;     // this step had work other than launches: no graph of it
  int rebuilds_in_a_row_ = 0;
  bool given_up_ = false;
  Counts counts_;
};

}  // namespace mlcc
