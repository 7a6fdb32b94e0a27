// mlcc-cuda-run: runs a kernel bundle (tools/kernel_bundle.h) on a CUDA GPU
// with the runtime alone (no LLVM), checks each kernel against the
// interpreter's expected outputs and, for benchmark entries, times it and
// prints GB/s beside the measured copy bandwidth.
//
//   mlcc-cuda-run BUNDLE_DIR [--repeat N]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ir/half.h"
#include "runtime/devices/cuda_device.h"
#include "runtime/error.h"
#include "tools/kernel_bundle.h"

using namespace mlcc;

namespace {

struct Timer {
  CudaDevice& dev;
  void* start = dev.create_event();
  void* stop = dev.create_event();
  ~Timer() {
    dev.destroy_event(start);
    dev.destroy_event(stop);
  }
};

// Median milliseconds per call of fn(i): `repeat` samples, each `batch`
// back-to-back calls between two events. Batches keep the launch latency of an
// idle stream out of kernel times (a decode step launches its kernels back to
// back too).
template <typename F>
double median_ms(CudaDevice& dev, int repeat, F fn, int batch = 1) {
  Timer t{dev};
  for (int i = 0; i < 3; ++i) fn(i);  // warm up: module load, caches, clocks
  std::vector<double> ms;
  int call = 0;
  for (int i = 0; i < repeat; ++i) {
    dev.record_event(t.start);
    for (int b = 0; b < batch; ++b) fn(call++);
    dev.record_event(t.stop);
    ms.push_back(dev.elapsed_ms(t.start, t.stop) / batch);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Device-to-device copy bandwidth, counting bytes read plus bytes written.
double copy_bandwidth_gbs(CudaDevice& dev) {
  const size_t bytes = size_t{1} << 30;
  void* a = dev.alloc(bytes);
  void* b = dev.alloc(bytes);
  dev.memset(a, 0x3c, bytes);
  double ms = median_ms(dev, 20, [&](int) { dev.copy_device_to_device(b, a, bytes); });
  dev.free(a);
  dev.free(b);
  dev.release_cached();
  return 2.0 * bytes / (ms * 1e-3) / 1e9;
}

// Host data for an argument: a file of the bundle, or "@random" for fresh
// random values of the argument's dtype (uniform in [-1, 1) for floats, random
// bits for integers), which keeps benchmark bundles small.
std::vector<uint8_t> argument_data(const std::string& dir, const bundle::Arg& a, uint64_t seed) {
  if (a.input != "@random") return bundle::read_file(dir + "/" + a.input);
  std::vector<uint8_t> host(static_cast<size_t>(a.bytes));
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  auto uniform = [&] { return static_cast<float>(next() >> 40) / float(1 << 24) * 2.0f - 1.0f; };
  if (a.dtype == "f16") {
    auto* p = reinterpret_cast<uint16_t*>(host.data());
    for (size_t i = 0; i < host.size() / 2; ++i) p[i] = float_to_half(uniform());
  } else if (a.dtype == "f32") {
    auto* p = reinterpret_cast<float*>(host.data());
    for (size_t i = 0; i < host.size() / 4; ++i) p[i] = uniform();
  } else {
    for (size_t i = 0; i < host.size(); i += 8) {
      uint64_t v = next();
      std::memcpy(&host[i], &v, std::min<size_t>(8, host.size() - i));
    }
  }
  return host;
}

struct Result {
  std::string name, shape, error = "-", status = "-", time = "-", gbs = "-";
};

constexpr int kBatch = 20;  // launches per timed sample

Result run_kernel(CudaDevice& dev, const CudaModule& mod, const std::string& dir,
                  const bundle::Kernel& k, int repeat, double l2_bytes) {
  Result r{k.name, k.shape};
  CudaFunction fn = dev.get_function(mod, k.function);
  // Rotated arguments get enough copies that one pass over all of them exceeds
  // 4x L2.
  int64_t rotated_bytes = 0;
  for (const auto& a : k.args)
    if (a.rotate) rotated_bytes += a.bytes;
  int copies = rotated_bytes > 0 ? static_cast<int>(std::ceil(4 * l2_bytes / rotated_bytes)) : 1;
  copies = std::max(copies, 1);

  std::vector<std::vector<void*>> ptrs(k.args.size());
  for (size_t i = 0; i < k.args.size(); ++i) {
    const auto& a = k.args[i];
    int n = a.rotate ? copies : 1;
    for (int c = 0; c < n; ++c) {
      std::vector<uint8_t> host;
      if (!a.input.empty() && (c == 0 || a.input == "@random"))
        host = argument_data(dir, a, i * 1000 + c);
      void* p = dev.alloc(static_cast<size_t>(a.bytes));
      if (!host.empty())
        dev.copy_to_device(p, host.data(), host.size());
      else
        dev.memset(p, 0xff,
                   static_cast<size_t>(a.bytes));  // poison: NaN in f16/f32
      ptrs[i].push_back(p);
    }
  }
  std::vector<int64_t> scalar_storage(k.scalars.begin(), k.scalars.end());
  std::vector<int32_t> scalar32(k.scalars.begin(), k.scalars.end());
  auto launch = [&](int iteration) {
    std::vector<void*> params;
    for (auto& copies_of_arg : ptrs)
      params.push_back(&copies_of_arg[iteration % copies_of_arg.size()]);
    for (size_t s = 0; s < k.scalars.size(); ++s)
      params.push_back(k.scalar_types[s] == "i64" ? static_cast<void*>(&scalar_storage[s])
                                                  : static_cast<void*>(&scalar32[s]));
    Dim3 grid{uint32_t(k.grid[0]), uint32_t(k.grid[1]), uint32_t(k.grid[2])};
    Dim3 block{uint32_t(k.block[0]), uint32_t(k.block[1]), uint32_t(k.block[2])};
    dev.launch(fn, grid, block, static_cast<uint32_t>(k.shared_bytes), params.data());
  };

  launch(0);
  dev.synchronize();
  double worst = 0;
  bool checked = false;
  for (size_t i = 0; i < k.args.size(); ++i) {
    if (k.args[i].expected.empty()) continue;
    std::vector<uint8_t> ref = bundle::read_file(dir + "/" + k.args[i].expected);
    std::vector<uint8_t> out(ref.size());
    dev.copy_to_host(out.data(), ptrs[i][0], out.size());
    double err = bundle::relative_error(k.args[i].dtype, out.data(), ref.data(), out.size());
    worst = std::isnan(err) ? err : std::max(worst, err);
    checked = true;
  }
  if (checked) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2e", worst);
    r.error = buf;
    r.status = (!std::isnan(worst) && worst < k.tolerance) ? "PASS" : "FAIL";
  }
  if (k.bench) {
    double ms = median_ms(dev, repeat, launch, kBatch);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f us", ms * 1e3);
    r.time = buf;
    std::snprintf(buf, sizeof buf, "%.0f", k.bytes_moved / (ms * 1e-3) / 1e9);
    r.gbs = buf;
  }
  for (auto& v : ptrs)
    for (void* p : v) dev.free(p);
  dev.release_cached();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::printf(
        "usage: mlcc-cuda-run BUNDLE_DIR [--repeat N]\n"
        "Runs the kernels of a bundle written by the compiler on CUDA "
        "device 0,\n"
        "compares outputs with the bundle's expected values and times "
        "benchmarks.\n");
    return argc < 2 ? 2 : 0;
  }
  std::string dir = argv[1];
  int repeat = 100;
  for (int i = 2; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--repeat") repeat = std::stoi(argv[++i]);
  try {
    bundle::Bundle b = bundle::read_bundle(dir);
    auto dev = CudaDevice::open(0);
    const auto& info = dev->info();
    std::printf("device: %s (sm_%d%d, %d SMs, L2 %.0f MB)\n", info.name.c_str(), info.compute_major,
                info.compute_minor, info.sm_count, info.l2_bytes / 1e6);
    std::vector<uint8_t> ptx = bundle::read_file(dir + "/" + b.ptx_file);
    CudaModule mod = dev->load_module(std::string(ptx.begin(), ptx.end()));
    bool any_bench =
        std::any_of(b.kernels.begin(), b.kernels.end(), [](auto& k) { return k.bench; });
    double copy_gbs = any_bench ? copy_bandwidth_gbs(*dev) : 0;
    if (any_bench) std::printf("device-to-device copy: %.0f GB/s (read + write)\n", copy_gbs);

    std::vector<Result> results;
    int failed = 0;
    for (const auto& k : b.kernels) {
      results.push_back(run_kernel(*dev, mod, dir, k, repeat, static_cast<double>(info.l2_bytes)));
      if (results.back().status == "FAIL") ++failed;
    }
    std::printf(
        "\n| kernel | shape | rel. error | pass | time | GB/s | %% of "
        "copy |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (const auto& r : results) {
      std::string pct = "-";
      if (r.gbs != "-" && copy_gbs > 0) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * std::stod(r.gbs) / copy_gbs);
        pct = buf;
      }
      std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.name.c_str(), r.shape.c_str(),
                  r.error.c_str(), r.status.c_str(), r.time.c_str(), r.gbs.c_str(), pct.c_str());
    }
    long passed = std::count_if(results.begin(), results.end(),
                                [](const Result& r) { return r.status == "PASS"; });
    std::printf("\n%ld passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mlcc-cuda-run: %s\n", e.what());
    return 1;
  }
}
