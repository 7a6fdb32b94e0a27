// Launch extents, 32-bit scalars and per-launch timing shared by the GPU backends
// (gpu_launch.h).
#include "runtime/devices/gpu_launch.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/error.h"
#include "runtime/library.h"

namespace mlcc {
namespace {

// Launches timed at most before their events are read (a wait for the GPU) and recycled.
constexpr size_t kMaxPendingTimings = 4096;

}  // namespace

LaunchDims eval_launch_dims(const KernelInfo& k, std::span<const int64_t> scalars,
                            const LaunchLimits& limits, const std::string& who) {
  uint32_t grid[3], block[3];
  for (int a = 0; a < 3; ++a) {
    int64_t g = k.grid[a].eval(scalars), b = k.block[a].eval(scalars);
    if (g < 1 || g > limits.grid_max[a] || b < 1 || b > limits.max_threads_per_block)
      throw Error(fmt::format(
          "{}: kernel '{}' gets launch extents grid[{}] = {} = {} and block[{}] = {} = {} for "
          "scalars ({}); expected a grid in [1, {}] and a block in [1, {}]",
          who, k.name, a, k.grid[a].str(), g, a, k.block[a].str(), b, fmt::join(scalars, ", "),
          limits.grid_max[a], limits.max_threads_per_block));
    if (limits.max_threads_per_axis > 0 && g > limits.max_threads_per_axis / b)
      throw Error(fmt::format(
          "{}: kernel '{}' gets grid[{}] = {} blocks of block[{}] = {} threads for scalars "
          "({}): more than the {} threads a launch may have along one axis",
          who, k.name, a, g, a, b, fmt::join(scalars, ", "), limits.max_threads_per_axis));
    grid[a] = static_cast<uint32_t>(g);
    block[a] = static_cast<uint32_t>(b);
  }
  return {{grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}};
}

int32_t scalar_to_32_bits(int64_t value, size_t index, const KernelInfo& k,
                          const std::string& who) {
  if (value < INT32_MIN || value > UINT32_MAX)
    throw Error(fmt::format(
        "{}: scalar argument {} of kernel '{}' is {}, which does not fit its 32-bit parameter", who,
        index, k.name, value));
  return static_cast<int32_t>(static_cast<uint32_t>(value));
}

LaunchProfiler::~LaunchProfiler() {
  try {
    for (const Timed& t : pending_) {
      events_.destroy(t.start);
      events_.destroy(t.end);
    }
    for (void* e : pool_) events_.destroy(e);
  } catch (const Error&) {
    // A sticky error of the context: its release frees the events anyway.
  }
}

void LaunchProfiler::begin(size_t num_kernels) {
  read_timings();  // a profile started over forgets the last one's launches
  launches_.assign(num_kernels, 0);
  seconds_.assign(num_kernels, 0.0);
  active_ = true;
}

std::vector<KernelTiming> LaunchProfiler::end() {
  if (!active_) return {};
  read_timings();
  active_ = false;
  std::vector<KernelTiming> out;
  for (size_t k = 0; k < launches_.size(); ++k)
    if (launches_[k] > 0) out.push_back({k, launches_[k], seconds_[k]});
  return out;
}

void LaunchProfiler::launch_timed(size_t kernel, const std::function<void()>& launch) {
  if (pending_.size() >= kMaxPendingTimings) read_timings();
  Timed t{kernel, take_event(), nullptr};
  try {
    t.end = take_event();
    events_.record(t.start);
    launch();
    events_.record(t.end);
  } catch (...) {
    pool_.push_back(t.start);
    if (t.end != nullptr) pool_.push_back(t.end);
    throw;
  }
  pending_.push_back(t);
}

void* LaunchProfiler::take_event() {
  if (pool_.empty()) return events_.create();
  void* e = pool_.back();
  pool_.pop_back();
  return e;
}

void LaunchProfiler::read_timings() {
  size_t i = 0;
  try {
    for (; i < pending_.size(); ++i) {
      const Timed& t = pending_[i];
      float ms = events_.elapsed_ms(t.start, t.end);
      if (t.kernel >= launches_.size()) {
        launches_.resize(t.kernel + 1, 0);
        seconds_.resize(t.kernel + 1, 0.0);
      }
      ++launches_[t.kernel];
      seconds_[t.kernel] += static_cast<double>(ms) * 1e-3;
      pool_.push_back(t.start);
      pool_.push_back(t.end);
    }
  } catch (...) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(i));
    throw;
  }
  pending_.clear();
}

}  // namespace mlcc
