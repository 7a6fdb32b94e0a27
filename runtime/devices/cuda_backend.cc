// The CUDA device of the model runtime: wraps CudaDevice (runtime/devices/cuda_device.h),
// JIT-loads the library's PTX module and launches its kernels with the grid and block the
// manifest's postfix extents give for each call's scalar arguments. Profiles time each
// launch between two events on the device's stream. Decode steps are replayed as CUDA graphs
// (launch_graph.h) unless MLCC_CUDA_GRAPHS=0.
#include <fmt/format.h>

#include <cstddef>
#include <cstdlib>
#include <vector>

#include "runtime/device.h"
#include "runtime/devices/cuda_device.h"
#include "runtime/devices/gpu_launch.h"
#include "runtime/error.h"
#include "runtime/library.h"

namespace mlcc {
namespace {

// The sm number in "-arch=sm_90" of a cuda target string, or 0 when it names none.
int target_sm(const std::string& target) {
  size_t at = target.find("-arch=sm_");
  if (at == std::string::npos) return 0;
  return std::atoi(target.c_str() + at + 9);
}

// LaunchGraph's operations on a CudaDevice: eager launches and one graph.
class CudaGraphOps final : public GraphOps {
 public:
  CudaGraphOps(CudaDevice& dev, const std::vector<CudaFunction>& fns) : dev_(dev), fns_(fns) {}
  ~CudaGraphOps() override { discard(); }

  void launch(const GraphLaunch& l) override {
    std::vector<void*>& p = params(l, params_);
    dev_.launch(fns_[l.kernel], l.dims.grid, l.dims.block, 0, p.data());
  }
  void build(const std::vector<GraphLaunch>& launches) override {
    discard();
    std::vector<std::vector<void*>> params(launches.size());
    std::vector<CudaDevice::GraphNode> nodes;
    for (size_t i = 0; i < launches.size(); ++i) nodes.push_back(node(launches[i], params[i]));
    graph_ = dev_.build_graph(nodes);
  }
  void update(size_t index, const GraphLaunch& l) override {
    dev_.update_graph_node(graph_, index, node(l, params_));
  }
  void replay() override { dev_.launch_graph(graph_); }
  void discard() override { dev_.destroy_graph(graph_); }

 private:
  // A pointer to each argument slot, as cuLaunchKernel and graph nodes take them.
  static std::vector<void*>& params(const GraphLaunch& l, std::vector<void*>& out) {
    out.clear();
    for (const uint64_t& a : l.args) out.push_back(const_cast<uint64_t*>(&a));
    return out;
  }
  CudaDevice::GraphNode node(const GraphLaunch& l, std::vector<void*>& storage) {
    return {&fns_[l.kernel], l.dims.grid, l.dims.block, params(l, storage).data()};
  }

  CudaDevice& dev_;
  const std::vector<CudaFunction>& fns_;
  CudaDevice::Graph graph_;
  std::vector<void*> params_;
};

class CudaBackend final : public GpuBackend<CudaDevice> {
 public:
  explicit CudaBackend(std::unique_ptr<CudaDevice> dev) : GpuBackend(std::move(dev)) {
    limits_.max_threads_per_block = dev_->info().max_threads_per_block;
    const char* env = std::getenv("MLCC_CUDA_GRAPHS");
    if (dev_->graphs_supported() && !(env != nullptr && std::string(env) == "0"))
      graph_ = &launch_graph_;
  }

  std::string name() const override {
    const CudaDeviceInfo& i = dev_->info();
    return fmt::format("cuda:{} ({}, sm_{}{})", i.ordinal, i.name, i.compute_major,
                       i.compute_minor);
  }
  std::string kind() const override { return "cuda"; }

  void load_kernels(const Library& lib) override {
    check_library_runs_on(lib, *this);
    const Manifest& m = lib.manifest();
    const CudaDeviceInfo& info = dev_->info();
    // PTX JIT-compiles for the same or a newer architecture only; say so before the
    // driver answers with a bare CUDA_ERROR_NO_BINARY_FOR_GPU.
    int sm = target_sm(m.target);
    int have = info.compute_major * 10 + info.compute_minor;
    if (sm > have)
      throw Error(fmt::format(
          "library '{}' was compiled for sm_{} (target '{}'), but {} has compute capability "
          "{}.{}; compile the model with -arch=sm_{}",
          lib.path(), sm, m.target, name(), info.compute_major, info.compute_minor, have));
    if (lib.ptx().empty() && !m.kernels.empty())
      throw Error("library '" + lib.path() + "' has an empty mlcc_library_ptx");
    launch_graph_.reset();
    fns_.clear();
    kernels_ = m.kernels;
    module_ = CudaModule();
    if (m.kernels.empty()) return;
    module_ = dev_->load_module(lib.ptx());
    for (const KernelInfo& k : kernels_) fns_.push_back(dev_->get_function(module_, k.name));
  }

  void launch(size_t kernel, std::span<void* const> buffers,
              std::span<const int64_t> scalars) override {
    MLCC_CHECK(kernel < fns_.size(), "cuda device: kernel index out of range");
    const KernelInfo& k = kernels_[kernel];
    // Each argument in an 8-byte slot: the device pointers, then the scalars at the width of
    // their PTX parameters (a 32-bit one in the slot's low bytes).
    GraphLaunch& l = call_;
    l.kernel = kernel;
    l.dims = eval_launch_dims(k, scalars, limits_, "cuda device");
    l.args.clear();
    for (void* b : buffers) l.args.push_back(reinterpret_cast<uintptr_t>(b));
    for (size_t s = 0; s < scalars.size(); ++s)
      l.args.push_back(k.scalar_bits[s] == 64 ? static_cast<uint64_t>(scalars[s])
                                              : static_cast<uint32_t>(scalar_to_32_bits(
                                                    scalars[s], s, k, "cuda device")));
    if (launch_graph_.in_step())
      launch_graph_.launch(l);
    else
      run_launch(kernel, [&] { ops_.launch(l); });
  }

 private:
  // Destroyed before GpuBackend's members: the module goes before the device does.
  CudaModule module_;
  std::vector<CudaFunction> fns_;
  CudaGraphOps ops_{*dev_, fns_};  // before launch_graph_, which uses it
  LaunchGraph launch_graph_{ops_};
  GraphLaunch call_;  // reused: its slots keep their capacity
};
}  // namespace

std::unique_ptr<Device> make_cuda_device(int ordinal) {
  try {
    return std::make_unique<CudaBackend>(CudaDevice::open(ordinal));
  } catch (const Error& e) {
    throw Error("cannot open device cuda:" + std::to_string(ordinal) + ": " + e.what());
  }
}

}  // namespace mlcc
