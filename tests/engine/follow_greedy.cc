// follow-greedy: checks that a model library on a device follows the CPU's greedy path.
// The CPU library generates greedily from BOS; the device library is fed the same tokens
// (teacher forcing) and must pick the same token at every step, with its logits within
// `--tolerance` (relative L2) of the CPU's. A different pick passes only as a near-tie: the
// CPU's logits of the two tokens within `--tie` times the CPU's largest logit. With f16
// activations two correct implementations round differently and differ by about 1e-3
// (relative), so a closer race has no right answer; f32 models keep --tie 0. Prints one line
// of figures (the near-ties: "near-ties: N"); exits 1 on a violation, naming the step and
// both picks' CPU logits.
//   follow-greedy CPU_LIB DEVICE_LIB MODEL_DIR --device D [--steps N] [--tolerance T]
//                 [--tie M]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/tensor_cache.h"
#include "tests/models/model_weights.h"

using namespace mlcc;

namespace {

int argmax(const std::vector<float>& v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Checks that a library on a device follows the CPU library's greedy path"};
  std::string cpu_lib, dev_lib, model_dir, device;
  int steps = 256;
  double tolerance = 1e-2, tie = 0;
  app.add_option("cpu_lib", cpu_lib)->required();
  app.add_option("device_lib", dev_lib)->required();
  app.add_option("model_dir", model_dir)->required();
  app.add_option("--device", device)->required();
  app.add_option("--steps", steps);
  app.add_option("--tolerance", tolerance);
  app.add_option("--tie", tie);
  CLI11_PARSE(app, argc, argv);
  try {
    auto cpu = Model::load(cpu_lib, "cpu");
    auto dev = Model::load(dev_lib, device);
    load_params(*cpu, model_dir);
    load_params(*dev, model_dir);
    std::vector<float> want = cpu->prefill({1}), got = dev->prefill({1});
    double worst = 0;
    std::string ties;
    int num_ties = 0;
    for (int step = 0; step < steps; ++step) {
      double err = testing::relative_error(got, want);
      worst = std::max(worst, err);
      int pick = argmax(want), dev_pick = argmax(got);
      const double gap = want[pick] - want[dev_pick];
      const bool near_tie = pick != dev_pick && gap <= tie * std::fabs(want[pick]);
      if (near_tie) {
        ++num_ties;
        char buf[96];
        std::snprintf(buf, sizeof buf, "%sstep %d (%d for %d, CPU logits %.6f and %.6f)",
                      ties.empty() ? "" : ", ", step, dev_pick, pick, want[dev_pick],
                      want[pick]);
        ties += buf;
      }
      if (err > tolerance || (pick != dev_pick && !near_tie)) {
        std::printf(
            "step %d: the device picks token %d, the CPU %d (CPU logits %.6f and %.6f); "
            "logits differ by %.3g (relative L2, tolerance %.3g)\n",
            step, dev_pick, pick, want[dev_pick], want[pick], err, tolerance);
        return 1;
      }
      want = cpu->decode(pick);
      got = dev->decode(pick);
    }
    std::printf(
        "%d steps on %s pick the CPU's tokens; largest logit difference %.3g (relative "
        "L2); near-ties: %d%s%s\n",
        steps, dev->device().name().c_str(), worst, num_ties, num_ties > 0 ? ": " : "",
        ties.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "follow-greedy: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
