// Tests of LaunchGraph (runtime/devices/launch_graph.h), the replay of repeated decode steps
// as one graph, on a fake device that executes launches and graphs into a log: whatever
// LaunchGraph defers, builds, updates or replays, the device must execute exactly the
// launches each step made, in order, with that step's arguments.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "runtime/devices/launch_graph.h"

namespace {

using mlcc::GraphLaunch;
using mlcc::LaunchGraph;

// (kernel, first argument, grid x) of an executed launch.
struct Executed {
  size_t kernel;
  uint64_t arg;
  uint32_t grid;
  bool operator==(const Executed&) const = default;
};

class FakeOps final : public mlcc::GraphOps {
 public:
  void launch(const GraphLaunch& l) override {
    log.push_back(as_executed(l));
    ++eager;
  }
  void build(const std::vector<GraphLaunch>& launches) override {
    graph.clear();
    for (const GraphLaunch& l : launches) graph.push_back(as_executed(l));
  }
  void update(size_t index, const GraphLaunch& l) override {
    REQUIRE(index < graph.size());
    REQUIRE(graph[index].kernel == l.kernel);  // a node never changes its kernel
    graph[index] = as_executed(l);
  }
  void replay() override {
    REQUIRE_FALSE(graph.empty());
    log.insert(log.end(), graph.begin(), graph.end());
    ++replays;
  }
  void discard() override { graph.clear(); }

  std::vector<Executed> log;
  std::vector<Executed> graph;
  int eager = 0, replays = 0;

 private:
  static Executed as_executed(const GraphLaunch& l) {
    return {l.kernel, l.args.at(0), l.dims.grid.x};
  }
};

GraphLaunch call(size_t kernel, uint64_t arg, uint32_t grid = 1) {
  GraphLaunch l;
  l.kernel = kernel;
  l.dims.grid.x = grid;
  l.args = {arg, 7};
  return l;
}

// A decode step at position `pos`: kernel 1 takes the position and its grid grows with it,
// kernels 0 and 2 take constants.
std::vector<GraphLaunch> decode_step(uint64_t pos) {
  return {call(0, 100), call(1, pos, static_cast<uint32_t>(1 + pos / 4)), call(2, 200)};
}

std::vector<Executed> expected(const std::vector<GraphLaunch>& step) {
  std::vector<Executed> e;
  for (const GraphLaunch& l : step) e.push_back({l.kernel, l.args[0], l.dims.grid.x});
  return e;
}

// Runs one step through `g` and checks that the device executed exactly its launches.
void run_step(LaunchGraph& g, FakeOps& ops, const std::vector<GraphLaunch>& step) {
  ops.log.clear();
  g.begin();
  for (const GraphLaunch& l : step) g.launch(l);
  g.end();
  CHECK(ops.log == expected(step));
}

}  // namespace

TEST_CASE("launch graph: the first step runs eagerly, later ones replay with updates",
          "[runtime][graph]") {
  FakeOps ops;
  LaunchGraph g(ops);
  run_step(g, ops, decode_step(0));
  CHECK(ops.eager == 3);
  CHECK(g.counts().builds == 1);
  for (uint64_t pos = 1; pos < 10; ++pos) run_step(g, ops, decode_step(pos));
  CHECK(ops.eager == 3);  // nothing eager after the first step
  CHECK(ops.replays == 9);
  CHECK(g.counts().replays == 9);
  CHECK(g.counts().updates == 9);  // only kernel 1's node, once per step
  CHECK(g.counts().builds == 1);
}

TEST_CASE("launch graph: a step that diverges launches in order and rebuilds", "[runtime][graph]") {
  FakeOps ops;
  LaunchGraph g(ops);
  run_step(g, ops, decode_step(0));
  // Another kernel in the middle: the deferred prefix goes out first.
  run_step(g, ops, {call(0, 100), call(3, 1), call(2, 200)});
  CHECK(g.counts().builds == 2);
  // One launch more than the graph holds, then one fewer.
  run_step(g, ops, {call(0, 100), call(3, 1), call(2, 200), call(4, 5)});
  run_step(g, ops, {call(0, 100), call(3, 1)});
  CHECK(g.counts().builds == 4);
  // The last sequence now replays.
  int replays = ops.replays;
  run_step(g, ops, {call(0, 100), call(3, 2)});
  CHECK(ops.replays == replays + 1);
}

TEST_CASE("launch graph: a copy inside a step flushes the deferred launches", "[runtime][graph]") {
  FakeOps ops;
  LaunchGraph g(ops);
  run_step(g, ops, decode_step(0));
  ops.log.clear();
  g.begin();
  g.launch(call(0, 100));
  g.launch(call(1, 4, 2));
  g.flush();  // e.g. a copy that reads what kernel 1 wrote
  CHECK(ops.log == expected({call(0, 100), call(1, 4, 2)}));
  g.launch(call(2, 200));
  g.end();
  CHECK(ops.log == expected(decode_step(4)));
  CHECK(g.counts().builds == 1);  // no graph of a step with a copy in it
  // The graph from the first step still replays.
  run_step(g, ops, decode_step(5));
  CHECK(g.counts().replays == 1);
  // A flush before any launch costs nothing.
  ops.log.clear();
  g.begin();
  g.flush();
  for (const GraphLaunch& l : decode_step(6)) g.launch(l);
  g.end();
  CHECK(ops.log == expected(decode_step(6)));
  CHECK(g.counts().replays == 2);
}

TEST_CASE("launch graph: a sequence that never repeats is given up", "[runtime][graph]") {
  FakeOps ops;
  LaunchGraph g(ops);
  for (size_t i = 0; i <= LaunchGraph::kMaxRebuilds + 2; ++i) {
    std::vector<GraphLaunch> step;
    for (size_t k = 0; k <= i; ++k) step.push_back(call(k, k));  // one launch longer each time
    run_step(g, ops, step);
  }
  CHECK(g.given_up());
  CHECK(g.counts().builds == LaunchGraph::kMaxRebuilds);
  CHECK_FALSE(g.in_step());  // begin() no longer starts a step: the backend launches eagerly
  g.begin();
  CHECK_FALSE(g.in_step());
  // reset() (a new library) tries again.
  g.reset();
  run_step(g, ops, decode_step(0));
  run_step(g, ops, decode_step(1));
  CHECK(g.counts().replays == 1);
}
